"""Job lifecycle with real worker processes started by a real supervisor."""

from __future__ import annotations

import os
import signal
import time

import pytest

from slmops_engine.errors import ConfigError
from slmops_engine.jobs import cancel_job, get_job, job_log, job_metrics, retry_job, submit_job, wait_for_job
from slmops_engine.jobs.supervisor import Supervisor, is_worker_process
from slmops_engine.models import JobStatus
from tests.support.supervisor import running_supervisor

pytestmark = pytest.mark.usefixtures("database")  # every test here runs on SQLite and on PostgreSQL

TIMEOUT = 60


def _wait_until(pred, timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_success_records_result_progress_and_metrics(supervisor):
    job = submit_job("test_steps", {"steps": 5, "step_seconds": 0.01})
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.succeeded
    assert done.progress == 1.0
    peak = done.result.pop("peak_rss_bytes")  # the worker's own peak, for later estimates of the same work
    assert done.result == {"steps": 5, "started_at_step": 0} and peak > 10e6
    assert done.started_at and done.finished_at and done.finished_at >= done.started_at
    points = job_metrics(job.id)
    assert [(p.step, p.value) for p in points] == [(s, 1.0 / s) for s in range(1, 6)]
    assert "succeeded" in job_log(job.id)


def test_failure_carries_operator_label_and_hint(supervisor):
    job = submit_job("test_steps", {"steps": 5, "step_seconds": 0.01, "fail_at": 3})
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.failed
    assert done.error_label == "Row 3 is malformed"
    assert done.error_hint == "Fix the row and retry."
    assert "DataError" in done.error_detail
    assert max(p.step for p in job_metrics(job.id)) == 2


def test_preflight_error_refuses_the_job():
    with pytest.raises(ConfigError, match="fail_at is after the last step"):
        submit_job("test_steps", {"steps": 2, "fail_at": 5})


def test_unknown_config_key_is_refused():
    with pytest.raises(Exception, match="extra"):
        submit_job("test_steps", {"steps": 2, "stepz": 3})


def test_cooperative_cancel(supervisor):
    job = submit_job("test_steps", {"steps": 1000, "step_seconds": 0.02})
    _wait_until(lambda: get_job(job.id).progress > 0.005, what="progress")
    cancel_job(job.id)
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.cancelled
    assert done.message == "Cancelled by the operator"
    assert done.progress < 1.0


def test_cancel_of_queued_job_is_immediate():
    job = submit_job("test_steps", {"steps": 3})
    assert cancel_job(job.id).status == JobStatus.cancelled
    assert get_job(job.id).status == JobStatus.cancelled


def test_cancel_escalates_to_sigterm_when_stage_ignores_it(supervisor):
    job = submit_job("test_steps", {"steps": 1000, "step_seconds": 0.02, "ignore_cancel": True})
    _wait_until(lambda: get_job(job.id).pid and len(job_metrics(job.id)) > 2, what="job running")
    t0 = time.monotonic()
    cancel_job(job.id)
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.cancelled
    assert time.monotonic() - t0 >= 1.0  # waited the grace period (1 s in tests) before the signal
    assert done.message == "Cancelled by the operator"  # the worker turned SIGTERM into a clean cancel
    assert f"Job {job.id} cancelled" in job_log(job.id)


def test_cancel_escalates_to_sigkill_when_sigterm_is_ignored(supervisor):
    job = submit_job("test_steps", {"steps": 1000, "step_seconds": 0.02, "ignore_cancel": True, "block_sigterm": True})
    _wait_until(lambda: len(job_metrics(job.id)) > 2, what="job running")
    pid = get_job(job.id).pid
    cancel_job(job.id)
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.cancelled
    assert done.message == "Cancelled (worker terminated)"
    assert not is_worker_process(pid, job.id)


def test_killed_worker_is_marked_failed_and_retry_resumes_from_checkpoint(supervisor):
    job = submit_job("test_steps", {"steps": 400, "step_seconds": 0.01})
    _wait_until(lambda: len(job_metrics(job.id)) >= 20, what="some steps")
    pid = get_job(job.id).pid
    os.kill(pid, signal.SIGKILL)
    failed = wait_for_job(job.id, timeout=TIMEOUT)
    assert failed.status == JobStatus.failed
    assert failed.error_label == "The worker process was killed"
    assert "continue from its last checkpoint" in failed.error_hint
    reached = max(p.step for p in job_metrics(job.id))

    retry_job(job.id)
    done = wait_for_job(job.id, timeout=TIMEOUT)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_detail)
    assert done.attempt == 2
    assert done.result["started_at_step"] >= reached - 1  # the checkpoint is written after each metric
    steps = [p.step for p in job_metrics(job.id)]
    assert steps == sorted(set(steps)) == list(range(1, 401))  # continued, no duplicate points


