"""Jobs whose process is gone, and the fresh-home race: a job run by a command that was killed is failed by the
next reader and can be retried (the retry runs, here or in a supervisor); four processes creating the schema at once
all succeed; each stage's 'process died' hint speaks of that stage."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from slmops_engine.jobs import get_job, job_metrics, list_jobs, submit_job
from slmops_engine.jobs.liveness import GONE_LABEL, died_hint
from slmops_engine.models import JobStatus
from tests.support.supervisor import stop_background_supervisor
from tests.test_cli import slmops

RUN_HERE = "import sys; from slmops_engine.jobs.worker import run_job; run_job(int(sys.argv[1]))"


def _until(pred, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_job_whose_command_was_killed_is_failed_by_the_next_reader_and_retry_runs_it():
    job = submit_job("test_steps", {"steps": 300, "step_seconds": 0.01})
    # the way `slmops … --wait` runs a job when no supervisor runs: in the command's own process
    proc = subprocess.Popen([sys.executable, "-c", RUN_HERE, str(job.id)])
    _until(lambda: len(job_metrics(job.id)) >= 10)
    assert get_job(job.id).status == JobStatus.running
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    [listed] = [j for j in list_jobs() if j.id == job.id]  # `jobs list` notices, no supervisor needed
    assert listed.status == JobStatus.failed and listed.error_label == GONE_LABEL
    assert "continue from its last checkpoint" in listed.error_hint
    [row] = [line.split() for line in slmops("jobs", "list").stdout.splitlines() if line.startswith(str(job.id))]
    assert row[2] == "failed" and " ".join(row).count("The process running this job is gone") == 1
    reached = max(p.step for p in job_metrics(job.id))

    r = slmops("jobs", "retry", str(job.id), "--wait")  # no supervisor runs: the retry runs here, to the end
    assert r.returncode == 0, r.stderr
    done = get_job(job.id)
    assert done.status == JobStatus.succeeded and done.attempt == 2
    assert done.result["started_at_step"] >= reached - 1


def test_retry_without_wait_starts_a_supervisor_that_runs_it():
    from slmops_engine.jobs import cancel_job, wait_for_job
    from slmops_engine.jobs.supervisor import supervisor_pid

    job = submit_job("test_steps", {"steps": 2})
    cancel_job(job.id)
    assert supervisor_pid() is None
    try:
        r = slmops("jobs", "retry", str(job.id))
        assert r.returncode == 0 and "attempt 2" in r.stdout
        assert wait_for_job(job.id, timeout=60).status == JobStatus.succeeded  # nothing else ran it
    finally:
        stop_background_supervisor()


def test_a_live_command_keeps_its_running_job():
    job = submit_job("test_steps", {"steps": 100, "step_seconds": 0.02})
    proc = subprocess.Popen([sys.executable, "-c", RUN_HERE, str(job.id)])
    try:
        _until(lambda: len(job_metrics(job.id)) >= 3)
        assert get_job(job.id).status == JobStatus.running  # a reader leaves a live owner alone
        assert proc.wait(timeout=60) == 0
        assert get_job(job.id).status == JobStatus.succeeded
    finally:
        proc.kill()


def test_processes_creating_the_schema_of_a_fresh_home_at_once_all_succeed(tmp_path, monkeypatch):
    for attempt in range(3):
        monkeypatch.setenv("SLMOPS_HOME", str(tmp_path / f"fresh{attempt}"))
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "slmops_engine.cli", "projects", "create", f"p{i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert all(rc == 0 for rc, _ in results), results


def test_each_stage_says_what_its_own_death_means():
    assert "batch size" in died_hint("finetune", True) and "checkpoint" in died_hint("finetune", True)
    teacher = died_hint("synth", False)
    assert "batch size" not in teacher and "not asked for (or paid for) again" in teacher
    assert "batch size" not in died_hint("convert", False) and "memory" in died_hint("convert", False)
    assert died_hint("something_new", False).startswith("The process stopped without finishing")
