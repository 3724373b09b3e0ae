"""Jobs whose process is gone, and the fresh-home race: a job run by a command that was killed is failed by the
next reader and can be retried (the retry runs, here or in a supervisor); four processes creating the schema at once
all succeed; each stage's 'process died' hint speaks of that stage."""

from __future__ import annotations

import signal
import subprocess
import sys

from slmops_engine.jobs import get_job, job_metrics, list_jobs, submit_job
from slmops_engine.jobs.liveness import GONE_LABEL, died_hint
from slmops_engine.models import JobStatus
from tests.support.stages import release, wait_held
from tests.support.supervisor import stop_background_supervisor
from tests.test_cli import slmops

RUN_HERE = "import sys; from slmops_engine.jobs.worker import run_job; run_job(int(sys.argv[1]))"
TIMEOUT = 120  # starting a Python process that imports the engine can take long on a loaded machine


def _end(proc: subprocess.Popen) -> None:
    """Leave no process behind, whatever the test's outcome."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=TIMEOUT)


def test_a_job_whose_command_was_killed_is_failed_by_the_next_reader_and_retry_runs_it():
    job = submit_job("test_steps", {"steps": 20, "step_seconds": 0.01, "hold_at": 10})
    # the way `slmops … --wait` runs a job when no supervisor runs: in the command's own process
    proc = subprocess.Popen([sys.executable, "-c", RUN_HERE, str(job.id)])
    try:
        wait_held(job.id, timeout=TIMEOUT)  # step 10 done: its metric and its checkpoint are written
        assert get_job(job.id).status == JobStatus.running
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)

        [listed] = [j for j in list_jobs() if j.id == job.id]  # `jobs list` notices, no supervisor needed
        assert listed.status == JobStatus.failed and listed.error_label == GONE_LABEL
        assert "continue from its last checkpoint" in listed.error_hint
        [row] = [line.split() for line in slmops("jobs", "list").stdout.splitlines() if line.startswith(str(job.id))]
        assert row[2] == "failed" and " ".join(row).count("The process running this job is gone") == 1
        reached = max(p.step for p in job_metrics(job.id))  # the points it had not flushed are recovered too
        assert reached == 10

        release(job.id)  # a retry that ignored the checkpoint would run through step 10 again, not hold there
        r = slmops("jobs", "retry", str(job.id), "--wait")  # no supervisor runs: the retry runs here, to the end
    finally:
        release(job.id)
        _end(proc)
    assert r.returncode == 0, r.stderr
    done = get_job(job.id)
    assert done.status == JobStatus.succeeded and done.attempt == 2
    assert done.result["started_at_step"] == reached  # the checkpoint of the last step it finished


def test_retry_without_wait_starts_a_supervisor_that_runs_it():
    from slmops_engine.jobs import cancel_job, wait_for_job
    from slmops_engine.jobs.supervisor import supervisor_pid

    job = submit_job("test_steps", {"steps": 2})
    cancel_job(job.id)
    assert supervisor_pid() is None
    try:
        r = slmops("jobs", "retry", str(job.id))
        assert r.returncode == 0 and "attempt 2" in r.stdout
        assert wait_for_job(job.id, timeout=TIMEOUT).status == JobStatus.succeeded  # nothing else ran it
    finally:
        stop_background_supervisor()


def test_a_live_command_keeps_its_running_job():
    job = submit_job("test_steps", {"steps": 5, "step_seconds": 0.01, "hold_at": 3})
    proc = subprocess.Popen([sys.executable, "-c", RUN_HERE, str(job.id)])
    try:
        wait_held(job.id, timeout=TIMEOUT)
        assert get_job(job.id).status == JobStatus.running  # a reader leaves a live owner alone
        assert [j.status for j in list_jobs() if j.id == job.id] == [JobStatus.running]
        release(job.id)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert get_job(job.id).status == JobStatus.succeeded
    finally:
        release(job.id)
        _end(proc)


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
        try:
            results = [(p.communicate(timeout=TIMEOUT)[1], p.returncode) for p in procs]
        finally:
            for p in procs:
                _end(p)
        assert all(rc == 0 for _, rc in results), results


def test_each_stage_says_what_its_own_death_means():
    assert "batch size" in died_hint("finetune", True) and "checkpoint" in died_hint("finetune", True)
    teacher = died_hint("synth", False)
    assert "batch size" not in teacher and "not asked for (or paid for) again" in teacher
    assert "batch size" not in died_hint("convert", False) and "memory" in died_hint("convert", False)
    assert died_hint("something_new", False).startswith("The process stopped without finishing")
