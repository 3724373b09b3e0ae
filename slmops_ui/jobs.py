"""Job widgets: the sidebar monitor, a live progress line for one job, and the full job card of the Jobs page."""

from __future__ import annotations

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import cancel_job, get_job, job_log, job_metrics, retry_job
from slmops_engine.jobs.estimates import outcome
from slmops_engine.jobs.supervisor import supervisor_pid
from slmops_engine.models import Job, JobStatus
from slmops_engine.overview import active_jobs, monitored_jobs

from .feedback import show_error, show_failure
from .format import STATUS_STYLE, ago, elapsed, human_duration
from .job_charts import kind_name, metrics_figure
from .live import LIVE, follow
from .nav import page_for

_NOTICE = "_job_notices"


def progress_text(job: Job) -> str:
    """'42% · step 2/5 · about 1 min 10 s left'."""
    parts = [f"{job.progress:.0%}"]
    if job.message:
        parts.append(job.message)
    if job.status == JobStatus.running and (job.eta_seconds or 0) >= 1:
        parts.append(f"about {human_duration(job.eta_seconds)} left")
    return " · ".join(parts)


def status_badge(job: Job) -> None:
    label, color, icon = STATUS_STYLE[job.status]
    if job.status == JobStatus.running and job.cancel_requested_at is not None:
        label, color = "Stopping", "orange"
    st.badge(label, color=color, icon=icon)


def job_monitor() -> None:
    """Sidebar: jobs in flight on this machine, refreshed every 2 s from the database while there are any."""
    follow(_monitor, lambda: bool(active_jobs()))


def _monitor() -> None:
    jobs = monitored_jobs()
    st.markdown("**Jobs in progress**")
    if not jobs:
        st.caption("Nothing running.")
    elif any(j.status == JobStatus.queued for j in jobs) and supervisor_pid() is None:
        st.warning("Jobs are waiting: the job runner is not running. Reload the page, or run `slmops worker`.")
    for job in jobs:
        st.caption(f"#{job.id} {job.title}")
        if job.status == JobStatus.queued:
            st.progress(0.0, text="Queued — waiting for a free slot")
        else:
            st.progress(min(max(job.progress, 0.0), 1.0), text=progress_text(job))
    jobs_page = page_for("jobs")
    if jobs_page:
        st.page_link(jobs_page.path, label="All jobs", icon=jobs_page.icon)


def live_job(job_id: int) -> None:
    """One job's progress, refreshed every 2 s while it runs; reruns the whole page once when a job it watched
    finishes, so whatever the job produced appears."""
    (_job_outcome if get_job(job_id).status.finished else _live_job)(job_id)


def _job_progress(job_id: int) -> None:
    job = get_job(job_id)
    watch_key = f"_watching_job_{job_id}"
    if not job.status.finished:
        st.session_state[watch_key] = True
        st.progress(min(max(job.progress, 0.0), 1.0), text=f"{job.title}: {progress_text(job)}")
        return
    if st.session_state.pop(watch_key, False):
        st.rerun(scope="app")
    if job.status == JobStatus.failed:
        show_failure(job.error_label, job.error_hint, job.error_detail)
    elif job.status == JobStatus.cancelled:
        st.warning(f"{job.title} was cancelled.")


_live_job = st.fragment(_job_progress, run_every=LIVE)
_job_outcome = st.fragment(_job_progress)


def _act(action: str, job_id: int) -> None:
    """Button callback: cancel or retry, with the outcome shown on the job's card."""
    try:
        job = cancel_job(job_id) if action == "cancel" else retry_job(job_id)
    except SlmopsError as exc:
        st.session_state.setdefault(_NOTICE, {})[job_id] = ("error", f"{exc.message} {exc.hint}".strip())
        return
    text = {
        "cancel": "Cancelled." if job.status == JobStatus.cancelled else "Asked the job to stop.",
        "retry": "Queued again" + (" — it continues from its last checkpoint." if job.resumable else "."),
    }[action]
    st.session_state.setdefault(_NOTICE, {})[job_id] = ("success", text)


