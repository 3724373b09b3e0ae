"""The Evaluate page's evaluation in flight: one progress card per variant (refreshed every 2 s), Cancel, and
Retry for one that failed or was cancelled (it resumes: answers already made are kept)."""

from __future__ import annotations

import streamlit as st

from slmops_engine.jobs import get_job, job_state
from slmops_engine.models import Job, JobStatus

from .feedback import show_failure
from .jobs import cancel_button, cancel_or_retry, progress_text, run_header, run_progress

STATUS_ICON = {
    "queued": ":material/schedule:",
    "running": ":material/sync:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
}


def _variant_cards(job_id: int) -> None:
    cards = job_state(job_id).get("targets") or {}
    cols = st.columns(min(max(len(cards), 1), 4))
    for i, card in enumerate(cards.values()):
        with cols[i % len(cols)], st.container(border=True):
            total = max(int(card.get("total") or 0), 1)
            done = int(card.get("done") or 0)
            st.markdown(f"{STATUS_ICON.get(card.get('status'), '')} **{card['name']}**")
            st.progress(min(done / total, 1.0), text=f"{done} / {card.get('total', 0)}")
            if card.get("error"):
                st.caption(f":red[{card['error']}]")


def _panel(job_id: int) -> None:
    job = get_job(job_id)
    watch = "_evaluate_watching"
    if st.session_state.get(watch) == job_id and job.status.finished:
        st.session_state.pop(watch)
        st.rerun(scope="app")  # the evaluation just ended: its results replace this card
    if not job.status.finished:
        st.session_state[watch] = job_id

    def actions() -> None:
        if not job.status.finished:
            stopping = job.cancel_requested_at is not None
            if cancel_button(job.id, stopping, key=f"eval_cancel_{job.id}", help="Answers made so far are kept."):
                cancel_or_retry("cancel", job.id)
        elif st.button("Retry", key=f"eval_retry_{job.id}", icon=":material/replay:", help="Resumes where it stopped."):
            cancel_or_retry("retry", job.id)

    with st.container(border=True):
        run_header(job, actions)
        run_progress(job, progress_text(job))
        if job.status == JobStatus.failed:
            show_failure(job.error_label, job.error_hint, job.error_detail)
        elif job.status == JobStatus.cancelled:
            st.warning("Cancelled. **Retry** resumes it: answers already made are not made again.")
        _variant_cards(job.id)


_live = st.fragment(_panel, run_every="2s")


def job_panel(job: Job | None) -> None:
    """The newest evaluation while it runs, or when it failed or was cancelled."""
    if job is None:
        return
    st.subheader("Evaluation in progress" if not job.status.finished else "Last evaluation")
    (_live if not job.status.finished else _panel)(job.id)
