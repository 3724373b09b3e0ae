"""The background supervisor the dashboard starts: one per home, runs jobs, survives its starter."""

from __future__ import annotations

import os
import signal
import time

from slmops_engine.jobs import submit_job, wait_for_job
from slmops_engine.jobs.supervisor import ensure_supervisor, supervisor_pid
from slmops_engine.models import JobStatus

TIMEOUT = 120  # starting a Python process that imports the engine can take long on a loaded machine


def test_ensure_supervisor_starts_one_process_that_runs_jobs():
    assert supervisor_pid() is None
    pid = ensure_supervisor()
    try:
        assert pid and supervisor_pid() == pid
        assert ensure_supervisor() == pid  # idempotent: a second dashboard session reuses it
        job = submit_job("test_steps", {"steps": 3, "step_seconds": 0.01})
        assert wait_for_job(job.id, timeout=TIMEOUT).status == JobStatus.succeeded
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + TIMEOUT
        while supervisor_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert supervisor_pid() is None
