"""The background processes of a home and their lifetime: a supervisor started on demand leaves once idle (never
while a job is queued or running), one run with `slmops worker` stays until `slmops worker stop`, and
`slmops doctor` lists them with pid and age. Real processes, real CLI subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from slmops_engine.jobs import get_job, submit_job, wait_for_job
from slmops_engine.jobs.supervisor import ensure_supervisor, is_worker_process, supervisor_pid
from slmops_engine.models import JobStatus
from slmops_engine.settings import reset_settings
from tests.support.supervisor import stop_background_supervisor
from tests.test_cli import slmops

DEADLINE = 60.0  # generous: a slow machine only takes longer to get there


def ended(pid: int) -> bool:
    """The process is gone (or only its exit status waits to be collected)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition, what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"{what} did not happen within {deadline:.0f} s"
        time.sleep(0.1)


def kill_workers(job_ids: list[int]) -> None:
    """End the workers of jobs a failed test left running (the supervisor leaves its workers running on exit)."""
    for job_id in job_ids:
        job = get_job(job_id)
        if is_worker_process(job.pid, job_id):
            os.kill(job.pid, signal.SIGKILL)


@pytest.fixture
def idle_after(monkeypatch):
    """Background supervisors of this test leave after `seconds` with nothing to do."""

    def set_idle(seconds: float) -> None:
        monkeypatch.setenv("SLMOPS_SUPERVISOR_IDLE_SECONDS", str(seconds))
        reset_settings()

    yield set_idle
    stop_background_supervisor()


def test_a_background_supervisor_leaves_by_itself_once_idle(idle_after, slmops_home):
    idle_after(1)
    pid = ensure_supervisor()
    assert pid and supervisor_pid() == pid
    wait_until(lambda: supervisor_pid() is None and ended(pid), "the idle supervisor's exit")
    assert "Nothing to do for 1 s: exiting" in (slmops_home / "supervisor.log").read_text()
    assert not (slmops_home / "supervisor.json").exists()  # what it recorded about itself went with it

    job = submit_job("test_steps", {"steps": 2, "step_seconds": 0.01})
    assert ensure_supervisor()  # the next one needed is started afresh and runs jobs (queue first, as commands do)
    assert wait_for_job(job.id, timeout=DEADLINE).status == JobStatus.succeeded


def test_a_background_supervisor_stays_while_a_job_is_queued_or_running(idle_after, monkeypatch):
    idle_after(1)
    monkeypatch.setenv("SLMOPS_MAX_JOBS", "1")  # the second job waits, queued, while the first runs
    long = submit_job("test_steps", {"steps": 20, "step_seconds": 0.2})  # each lasts well beyond the idle time
    queued = submit_job("test_steps", {"steps": 10, "step_seconds": 0.2})
    pid = ensure_supervisor()  # as the commands do: queue, then make sure a supervisor runs
    try:
        seen = set()
        while not get_job(queued.id).status.finished:
            seen.add((get_job(long.id).status, get_job(queued.id).status))
            assert supervisor_pid() == pid, "the supervisor left while a job was queued or running"
            time.sleep(0.1)
        assert wait_for_job(long.id, timeout=DEADLINE).status == JobStatus.succeeded
        assert get_job(queued.id).status == JobStatus.succeeded
        assert (JobStatus.running, JobStatus.queued) in seen  # the second one did wait, queued
        wait_until(lambda: supervisor_pid() is None and ended(pid), "the exit once both jobs were done")
    finally:
        kill_workers([long.id, queued.id])


def test_worker_stop_stops_the_background_supervisor_and_says_when_none_runs(idle_after):
    idle_after(600)
    pid = ensure_supervisor()
    assert pid
    r = slmops("worker", "stop")
    assert r.returncode == 0, r.stderr
    assert f"stopped the supervisor (pid {pid}) (it ran in the background)" in r.stdout
    assert supervisor_pid() is None
    wait_until(lambda: ended(pid), "the stopped supervisor's exit")  # the lock goes a moment before the process
    r = slmops("worker", "stop")
    assert r.returncode == 0 and "no supervisor runs for" in r.stdout, r.stderr


def test_a_foreground_worker_ignores_the_idle_time_and_stops_on_worker_stop(idle_after, tmp_path):
    idle_after(1)
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "slmops_engine.cli", "worker"], stdout=log, stderr=log)
    try:
        wait_until(lambda: supervisor_pid() == proc.pid, "the foreground supervisor's start")
        time.sleep(3)  # several idle times pass with nothing to do: a background one would have left
        assert proc.poll() is None and supervisor_pid() == proc.pid
        job = submit_job("test_steps", {"steps": 2, "step_seconds": 0.01})  # nobody calls ensure_supervisor
        assert wait_for_job(job.id, timeout=DEADLINE).status == JobStatus.succeeded
        r = slmops("worker", "stop")
        assert r.returncode == 0, r.stderr
        assert f"stopped the supervisor (pid {proc.pid}) (it ran in the foreground" in r.stdout
        assert proc.wait(timeout=DEADLINE) == 0, (tmp_path / "worker.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_doctor_lists_this_homes_background_processes_with_pid_and_age(idle_after):
    idle_after(600)
    r = slmops("doctor")
    assert "job supervisor: not running" in r.stdout and "model server: not running" in r.stdout, r.stdout
    pid = ensure_supervisor()
    r = slmops("doctor")
    assert f"job supervisor: pid {pid}, running for " in r.stdout, r.stdout
    assert "(in the background; exits after 10 min with nothing to do)" in r.stdout
    assert "model server: not running" in r.stdout
