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
from tests.support.stages import release, wait_held
from tests.support.supervisor import running_supervisor

pytestmark = pytest.mark.usefixtures("database")  # every test here runs on SQLite and on PostgreSQL

# Generous: starting a worker imports the engine, which a loaded machine can take long over. Tests that must act on
# a running job hold it (hold_at, see tests/support/stages.py) rather than count on how long it lasts.
TIMEOUT = 120


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
    job = submit_job("test_steps", {"steps": 10, "step_seconds": 0.01, "hold_at": 3})
    try:
        wait_held(job.id)
        cancel_job(job.id)
        done = wait_for_job(job.id, timeout=TIMEOUT)
    finally:
        release(job.id)
    assert done.status == JobStatus.cancelled
    assert done.message == "Cancelled by the operator"
    assert done.progress < 1.0
    assert max(p.step for p in job_metrics(job.id)) == 3  # stopped where it was, went no further


def test_cancel_of_queued_job_is_immediate():
    job = submit_job("test_steps", {"steps": 3})
    assert cancel_job(job.id).status == JobStatus.cancelled
    assert get_job(job.id).status == JobStatus.cancelled


def _cancel_when_held(config: dict):
    """Queue a job that holds at step 3, cancel it once it holds; (job, its end, seconds from Cancel to end, pid)."""
    job = submit_job("test_steps", {"steps": 10, "step_seconds": 0.01, "hold_at": 3, **config})
    try:
        wait_held(job.id)
        pid = get_job(job.id).pid
        t0 = time.monotonic()
        cancel_job(job.id)
        done = wait_for_job(job.id, timeout=TIMEOUT)
        return job, done, time.monotonic() - t0, pid
    finally:
        release(job.id)


def test_cancel_escalates_to_sigterm_when_stage_ignores_it(short_grace, supervisor):
    # It never checks for Cancel and, held, never ends by itself: only a signal ends it.
    job, done, elapsed, _ = _cancel_when_held({"ignore_cancel": True})
    assert done.status == JobStatus.cancelled
    assert elapsed >= short_grace  # waited the grace period before the signal
    assert done.message == "Cancelled by the operator"  # the worker turned SIGTERM into a clean cancel
    assert f"Job {job.id} cancelled" in job_log(job.id)


def test_cancel_escalates_to_sigkill_when_sigterm_is_ignored(short_grace, supervisor):
    # SIGTERM is ignored from the start of its run, before it holds.
    job, done, elapsed, pid = _cancel_when_held({"ignore_cancel": True, "block_sigterm": True})
    assert done.status == JobStatus.cancelled
    assert elapsed >= 2 * short_grace  # SIGTERM after one grace period, SIGKILL after the second
    assert done.message == "Cancelled (worker terminated)"
    assert not is_worker_process(pid, job.id)


def test_killed_worker_is_marked_failed_and_retry_resumes_from_checkpoint(supervisor):
    job = submit_job("test_steps", {"steps": 40, "step_seconds": 0.01, "hold_at": 20})
    try:
        wait_held(job.id)  # step 20 done: its metric and its checkpoint are written
        pid = get_job(job.id).pid
        os.kill(pid, signal.SIGKILL)
        failed = wait_for_job(job.id, timeout=TIMEOUT)
        assert failed.status == JobStatus.failed
        assert failed.error_label == "The worker process was killed"
        assert "continue from its last checkpoint" in failed.error_hint
        reached = max(p.step for p in job_metrics(job.id))  # the points it had not flushed are recovered too
        assert reached == 20

        release(job.id)  # a retry that ignored the checkpoint would run through step 20 again, not hold there
        retry_job(job.id)
        done = wait_for_job(job.id, timeout=TIMEOUT)
    finally:
        release(job.id)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_detail)
    assert done.attempt == 2
    assert done.result["started_at_step"] == reached  # the checkpoint of the last step it finished
    steps = [p.step for p in job_metrics(job.id)]
    assert steps == sorted(set(steps)) == list(range(1, 41))  # continued, no duplicate points


