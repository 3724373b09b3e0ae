"""The Fine-tune page's search: what to vary, the budget and the objective; the trials live (a table, the objective
by trial, a parallel-coordinates view of the settings), the best setting, and a longer run of it."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.fields import titles
from slmops_engine.jobs import get_job, submit_job
from slmops_engine.models import Dataset, JobStatus, Project
from slmops_engine.overview import latest_job
from slmops_engine.students import StudentChoice
from slmops_engine.sweep.config import OBJECTIVES, SPACE_LABELS, SPACES, SweepConfig
from slmops_engine.sweep.views import best_of, longer_run, trials_of

from .feedback import flash, show_error, show_failure
from .fields import field_widget
from .jobs import run_header, run_progress
from .launch import start_button

STATE_NAMES = {"complete": "finished", "pruned": "stopped early", "fail": "failed", "running": "running"}


def search_tab(project: Project, student: StudentChoice, datasets: list[Dataset]) -> None:
    st.caption(
        "Not sure which settings suit your data? A search trains the student several times, each with other "
        "settings, stops the clearly worse ones early, and keeps the best. Each trial is an ordinary fine-tuning "
        "run (one at a time on this machine, side by side on a Ray cluster)."
    )
    job = latest_job("sweep", project.id)
    busy = job is not None and not job.status.finished
    if job is not None:
        (_still if job.status.finished else _live)(job.id)
    if busy:
        return
    with st.container(border=True):
        st.markdown("**New search**")
        cfg = _settings(project, student, datasets)
        start_button(
            kind="sweep",
            cfg=cfg,
            project_id=project.id,
            title=f"Search for the best settings ({cfg.trials} trials)" if cfg else "",
            label="Start the search",
            key="sweep_start",
            blocked=cfg is None,
            busy=busy,
            started="Search #{job.id} started. Its trials appear below as they run.",
        )


def _settings(project: Project, student: StudentChoice, datasets: list[Dataset]) -> SweepConfig | None:
    k = f"sweep_{project.id}"
    ids = [d.id for d in datasets]
    names = {d.id: f"#{d.id} {d.name}" for d in datasets}
    title = titles(SweepConfig)
    c1, c2 = st.columns(2)
    ds = c1.selectbox(title["dataset_id"], ids, format_func=names.__getitem__, key=f"{k}_data")
    # The space is a preset's name or a whole dict, no plain choice: its options are the presets.
    space = c2.radio(title["space"], list(SPACES), format_func=SPACE_LABELS.__getitem__, key=f"{k}_space")
    c3, c4, c5 = st.columns(3)
    trials = field_widget(SweepConfig, "trials", key=f"{k}_trials", container=c3)
    limit = field_widget(SweepConfig, "time_limit_minutes", key=f"{k}_limit", container=c4)
    objective = field_widget(
        SweepConfig, "objective", key=f"{k}_goal", container=c5, format_func=OBJECTIVES.__getitem__
    )
    try:
        return SweepConfig(
            dataset_id=ds,
            student=student,
            project_id=project.id,
            space=space,
            trials=int(trials),
            time_limit_minutes=float(limit),
            objective=objective,
        )
    except (ValueError, SlmopsError) as exc:
        st.error(str(exc))
        return None


def _panel(job_id: int) -> None:
    job = get_job(job_id)
    rows = trials_of(job)
    objective = job.config.get("objective", "eval_loss")
    with st.container(border=True):
        run_header(job, lambda: None)
        run_progress(job, f"{job.progress:.0%} · {job.message}" if job.message else f"{job.progress:.0%}")
        if job.status == JobStatus.failed:
            show_failure(job.error_label, job.error_hint, job.error_detail)
        if not rows:
            st.caption("The first trial is starting.")
            return
        best = best_of(rows, objective)
        if best is not None:
            what = OBJECTIVES[objective].split(" (")[0].lower()
            label = "Best" if job.status.finished else "Best so far"
            st.success(
                f"**{label}: trial {best['trial']}** — {what} {best['value']:.4f} with "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in best["params"].items()),
                icon=":material/emoji_events:",
            )
        _table(rows)
        left, right = st.columns(2)
        with left:
            _by_trial(job_id, rows, objective)
        with right:
            _coordinates(job_id, rows, objective)
        if job.status == JobStatus.succeeded and best is not None:
            _train_longer(job, best)


_live = st.fragment(_panel, run_every="3s")
_still = st.fragment(_panel)


def _fmt(v) -> str:
    """Rates in one notation ('3.03e-06', '2.31e-02'), whole and larger numbers as they are."""
    if isinstance(v, float):
        return f"{v:.2e}" if v < 1 else f"{v:g}"
    return str(v)


def _table(rows: list[dict]) -> None:
    names = sorted({k for r in rows for k in r["params"]})
    table = pd.DataFrame(
        [
            {
                "Trial": r["trial"],
                "Outcome": STATE_NAMES.get(r["state"], r["state"]),
                "Value": f"{r['value']:.4f}" if r["value"] is not None else "—",
                **{n: _fmt(r["params"][n]) if n in r["params"] else "—" for n in names},
                "Run": f"#{r['job_id']}" if r.get("job_id") else "—",
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _by_trial(job_id: int, rows: list[dict], objective: str) -> None:
    done = [r for r in rows if r["value"] is not None]
    if len(done) < 2:
        return
    pick = min if objective == "eval_loss" else max
    best, line = None, []
    for r in done:
        best = r["value"] if best is None else pick(best, r["value"])
        line.append(best)
    fig = go.Figure()
    for state, color in (("complete", "#2563eb"), ("pruned", "#9ca3af")):
        pts = [r for r in done if r["state"] == state]
        fig.add_trace(
            go.Scatter(
                x=[r["trial"] for r in pts],
                y=[r["value"] for r in pts],
                mode="markers",
                name=STATE_NAMES[state],
                marker={"color": color, "size": 9},
            )
        )
    fig.add_trace(go.Scatter(x=[r["trial"] for r in done], y=line, mode="lines", name="best so far"))
    fig.update_layout(
        title=OBJECTIVES[objective],
        xaxis_title="trial",
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.3},
    )
    st.plotly_chart(fig, key=f"sweep_by_trial_{job_id}", config={"displayModeBar": False})


def _coordinates(job_id: int, rows: list[dict], objective: str) -> None:
    done = [r for r in rows if r["state"] == "complete" and r["value"] is not None]
    names = sorted({k for r in done for k in r["params"]})
    if len(done) < 2 or not names:
        return
    shared = [n for n in names if all(n in r["params"] for r in done)]
    dims = [{"label": n, "values": [float(r["params"][n]) for r in done]} for n in shared]
    dims.append({"label": "value", "values": [r["value"] for r in done]})
    lower_is_better = objective == "eval_loss"  # the best trials drawn darkest
    fig = go.Figure(
        go.Parcoords(
            line={"color": [r["value"] for r in done], "colorscale": "Blues_r" if lower_is_better else "Blues"},
            dimensions=dims,
        )
    )
    fig.update_layout(
        title={"text": "Settings of the finished trials", "y": 0.98},
        height=320,
        margin={"l": 40, "r": 40, "t": 90, "b": 10},
    )
    st.plotly_chart(fig, key=f"sweep_coords_{job_id}", config={"displayModeBar": False})


def _train_longer(job, best: dict) -> None:
    values = longer_run(job, best)
    how = f"{values['max_steps']} steps" if values.get("max_steps") else f"{values['epochs']:g} passes"
    if st.button(
        "Train the best setting longer",
        key=f"sweep_longer_{job.id}",
        icon=":material/trending_up:",
        help=f"A full fine-tuning run with trial {best['trial']}'s settings, for {how}.",
    ):
        try:
            run = submit_job("finetune", values, project_id=job.project_id, title=f"Best of search #{job.id}, longer")
        except SlmopsError as exc:
            show_error(exc)
            return
        flash(f"Run #{run.id} started with trial {best['trial']}'s settings, for {how}.", "info")
        st.rerun(scope="app")
