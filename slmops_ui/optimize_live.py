"""The Optimize page's conversions in flight (refreshed every 2 s) and the ones that failed, with Cancel and Retry."""

from __future__ import annotations

import streamlit as st

from slmops_engine.jobs import get_job
from slmops_engine.models import Job, JobStatus

from .feedback import show_failure
from .format import ago
from .jobs import cancel_button, cancel_or_retry, progress_text, run_progress, status_badge


def _actions(job: Job) -> None:
    if not job.status.finished:
        stopping = job.cancel_requested_at is not None
        help_text = "Stops this conversion; nothing half-built is kept."
        if cancel_button(job.id, stopping, key=f"optimize_cancel_{job.id}", help=help_text):
            cancel_or_retry("cancel", job.id)
    elif st.button("Retry", key=f"optimize_retry_{job.id}", icon=":material/replay:", help="Runs it again."):
        cancel_or_retry("retry", job.id)


def _card(job: Job) -> None:
    with st.container(border=True):
        head, act = st.columns([5, 1], vertical_alignment="center")
        with head:
            st.markdown(f"**#{job.id} · {job.title}**")
            status_badge(job)
            st.caption(f"submitted {ago(job.created_at)}" + (f" · attempt {job.attempt}" if job.attempt > 1 else ""))
        with act:
            _actions(job)
        run_progress(job, progress_text(job))
        if job.status == JobStatus.failed:
            show_failure(job.error_label, job.error_hint, job.error_detail)
        elif job.status == JobStatus.cancelled:
            st.warning("Cancelled. **Retry** converts it again.", icon=":material/pause_circle:")


def _panel(job_ids: list[int]) -> None:
    jobs = [get_job(i) for i in job_ids]
    watch = "_optimize_watching"
    watching = set(st.session_state.get(watch, ()))
    running = {j.id for j in jobs if not j.status.finished}
    st.session_state[watch] = sorted(running)
    if watching - running:
        st.rerun(scope="app")  # a conversion just ended: its model joins the comparison
    for job in jobs:
        _card(job)


_live = st.fragment(_panel, run_every="2s")
_still = st.fragment(_panel)


def jobs_panel(jobs: list[Job]) -> None:
    """One card per conversion that needs attention: live while any of them is queued or running."""
    if not jobs:
        st.session_state.pop("_optimize_watching", None)
        return
    st.subheader("Conversions")
    ids = [j.id for j in jobs]
    (_live if any(not j.status.finished for j in jobs) else _still)(ids)
