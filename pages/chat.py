"""Chat: talk to a deployed model through its real endpoint, or to two side by side."""

from __future__ import annotations

import streamlit as st

from slmops_engine.models import DeploymentStatus
from slmops_engine.serving.deployments import list_deployments
from slmops_ui import chat_view
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Chat")
st.caption(
    "Ask a deployed model anything: it answers through Foundry Local's OpenAI-compatible endpoint, exactly as your "
    "own code would reach it. **Compare** sends the same message to two deployments side by side."
)

running = [d for d in list_deployments(project.id) if d.status == DeploymentStatus.running]
if not running:
    st.info("**No deployment is running.** Deploy a model (or restart one) on the Deploy page.", icon=":material/chat:")
    link_to("deploy", "Go to Deploy")
    st.stop()

by_id = {d.id: d for d in running}
names = {d.id: f"#{d.id} {d.name}" for d in running}
c1, c2 = st.columns([3, 1])
first = c1.selectbox("Deployment", list(by_id), format_func=names.__getitem__, key=f"chat_{project.id}_a")
compare = c2.toggle(
    "Compare", key=f"chat_{project.id}_compare", disabled=len(running) < 2, help="Needs two running deployments."
)
deps = [by_id[first]]
if compare and len(running) > 1:
    others = [i for i in by_id if i != first]
    deps.append(by_id[st.selectbox("Compare with", others, format_func=names.__getitem__, key=f"chat_{project.id}_b")])

with st.expander("Settings", icon=":material/tune:"):
    system = st.text_area("System prompt", "", key=f"chat_{project.id}_system", placeholder="Optional instructions")
    s1, s2 = st.columns(2)
    temperature = s1.slider(
        "Temperature", 0.0, 2.0, float(deps[0].generation.get("temperature", 0.2)), 0.05, key=f"chat_{project.id}_t"
    )
    max_tokens = s2.number_input("Max tokens", 1, 4096, 256, key=f"chat_{project.id}_max")

turns = chat_view.history(f"chat_{project.id}_" + "_".join(str(d.id) for d in deps))
chat_view.show_turns(turns, deps)
prompt = st.chat_input("Message", key=f"chat_{project.id}_input")
if prompt:
    chat_view.answer_turn(prompt, deps, turns, system, {"temperature": temperature, "max_tokens": int(max_tokens)})
if turns:
    b1, b2, _ = st.columns([1, 1, 3])
    if b1.button("Clear", icon=":material/delete_sweep:", key="chat_clear"):
        turns.clear()
        st.rerun()
    b2.download_button(
        "Download",
        chat_view.export(turns, deps, system),
        file_name="conversation.json",
        mime="application/json",
        icon=":material/download:",
        key="chat_download",
    )
