"""Run a submitted job from the command line: here and now when no supervisor runs, else wait for it."""

from __future__ import annotations

import logging
import sys
import time

from ..models import Job, JobStatus


def run_or_wait(job: Job, what: str) -> Job:
    """Print progress lines to stderr until the job ends; returns the final job row."""
    from ..jobs import get_job
    from ..jobs.estimates import describe, outcome, recorded
    from ..jobs.supervisor import supervisor_pid
    from ..jobs.worker import run_job

    if (est := recorded(job.id)) is not None and describe(est):
        print(f"job {job.id}: estimated {describe(est)}", file=sys.stderr)
    if supervisor_pid() is None:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        from ..secrets import key_names, redact_logs

        redact_logs(key_names(job.config))
        for noisy in ("httpx", "httpx2", "httpcore", "openai"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        print(f"job {job.id}: {what} here…", file=sys.stderr)
        run_job(job.id)
    else:
        print(f"job {job.id}: {what} in the background supervisor…", file=sys.stderr)
        last = ""
        while not (job := get_job(job.id)).status.finished:
            if job.message != last:
                print(f"{job.progress * 100:3.0f}% {job.message}", file=sys.stderr)
                last = job.message
            time.sleep(0.5)
    job = get_job(job.id)
    if took := outcome(job):
        print(f"job {job.id}: {took}", file=sys.stderr)
    return job


def report_failure(job: Job) -> int:
    """Print why a job did not succeed; returns the exit code."""
    if job.status == JobStatus.succeeded:
        return 0
    print(f"error: {job.error_label or 'the job was ' + job.status.value}", file=sys.stderr)
    if job.error_hint:
        print(f"hint: {job.error_hint}", file=sys.stderr)
    return 1


def submit_and_follow(kind: str, cfg, project_id: int | None, *, wait: bool, what: str) -> Job | None:
    """Queue a job. Without --wait: make sure a supervisor will run it, print its id, return None. With --wait:
    run or follow it to the end; returns the finished job when it succeeded (after printing why, None if not)."""
    from ..jobs import submit_job
    from ..jobs.supervisor import ensure_supervisor

    job = submit_job(kind, cfg, project_id=project_id)
    if not wait:
        ensure_supervisor()
        print(job.id)
        return None
    job = run_or_wait(job, what)
    return job if report_failure(job) == 0 else None
