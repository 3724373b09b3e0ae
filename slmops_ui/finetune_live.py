"""The Fine-tune page's view of a training run: live curves, progress, speed and memory, Cancel and Resume."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.finetune.views import (
    LOSS_NAMES,
    accuracy_note,
    first_value,
    last_checkpoint_step,
    latest_values,
    step_of,
    too_few_to_judge,
)
from slmops_engine.jobs import cancel_job, get_job, job_metrics, retry_job, run_dir
from slmops_engine.models import Job, JobStatus, MetricPoint

from .feedback import show_error, show_failure
from .format import compact_duration, elapsed, human_duration
from .jobs import cancel_button, run_header, run_progress

COLORS = {"loss": "#2563eb", "eval_loss": "#dc2626", "ce_loss": "#0891b2", "kl_loss": "#9333ea"}


def _recover(action: str, job_id: int) -> None:
    try:
        cancel_job(job_id) if action == "cancel" else retry_job(job_id)
    except SlmopsError as exc:
        show_error(exc)
        return
    st.rerun(scope="app")  # a resumed run needs the live view again


def _actions(job: Job, checkpoint: int | None) -> None:
    if not job.status.finished:
        stopping = job.cancel_requested_at is not None
        help_text = "Stops at the end of the current step and keeps a checkpoint: Resume continues from it later."
        if cancel_button(job.id, stopping, key=f"finetune_cancel_{job.id}", help=help_text):
            _recover("cancel", job.id)
    elif job.status in (JobStatus.failed, JobStatus.cancelled):
        where = f"step {checkpoint}" if checkpoint else "the start (no checkpoint was kept yet)"
        if st.button(
            "Resume",
            key=f"finetune_resume_{job.id}",
            icon=":material/replay:",
            help=f"Continues from {where}; the curves carry on where they stopped.",
        ):
            _recover("retry", job.id)


def _numbers(job: Job, points: list[MetricPoint]) -> None:
    latest = latest_values(points)
    result = job.result or {}
    running = job.status == JobStatus.running
    parsed = step_of(job.message)
    if parsed:
        step = f"{parsed[0]:,} / {parsed[1]:,}"
    elif result.get("steps") or points:
        step = f"{result.get('steps') or max(p.step for p in points):,}"
    else:
        step = "—"
    speed = result.get("tokens_per_s") if not running else latest.get("tokens_per_s")
    # Finished: the run's process at its peak (loading, training, merging, saving), as the estimate counts it.
    peak = result.get("peak_rss_bytes")
    ram = (peak / 1024**3 if peak else result.get("peak_rss_gb")) if not running else latest.get("ram_gb")
    start, now = first_value(points, "eval_loss"), latest.get("eval_loss")
    c = st.columns(5)
    c[0].metric("Step", step, help="Training steps done (of all the run will take).")
    if running:
        c[1].metric("Time left", human_duration(job.eta_seconds) or "—", help="Estimated from the speed so far.")
    else:
        # The job's own start to end, the same span the estimate is set against.
        took = elapsed(job.started_at, job.finished_at) if job.started_at else result.get("seconds")
        c[1].metric("Took", compact_duration(took) or "—", help=human_duration(took) or None)
    c[2].metric("Tokens per second", f"{speed:,.0f}" if speed else "—", help="Training tokens (not padding) a second.")
    c[3].metric(
        "Memory" if running else "Peak memory",
        f"{ram:.2f} GB" if ram else "—",
        help="RAM the training process uses." if running else "The most RAM the run's process held, start to end.",
    )
    c[4].metric(
        "Validation loss",
        f"{now:.3f}" if now is not None else "—",
        delta=f"{now - start:+.3f}" if now is not None and start is not None and now != start else None,
        delta_color="inverse",
        help="Loss on the validation examples, which the student never trains on: lower is better. "
        "The change is since the start of the run.",
    )


def _curves(job_id: int, points: list[MetricPoint], total: int | None) -> None:
    series: dict[str, tuple[list[int], list[float]]] = {}
    for p in points:
        xs, ys = series.setdefault(p.name, ([], []))
        xs.append(p.step)
        ys.append(p.value)
    if not any(n in series for n in LOSS_NAMES):
        st.caption("The curves appear after the first training steps.")
        return
    left, right = st.columns([3, 2])
    loss = go.Figure()
    for name, label in LOSS_NAMES.items():
        if name in series:
            xs, ys = series[name]
            mode = "lines+markers" if name == "eval_loss" or len(xs) < 40 else "lines"
            loss.add_trace(go.Scatter(x=xs, y=ys, name=label, mode=mode, line={"color": COLORS[name]}))
    # While running, the x axis spans the whole run: the curves fill it in as training goes.
    steps = {"xaxis_title": "step", "xaxis_range": [-0.02 * total, 1.02 * total] if total else None, "height": 300}
    loss.update_layout(title="Loss (lower is better)", legend_title_text="", **steps)
    loss.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.25})
    left.plotly_chart(loss, key=f"finetune_loss_{job_id}", config={"displayModeBar": False})
    if "learning_rate" in series:
        xs, ys = series["learning_rate"]
        lr = go.Figure(go.Scatter(x=xs, y=ys, name="learning rate", mode="lines", line={"color": "#16a34a"}))
        lr.update_layout(title="Learning rate", yaxis_tickformat=".1e", **steps)
        lr.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
        right.plotly_chart(lr, key=f"finetune_lr_{job_id}", config={"displayModeBar": False})
    st.caption(
        "**Training loss**: how far the student is from the answers it learns from. **Validation loss**: the same "
        "on examples it never trains on — the one to watch. If it rises while training loss keeps falling, the "
        "student is memorising: fewer passes or early stopping help."
    )


def _outcome(job: Job, checkpoint: int | None) -> None:
    result = job.result or {}
    if job.status == JobStatus.succeeded:
        start, end = result.get("eval_loss_start"), result.get("eval_loss_end")
        text = f"Done in {result.get('steps', '?')} steps."
        if start and end is not None:
            change = (start - end) / start
            verdict = f"{change:.0%} lower" if change > 0 else "no better — try more passes or a higher learning rate"
            text = f"Done: validation loss {start:.3f} → {end:.3f} ({verdict}) in {result.get('steps', '?')} steps."
            text += too_few_to_judge(result)
        if accuracy_note(result):
            text += f" The student's {accuracy_note(result)}."
        st.success(text + " The new model is listed under **Fine-tuned models**.", icon=":material/check_circle:")
        return
    kept = (
        f"The checkpoint of step {checkpoint} was kept: **Resume** continues from it, and the curves carry on."
        if checkpoint
        else "No checkpoint was kept yet: **Resume** starts the training again."
    )
    if job.status == JobStatus.failed:
        show_failure(job.error_label, job.error_hint, job.error_detail)
        st.caption(kept)
    elif job.status == JobStatus.cancelled:
        st.warning(f"Cancelled. {kept}", icon=":material/pause_circle:")


def _panel(job_id: int) -> None:
    job = get_job(job_id)
    watch = f"_finetune_watching_{job_id}"
    if not job.status.finished:
        st.session_state[watch] = True
    elif st.session_state.pop(watch, False):
        st.rerun(scope="app")  # the run just ended: the results list its model
    points = job_metrics(job_id)
    checkpoint = last_checkpoint_step(run_dir(job_id)) if job.status.finished else None
    with st.container(border=True):
        run_header(job, lambda: _actions(job, checkpoint))
        frac = min(max(job.progress, 0.0), 1.0)
        run_progress(job, f"{frac:.0%} · {job.message}" if job.message else f"{frac:.0%}")
        if points or job.status == JobStatus.running:
            _numbers(job, points)
            at = step_of(job.message) if job.status == JobStatus.running else None
            _curves(job_id, points, at[1] if at else None)
        _outcome(job, checkpoint)


_live = st.fragment(_panel, run_every="2s")
_still = st.fragment(_panel)


def run_panel(job_id: int, finished: bool) -> None:
    """The latest run's card: refreshed every 2 s while it is queued or running, drawn once when it has ended."""
    (_still if finished else _live)(job_id)
