"""The Deploy page's list of deployments, live: status, endpoint and model id, health, requests and latency over
time, Stop / Restart / Remove, and copy-paste snippets."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.models import Deployment, DeploymentStatus
from slmops_engine.serving.deployments import events, list_deployments, remove, restart, stop

from .feedback import flash, show_error, show_failure
from .format import ago
from .live import follow

BADGE = {
    DeploymentStatus.deploying: ("Starting", "blue", ":material/hourglass_top:"),
    DeploymentStatus.running: ("Running", "green", ":material/check_circle:"),
    DeploymentStatus.stopping: ("Stopping", "orange", ":material/hourglass_bottom:"),
    DeploymentStatus.stopped: ("Stopped", "gray", ":material/stop_circle:"),
    DeploymentStatus.failed: ("Failed", "red", ":material/error:"),
}


def snippets(d: Deployment) -> tuple[str, str]:
    """curl and Python `openai` examples for this deployment."""
    body = json.dumps({"model": d.model_id, "messages": [{"role": "user", "content": "Hello!"}], "stream": False})
    curl = f"curl {d.endpoint}/chat/completions \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"
    python = (
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{d.endpoint}", api_key="not-needed")\n'
        "stream = client.chat.completions.create(\n"
        f'    model="{d.model_id}",\n'
        '    messages=[{"role": "user", "content": "Hello!"}],\n'
        "    stream=True,\n)\n"
        "for chunk in stream:\n"
        '    print(chunk.choices[0].delta.content or "", end="")\n'
    )
    return curl, python


def _chart(d: Deployment) -> None:
    rows = events(d.id)
    if not rows:
        st.caption("No requests yet: the health probe and the Chat page's requests appear here.")
        return
    fig = go.Figure()
    for kind, name, color in (("chat", "chat requests", "#2563eb"), ("probe", "health probe", "#94a3b8")):
        pts = [e for e in rows if e.kind == kind]
        if pts:
            fig.add_scatter(
                x=[e.ts for e in pts],
                y=[e.latency_ms for e in pts],
                mode="markers+lines" if kind == "probe" else "markers",
                name=name,
                marker={"color": [color if e.ok else "#dc2626" for e in pts]},
                line={"color": color},
            )
    fig.update_layout(height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="latency (ms)")
    st.plotly_chart(fig, key=f"dep_latency_{d.id}", config={"displayModeBar": False})
    failed = sum(not e.ok for e in rows)
    st.caption(f"{len(rows)} requests and probes shown; {failed} failed (red).")


def _act(action: str, dep_id: int) -> None:
    try:
        {"stop": stop, "restart": restart, "remove": remove}[action](dep_id)
    except SlmopsError as exc:
        show_error(exc)
        return
    flash({"stop": "Stopping", "restart": "Restarting", "remove": "Removed"}[action] + f" deployment #{dep_id}.")
    st.rerun()


def _card(d: Deployment) -> None:
    label, color, icon = BADGE[d.status]
    with st.container(border=True):
        c1, c2 = st.columns([3, 2])
        c1.markdown(f"**#{d.id} {d.name}**  \n:{color}-badge[{icon} {label}] &nbsp; model id `{d.model_id}`")
        health = "—"
        if d.last_probe_ms is not None:
            state = "answers" if d.last_probe_ok else "does not answer"
            health = f"{state} in {d.last_probe_ms:,.0f} ms ({ago(d.last_probe_at)})"
        c2.markdown(f"Health: {health}  \nRequests from the app: **{d.requests}**")
        if d.status == DeploymentStatus.failed:
            show_failure(d.error_label, d.error_hint)
        # Only while it runs: the next start may be on another port (when another program holds the configured one).
        live = bool(d.endpoint) and d.status == DeploymentStatus.running
        if live:
            st.markdown(f"Endpoint (OpenAI-compatible): `{d.endpoint}`")
        b1, b2, b3, _ = st.columns([1, 1, 1, 3])
        if b1.button("Stop", key=f"dep_stop_{d.id}", icon=":material/stop:", disabled=not d.status.active):
            _act("stop", d.id)
        if b2.button("Restart", key=f"dep_restart_{d.id}", icon=":material/restart_alt:"):
            _act("restart", d.id)
        if b3.button("Remove", key=f"dep_remove_{d.id}", icon=":material/delete:", help="Stop and forget it."):
            _act("remove", d.id)
        if live:
            with st.expander("Use it from your code", icon=":material/code:"):
                curl, python = snippets(d)
                st.code(curl, language="bash")
                st.code(python, language="python")
        with st.expander("Latency over time", icon=":material/monitoring:"):
            _chart(d)


def deployments_panel(project_id: int) -> None:
    """Live while a deployment is being placed or stopped; drawn once otherwise."""
    moving = (DeploymentStatus.deploying, DeploymentStatus.stopping)
    follow(lambda: _deployments(project_id), lambda: any(d.status in moving for d in list_deployments(project_id)))


def _deployments(project_id: int) -> None:
    rows = list_deployments(project_id)
    st.subheader("Deployments")
    if not rows:
        st.caption("Nothing deployed yet.")
        return
    for d in rows[::-1]:
        _card(d)
