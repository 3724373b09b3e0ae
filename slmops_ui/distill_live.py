"""The Distill page's view of a teacher run: live counters, failures by kind, fresh answers, Cancel and Retry."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from slmops_engine.data import get_dataset
from slmops_engine.errors import SlmopsError
from slmops_engine.jobs import cancel_job, get_job, job_state, retry_job
from slmops_engine.models import JobStatus
from slmops_engine.synth.views import failure_rows, run_numbers, saved_for_run
from slmops_engine.teachers import PRESETS, Provider, TeacherConfig

from .feedback import show_error, show_failure
from .format import elapsed, human_duration
from .jobs import cancel_button, run_header, run_progress
from .nav import page_for

SELECT_REVIEW = "_distill_select_review"  # a dataset the Review tab selects on its next run (just made)
TABS_KEY = "distill_tab"
ASK_TAB, REVIEW_TAB = "1 · Ask the teacher", "2 · Review the answers"


def open_review(dataset_id: int | None = None) -> None:
    """Switch to the Review tab on the next run (a callback), showing this dataset."""
    st.session_state[TABS_KEY] = REVIEW_TAB
    if dataset_id is not None:
        st.session_state[SELECT_REVIEW] = dataset_id


def teacher_card(teacher: TeacherConfig | None) -> None:
    """Who answers, with the way to change it."""
    models = page_for("models")
    with st.container(border=True):
        if teacher is None:
            st.warning(
                "**No teacher chosen yet.** The teacher is the model that writes the answers the student learns "
                "from: an endpoint such as Azure OpenAI or Ollama, or the bundled offline model.",
                icon=":material/school:",
            )
        elif teacher.provider == Provider.local:
            st.markdown(f"**Teacher:** {PRESETS[teacher.provider].label} · `{teacher.local_path}`")
        else:
            st.markdown(f"**Teacher:** {teacher.model} at `{teacher.base_url}` ({PRESETS[teacher.provider].label})")
        if models:
            label = "Choose the teacher on Models" if teacher is None else "Change the teacher on Models"
            st.page_link(models.path, label=label, icon=models.icon)


def _recover(action: str, job_id: int) -> None:
    try:
        if action == "cancel":
            cancel_job(job_id)
        else:
            retry_job(job_id)  # a resumable job: it continues from the cached answers
    except SlmopsError as exc:
        show_error(exc)
        return
    st.rerun(scope="app")  # a retried run needs the live view again


def _actions(job_id: int, status: JobStatus, stopping: bool) -> None:
    if not status.finished:
        help_text = "Answers received so far stay saved; Retry later continues from there."
        if cancel_button(job_id, stopping, key=f"distill_cancel_{job_id}", help=help_text):
            _recover("cancel", job_id)
    elif status in (JobStatus.failed, JobStatus.cancelled):
        retry = st.button(
            "Retry",
            key=f"distill_retry_{job_id}",
            icon=":material/replay:",
            help="Continues the run: answers already received are not asked (or paid for) again.",
        )
        if retry:
            _recover("retry", job_id)


def _counters(numbers: dict, running: bool, eta: float | None, took: float | None, priced: bool, got: int) -> None:
    total, cached = numbers["total"], numbers["cached"]
    tokens = numbers["prompt_tokens"] + numbers["completion_tokens"]
    c = st.columns(5)
    c[0].metric("Answered", f"{got:,} / {total:,}", help="Answers received, of all the answers asked for.")
    rate = numbers["answers_per_min"]
    c[1].metric("Speed", f"{rate:,.0f} / min" if rate >= 100 else f"{rate:.1f} / min", help="New answers per minute.")
    if running:
        c[2].metric("Time left", human_duration(eta) or "—", help="Estimated from the speed so far.")
    else:
        c[2].metric("Took", human_duration(took) or "—")
    c[3].metric(
        "Tokens used",
        f"{tokens:,}",
        help=f"{numbers['prompt_tokens']:,} in prompts · {numbers['completion_tokens']:,} in answers",
    )
    if priced:
        c[4].metric("Estimated cost", f"${numbers['cost']:,.4f}", help="From the prices in the run's settings.")
    else:
        c[4].metric("Estimated cost", "—", help="No token prices were set for this run (free, or unknown).")
    notes = []
    if cached:
        notes.append(f"{cached:,} answers reused from earlier runs (not asked or paid for again)")
    failed = sum((numbers.get("failed") or {}).values())
    if failed:
        notes.append(f"{failed:,} prompts got no answer after every retry")
    if notes:
        st.caption(" · ".join(notes) + ".")


def _failures(job_id: int, numbers: dict, failed_run: bool) -> None:
    rows = failure_rows(numbers)
    if not rows:
        if not failed_run:  # a run stopped by one fatal error (a wrong key) has no retry counts to show
            st.caption(":material/check: No failed or retried requests.")
        return
    fig = px.bar(
        pd.DataFrame(rows),
        x="kind",
        y="count",
        color="what",
        barmode="group",
        height=220,
        labels={"kind": "", "count": "requests", "what": ""},
        color_discrete_map={"gave up": "#dc2626", "retried": "#f59e0b"},
        title="Failed and retried requests, by cause",
    )
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, key=f"distill_failures_{job_id}", config={"displayModeBar": False})


def _dataset_name(dataset_id: int | None) -> str:
    if not dataset_id:
        return ""
    try:
        return f" “{get_dataset(int(dataset_id)).name}”"
    except SlmopsError:
        return ""  # deleted since: the counts still stand


def _outcome(job, numbers: dict, kept: int) -> None:
    if job.status == JobStatus.succeeded:
        name = _dataset_name(numbers.get("dataset_id"))
        st.success(
            f"Done: {numbers['answered'] + numbers['cached']:,} answers in the new dataset{name}. "
            "Check them before the student learns from them.",
            icon=":material/check_circle:",
        )
        if st.button(
            "Review the answers",
            key=f"distill_open_review_{job.id}",
            icon=":material/fact_check:",
            on_click=open_review,
            args=(numbers.get("dataset_id"),),
        ):
            st.rerun(scope="app")  # the tabs live outside this fragment
    elif job.status == JobStatus.failed:
        show_failure(job.error_label, job.error_hint, job.error_detail)
        fix = "If a setting was wrong (model name, key, URL), fix it on Models and start a new run below."
        if kept:
            st.caption(
                f"Retry continues where the run stopped, with the same settings: the {kept:,} answers already "
                f"received are saved and are not asked (or paid for) again. {fix}"
            )
        else:
            st.caption(f"Retry asks again with the same settings. {fix}")
    elif job.status == JobStatus.cancelled:
        st.warning(
            f"Cancelled. Retry continues where it stopped: the {kept:,} answers already received are reused, "
            "not paid for again."
        )


@st.cache_data(max_entries=8, show_spinner=False)
def _saved(job_id: int, attempt: int, finished_at: str) -> int:
    # Counting needs the prompts read again: once per ended attempt is enough.
    return saved_for_run(get_job(job_id))


def _bar(job, numbers: dict, got: int) -> None:
    """One count for the bar and the counters beside it: the answers in hand, from the same snapshot."""
    if not numbers["total"]:
        frac = min(max(job.progress, 0.0), 1.0)
        run_progress(job, f"{frac:.0%}" + (f" · {job.message}" if job.message else ""))
    elif numbers.get("loading"):
        run_progress(job, "Loading the teacher model on this machine; answers start once it is loaded", 0.0)
    else:
        frac = min(got / numbers["total"], 1.0)
        run_progress(job, f"{frac:.0%} · {got:,} of {numbers['total']:,} answers", frac)


def _panel(job_id: int) -> None:
    job = get_job(job_id)
    state = job_state(job_id)
    numbers = run_numbers(job, state)
    watch = f"_distill_watching_{job_id}"
    if not job.status.finished:
        st.session_state[watch] = True
    elif st.session_state.pop(watch, False):
        if numbers.get("dataset_id"):
            st.session_state[SELECT_REVIEW] = int(numbers["dataset_id"])
        st.rerun(scope="app")  # the run just ended: the Review tab lists its dataset
    got = numbers["answered"] + numbers["cached"]
    if job.status in (JobStatus.failed, JobStatus.cancelled):
        got = max(got, _saved(job.id, job.attempt, str(job.finished_at)))  # counters can lag behind an error
    with st.container(border=True):
        run_header(job, lambda: _actions(job.id, job.status, job.cancel_requested_at is not None))
        _bar(job, numbers, got)
        if numbers["total"]:
            took = elapsed(job.started_at, job.finished_at)
            priced = bool(job.config.get("price_input_per_1k") or job.config.get("price_output_per_1k"))
            _counters(numbers, job.status == JobStatus.running, job.eta_seconds, took, priced, got)
            _failures(job.id, numbers, job.status == JobStatus.failed)
        _outcome(job, numbers, got)
        recent = state.get("recent") or []
        if recent and not job.status.finished:
            st.markdown("**Fresh answers**")
            st.dataframe(
                pd.DataFrame(recent)[["prompt", "answer"]],
                hide_index=True,
                width="stretch",
                column_config={"prompt": "Prompt", "answer": "Teacher's answer"},
            )


_live = st.fragment(_panel, run_every="2s")
_still = st.fragment(_panel)


def run_panel(job_id: int, finished: bool) -> None:
    """The run's card: refreshed every 2 s while it is queued or running, drawn once when it has ended."""
    (_still if finished else _live)(job_id)
