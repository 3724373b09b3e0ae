"""Job kinds used only by the job-engine tests: a controllable workload run by real worker processes.

Plugged in through SLMOPS_STAGE_PLUGINS=tests.support.stages (the engine's stage plugin mechanism)."""

from __future__ import annotations

import json
import time

from pydantic import Field

from slmops_engine.errors import DataError
from slmops_engine.stages.base import Issue, Reporter, StageConfig

STAGES = {"test_steps": "tests.support.stages"}

KIND = "test_steps"
TITLE = "Counting steps"
HEAVY = False
RESUMABLE = True


class Config(StageConfig):
    steps: int = Field(5, ge=1, le=100_000, description="How many steps to run.")
    step_seconds: float = Field(0.05, ge=0, le=60, description="Sleep per step.")
    fail_at: int | None = Field(None, description="Raise a DataError at this step.")
    ignore_cancel: bool = Field(False, description="Never check for cancel (forces SIGTERM/SIGKILL).")
    block_sigterm: bool = Field(False, description="Ignore SIGTERM too (forces SIGKILL).")


def preflight(config: Config) -> list[Issue]:
    if config.fail_at is not None and config.fail_at > config.steps:
        return [Issue(title="fail_at is after the last step", detail="Lower fail_at.")]
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
        if config.ignore_cancel:
            reporter.progress_value = step / config.steps
        else:
            reporter.progress(step / config.steps, f"step {step}/{config.steps}")
    return {"steps": config.steps, "started_at_step": start}
