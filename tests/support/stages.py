"""Job kinds used only by the job-engine tests: a controllable workload run by real worker processes.

Plugged in through SLMOPS_STAGE_PLUGINS=tests.support.stages (the engine's stage plugin mechanism).

A test that must act on a job while it still runs (cancel it, kill its worker, adopt it) sets ``hold_at``: the job
stops after that step until the test calls ``release(job_id)``, however slow or fast the machine is. ``wait_held``
waits until it holds."""

from __future__ import annotations

import json
import time

from pydantic import Field

from slmops_engine.errors import DataError
from slmops_engine.stage_api import Issue, Reporter, Stage, StageConfig

STAGES = {"test_steps": "tests.support.stages"}

RELEASE = "release"  # in the job's run folder: a held job goes on once this file exists
HELD = "held"  # in the job's run folder: written when the job starts holding (its content: the step)
HOLD_POLL_SECONDS = 0.02


class Config(StageConfig):
    steps: int = Field(5, ge=1, le=100_000, description="How many steps to run.")
    step_seconds: float = Field(0.05, ge=0, le=60, description="Sleep per step.")
    fail_at: int | None = Field(None, description="Raise a DataError at this step.")
    ignore_cancel: bool = Field(False, description="Never check for cancel (forces SIGTERM/SIGKILL).")
    block_sigterm: bool = Field(False, description="Ignore SIGTERM too (forces SIGKILL).")
    hold_at: int | None = Field(
        None, ge=1, description="After this step (metric and checkpoint written), wait until the test releases it."
    )


def preflight(config: Config) -> list[Issue]:
    if config.fail_at is not None and config.fail_at > config.steps:
        return [Issue(title="fail_at is after the last step", detail="Lower fail_at.")]
    if config.hold_at is not None and config.hold_at > config.steps:
        return [Issue(title="hold_at is after the last step", detail="Lower hold_at.")]
    return []


def run(config: Config, reporter: Reporter) -> dict:
    if config.block_sigterm:
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = reporter.run_dir / "state.json"
    start = json.loads(state.read_text())["step"] if reporter.resuming and state.exists() else 0
    for step in range(start + 1, config.steps + 1):
        if config.fail_at == step:
            raise DataError(f"Row {step} is malformed", "Fix the row and retry.")
        time.sleep(config.step_seconds)
        reporter.metric("loss", 1.0 / step, step)
        tmp = state.with_suffix(".tmp")  # a checkpoint, written atomically: a kill -9 never leaves half of it
        tmp.write_text(json.dumps({"step": step}))
        tmp.replace(state)
        _report(config, reporter, step)
        if config.hold_at == step:
            _hold(config, reporter, step)
    return {"steps": config.steps, "started_at_step": start}


def _report(config: Config, reporter: Reporter, step: int, note: str = "") -> None:
    if config.ignore_cancel:
        reporter.progress_value = step / config.steps
    else:  # notices a cooperative Cancel (JobCancelled)
        reporter.progress(step / config.steps, f"step {step}/{config.steps}{note}")


def _hold(config: Config, reporter: Reporter, step: int) -> None:
    """Wait for the test's release, reporting progress meanwhile so that a cooperative Cancel still ends the job."""
    (reporter.run_dir / HELD).write_text(str(step))
    while not (reporter.run_dir / RELEASE).exists():
        time.sleep(HOLD_POLL_SECONDS)
        _report(config, reporter, step, " (held)")


STAGE = Stage(kind="test_steps", title="Counting steps", config=Config, run=run, resumable=True, preflight=preflight)


# -- what the tests call ---------------------------------------------------------------------------------------------


def release(job_id: int) -> None:
    """Let job `job_id` go on past its hold_at step (harmless when it does not hold, or has ended). A retried job
    reuses its run folder, so a released hold stays released: the retry does not hold again."""
    from slmops_engine.jobs import run_dir

    folder = run_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RELEASE).touch()


def wait_held(job_id: int, timeout: float = 120.0) -> None:
    """Wait until job `job_id` holds at its hold_at step (the first time: the marker stays for a retry); fails at
    once when the job ended instead."""
    from slmops_engine.jobs import get_job, run_dir

    marker = run_dir(job_id) / HELD
    deadline = time.monotonic() + timeout
    while not marker.exists():
        job = get_job(job_id)
        if job.status.finished and not marker.exists():
            raise AssertionError(f"job {job_id} ended ({job.status.value}: {job.error_label}) before it held")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not reach its hold within {timeout:.0f} s ({job.status.value})")
        time.sleep(0.05)