def _metrics_chart(job: Job) -> None:
    fig = metrics_figure(job_metrics(job.id), job.kind)
    if fig is not None:
        st.plotly_chart(fig, key=f"job_metrics_{job.id}", config={"displayModeBar": False})


def job_card(job: Job) -> None:
    """Everything about one job: status, progress, ETA, error with hint, actions, metrics chart and log."""
    with st.container(border=True):
        head, actions = st.columns([5, 2], vertical_alignment="center")
        with head:
            st.markdown(f"**#{job.id} · {job.title}**")
            status_badge(job)
            by = f" by {job.created_by}" if job.created_by else ""
            when = [kind_name(job.kind), f"created {ago(job.created_at)}{by}"]
            if job.attempt > 1:
                when.append(f"attempt {job.attempt}")
            if job.started_at:
                took = human_duration(elapsed(job.started_at, job.finished_at))
                when.append(f"{'ran' if job.finished_at else 'running for'} {took}")
            st.caption(" · ".join(when))
        with actions:
            if not job.status.finished:
                stopping = job.cancel_requested_at is not None
                st.button(
                    "Stopping…" if stopping else "Cancel",
                    key=f"cancel_{job.id}",
                    disabled=stopping,
                    on_click=_act,
                    args=("cancel", job.id),
                    icon=":material/stop_circle:",
                )
            elif job.status in (JobStatus.failed, JobStatus.cancelled):
                st.button(
                    "Retry", key=f"retry_{job.id}", on_click=_act, args=("retry", job.id), icon=":material/replay:"
                )
        level, text = st.session_state.get(_NOTICE, {}).pop(job.id, (None, ""))
        if level:
            getattr(st, level)(text)
        if job.status == JobStatus.running:
            st.progress(min(max(job.progress, 0.0), 1.0), text=progress_text(job))
        elif job.status == JobStatus.failed:
            show_failure(job.error_label, job.error_hint, job.error_detail)
        elif job.message:
            st.caption(job.message)
        if took := outcome(job):
            st.caption(f":material/timer: {took}")
        _metrics_chart(job)
        log = job_log(job.id)
        if log:
            with st.expander("Log (last lines)"):
                st.code(log[-8000:], language=None)


def run_header(job: Job, actions) -> None:
    """The top of a stage page's run card: title, status, when, and the page's own buttons on the right."""
    head, act = st.columns([5, 1], vertical_alignment="center")
    with head:
        st.markdown(f"**Latest run · #{job.id} {job.title}**")
        status_badge(job)
        when = [f"submitted {ago(job.created_at)}"] + ([f"attempt {job.attempt}"] if job.attempt > 1 else [])
        st.caption(" · ".join(when))
        if took := outcome(job):
            st.caption(f":material/timer: {took}")
    with act:
        actions()


def run_progress(job: Job, text: str, fraction: float | None = None) -> None:
    """Queued: an empty bar that says so; running: the bar (the job's progress unless a page counts it from the
    same snapshot as its counters) with the given text."""
    if job.status == JobStatus.queued:
        st.progress(0.0, text="Queued — waiting for the job runner")
    elif job.status == JobStatus.running:
        st.progress(min(max(job.progress if fraction is None else fraction, 0.0), 1.0), text=text)


def cancel_button(job_id: int, stopping: bool, *, key: str, help: str | None = None) -> bool:
    """Cancel, or a disabled 'Stopping…' once asked; True when pressed."""
    return st.button(
        "Stopping…" if stopping else "Cancel", key=key, disabled=stopping, icon=":material/stop_circle:", help=help
    )


def cancel_or_retry(action: str, job_id: int) -> None:
    """A stage page's Cancel / Retry: the outcome shows on the whole page (an error says why it could not)."""
    try:
        cancel_job(job_id) if action == "cancel" else retry_job(job_id)
    except SlmopsError as exc:
        show_error(exc)
        return
    st.rerun(scope="app")
