"""Pipeline: the stages of a chain run one after another as ordinary jobs; a retry resumes at the first stage
that did not succeed (a failed stage is retried, so it resumes from its own checkpoint or cache)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..pipeline.spec import PipelineConfig
from ..pipeline.state import STATE_FILE
from ..stage_api import Issue, Reporter, Stage

POLL_SECONDS = 1.0

Config = PipelineConfig


def needs(config: PipelineConfig):
    """It only waits for its steps, each of which asks for what it needs as its own job."""
    from ..jobs.needs import Needs

    return Needs(cpus=0.0)


def preflight(config: PipelineConfig) -> list[Issue]:
    return []  # each stage's own preflight runs when the stage is submitted, with the results before it


def _wait(job_id: int, reporter: Reporter, step: int, total: int, name: str) -> None:
    from ..errors import JobCancelled
    from ..jobs import cancel_job, get_job

    while True:
        job = get_job(job_id)
        if job.status.finished:
            return
        try:
            reporter.progress((step + job.progress) / total, f"{step + 1}/{total} {name}: {job.message}")
        except JobCancelled:
            cancel_job(job_id)  # the running stage stops with the chain
            raise
        time.sleep(POLL_SECONDS)


def run(config: PipelineConfig, reporter: Reporter) -> dict:
    from ..errors import SlmopsError
    from ..jobs import get_job, retry_job, submit_job
    from ..models import JobStatus
    from ..pipeline.inline_steps import INLINE_STEPS
    from ..pipeline.spec import resolve

    state_file = (reporter.run_dir or Path(".")) / STATE_FILE
    state = json.loads(state_file.read_text()) if state_file.exists() else {"jobs": {}, "results": {}}
    total = len(config.steps)
    for i, step in enumerate(config.steps):
        if step.name in state["results"]:
            continue  # done in an earlier attempt
        if step.kind in INLINE_STEPS:
            reporter.progress(i / total, f"{i + 1}/{total} {step.name}")
            state["results"][step.name] = INLINE_STEPS[step.kind](
                resolve(step.config, state["results"]), config.project_id
            )
        else:
            job_id = state["jobs"].get(step.name)
            if job_id is not None and get_job(job_id).status != JobStatus.succeeded:
                retry_job(job_id)  # the stage resumes from its own checkpoint or cache
            elif job_id is None:
                cfg = resolve(step.config, state["results"])
                job_id = submit_job(
                    step.kind, cfg, project_id=config.project_id, title=f"{config.name}: {step.name}"
                ).id
                state["jobs"][step.name] = job_id
                state_file.write_text(json.dumps(state))
            _wait(job_id, reporter, i, total, step.name)
            job = get_job(job_id)
            if job.status != JobStatus.succeeded:
                raise SlmopsError(
                    f"Step '{step.name}' {job.status.value}: {job.error_label or ''}".strip(),
                    (job.error_hint or "") + " Retry the pipeline to resume at this step.",
                )
            state["results"][step.name] = job.result or {}
        state_file.write_text(json.dumps(state))
    last_eval = next((state["results"][s.name] for s in reversed(config.steps) if s.kind == "evaluate"), None)
    if config.out and last_eval:
        Path(config.out).write_text(Path(last_eval["evaluation_path"]).read_text(encoding="utf-8"), encoding="utf-8")
    reporter.progress(1.0, f"All {total} steps done")
    return {"steps": {s.name: state["jobs"].get(s.name) for s in config.steps}, "results": state["results"]}


STAGE = Stage(
    kind="pipeline",
    title="Run the lifecycle",
    config=Config,
    run=run,
    heavy=False,  # it only waits: its stages take the machine, each as its own job
    resumable=True,
    preflight=preflight,
    needs=needs,
)