def test_dead_worker_found_on_supervisor_start_is_marked_failed():
    job = submit_job("test_steps", {"steps": 3})
    from slmops_engine.jobs.store import claim_job, set_job_fields

    assert claim_job(job.id)
    set_job_fields(job.id, pid=2**22 + 7)  # no such process: the dashboard died with its worker
    Supervisor().recover()
    failed = get_job(job.id)
    assert failed.status == JobStatus.failed
    assert "worker process is gone" in failed.error_label


def test_running_worker_is_adopted_by_a_new_supervisor(supervisor):
    job = submit_job("test_steps", {"steps": 60, "step_seconds": 0.05})
    _wait_until(lambda: len(job_metrics(job.id)) >= 2, what="job running")
    # A second supervisor (the dashboard restarted) must not fail a job whose worker is alive.
    other = Supervisor()
    other.recover()
    assert job.id in other.handles
    assert get_job(job.id).status == JobStatus.running
    assert wait_for_job(job.id, timeout=TIMEOUT).status == JobStatus.succeeded


def test_concurrency_limit_runs_jobs_one_at_a_time(monkeypatch, slmops_home):
    monkeypatch.setenv("SLMOPS_MAX_JOBS", "1")
    from slmops_engine.settings import reset_settings

    reset_settings()
    with running_supervisor():
        a = submit_job("test_steps", {"steps": 10, "step_seconds": 0.05})
        b = submit_job("test_steps", {"steps": 10, "step_seconds": 0.05})
        _wait_until(lambda: get_job(a.id).status == JobStatus.running, what="first job")
        assert get_job(b.id).status == JobStatus.queued
        ja, jb = wait_for_job(a.id, timeout=TIMEOUT), wait_for_job(b.id, timeout=TIMEOUT)
        assert ja.status == jb.status == JobStatus.succeeded
        assert jb.started_at >= ja.finished_at


def test_retry_of_running_job_is_refused(supervisor):
    job = submit_job("test_steps", {"steps": 200, "step_seconds": 0.02})
    _wait_until(lambda: get_job(job.id).status == JobStatus.running, what="running")
    with pytest.raises(ConfigError, match="still running"):
        retry_job(job.id)
    cancel_job(job.id)
    wait_for_job(job.id, timeout=TIMEOUT)


def test_no_worker_is_left_a_zombie_however_its_job_ends(supervisor):
    """Succeeded, failed, cancelled, killed: every worker the supervisor started is reaped once its job ends."""
    import psutil

    jobs = [
        submit_job("test_steps", {"steps": 3}),
        submit_job("test_steps", {"steps": 5, "fail_at": 2}),
        submit_job("test_steps", {"steps": 1000, "step_seconds": 0.02}),
        submit_job("test_steps", {"steps": 1000, "step_seconds": 0.02, "ignore_cancel": True, "block_sigterm": True}),
    ]
    for job in jobs[2:]:
        _wait_until(lambda j=job: len(job_metrics(j.id)) > 2, what="job running")
        cancel_job(job.id)
    pids = set()
    for job in jobs:
        done = wait_for_job(job.id, timeout=TIMEOUT)
        assert done.status.finished and done.pid
        pids.add(done.pid)

    def zombies() -> set[int]:
        return {c.pid for c in psutil.Process().children() if c.pid in pids and c.status() == psutil.STATUS_ZOMBIE}

    _wait_until(lambda: not zombies() or None, timeout=10, what="the supervisor to reap its workers")
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)


def test_the_supervisor_process_collects_any_child_that_ended():
    """A child the supervisor process did not start as a worker (a process a stage left behind, a server it
    started) is collected too, in a process of its own so that the test's own children are not touched."""
    import subprocess
    import sys

    script = """
import os, time, psutil
from slmops_engine.jobs.executors import LocalExecutor
pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ))
time.sleep(0.5)
assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
assert LocalExecutor().reap_strays() == 1
assert not psutil.pid_exists(pid)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
