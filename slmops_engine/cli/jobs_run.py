"""Run a submitted job from the command line: here and now when no supervisor runs, else wait for it."""

from __future__ import annotations

import logging
import sys
import time

from ..models import Job, JobStatus


def run_or_wait(job: Job, what: str) -> Job:
    """Print progress lines to stderr until the job ends; returns the final job row."""
    from ..jobs import get_job
    from ..jobs.supervisor import supervisor_pid
    from ..jobs.worker import run_job

    if supervisor_pid() is None:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
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
    return get_job(job.id)


def report_failure(job: Job) -> int:
    """Print why a job did not succeed; returns the exit code."""
    if job.status == JobStatus.succeeded:
        return 0
    print(f"error: {job.error_label or 'the job was ' + job.status.value}", file=sys.stderr)
    if job.error_hint:
        print(f"hint: {job.error_hint}", file=sys.stderr)
    return 1