def test_dead_worker_found_on_supervisor_start_is_marked_failed():
    job = submit_job("test_steps", {"steps": 3})
    from slmops_engine.jobs.rows import claim_job, set_job_fields

    assert claim_job(job.id)
    set_job_fields(job.id, pid=2**22 + 7)  # no such process: the dashboard died with its worker
    Supervisor().recover()
    failed = get_job(job.id)
    assert failed.status == JobStatus.failed
    assert "worker process is gone" in failed.error_label


def test_running_worker_is_adopted_by_a_new_supervisor(supervisor):
    job = submit_job("test_steps", {"steps": 5, "step_seconds": 0.01, "hold_at": 2})
    try:
        wait_held(job.id)
        # A second supervisor (the dashboard restarted) must not fail a job whose worker is alive.
        other = Supervisor()
        other.recover()
        assert job.id in other.handles
        assert get_job(job.id).status == JobStatus.running
    finally:
        release(job.id)
    assert wait_for_job(job.id, timeout=TIMEOUT).status == JobStatus.succeeded


def test_concurrency_limit_runs_jobs_one_at_a_time(monkeypatch, slmops_home):
    monkeypatch.setenv("SLMOPS_MAX_JOBS", "1")
    from slmops_engine.settings import reset_settings

    reset_settings()
    with running_supervisor():
        a = submit_job("test_steps", {"steps": 3, "step_seconds": 0.01, "hold_at": 1})
        b = submit_job("test_steps", {"steps": 3, "step_seconds": 0.01})
        try:
            wait_held(a.id)  # the first job runs, and goes on running until released
            assert get_job(b.id).status == JobStatus.queued
        finally:
            release(a.id)
        ja, jb = wait_for_job(a.id, timeout=TIMEOUT), wait_for_job(b.id, timeout=TIMEOUT)
        assert ja.status == jb.status == JobStatus.succeeded
        assert jb.started_at >= ja.finished_at


def test_retry_of_running_job_is_refused(supervisor):
    job = submit_job("test_steps", {"steps": 5, "step_seconds": 0.01, "hold_at": 2})
    try:
        wait_held(job.id)
        with pytest.raises(ConfigError, match="still running"):
            retry_job(job.id)
        cancel_job(job.id)
        assert wait_for_job(job.id, timeout=TIMEOUT).status == JobStatus.cancelled
    finally:
        release(job.id)


def test_no_worker_is_left_a_zombie_however_its_job_ends(short_grace, supervisor):
    """Succeeded, failed, cancelled, killed: every worker the supervisor started is reaped once its job ends."""
    import psutil

    held = {"steps": 5, "step_seconds": 0.01, "hold_at": 2}
    jobs = [
        submit_job("test_steps", {"steps": 3}),
        submit_job("test_steps", {"steps": 5, "fail_at": 2}),
        submit_job("test_steps", held),
        submit_job("test_steps", {**held, "ignore_cancel": True, "block_sigterm": True}),  # ends by SIGKILL
    ]
    pids = set()
    try:
        for job in jobs[2:]:
            wait_held(job.id)
            cancel_job(job.id)
        for job in jobs:
            done = wait_for_job(job.id, timeout=TIMEOUT)
            assert done.status.finished and done.pid
            pids.add(done.pid)
    finally:
        for job in jobs:
            release(job.id)
    assert get_job(jobs[3].id).message == "Cancelled (worker terminated)"

    def uncollected() -> set[int]:  # still running (about to exit) or ended and not collected (a zombie)
        return {c.pid for c in psutil.Process().children() if c.pid in pids}

    _wait_until(lambda: not uncollected(), what="the supervisor to reap its workers")
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
deadline = time.monotonic() + 60
while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
    time.sleep(0.05)  # it has ended, its exit status waits to be collected
assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
assert LocalExecutor().reap_strays() == 1
assert not psutil.pid_exists(pid)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
