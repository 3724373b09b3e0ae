"""The `slmops` command line: real subprocesses, plain-language errors, exit codes."""

from __future__ import annotations

import subprocess
import sys


def slmops(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slmops_engine.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_projects_create_and_list():
    r = slmops("projects", "create", "router", "--goal", "Route tickets")
    assert r.returncode == 0 and r.stdout.strip().isdigit()
    r = slmops("projects", "list")
    assert "router" in r.stdout and "Route tickets" in r.stdout


def test_errors_are_plain_language_without_traceback():
    slmops("projects", "create", "dup")
    r = slmops("projects", "create", "dup")
    assert r.returncode == 2
    assert "error: A project named 'dup' already exists" in r.stderr and "Traceback" not in r.stderr
    r = slmops("jobs", "show", "42")
    assert r.returncode == 2 and "Job 42 does not exist" in r.stderr and "Traceback" not in r.stderr


def test_jobs_list_show_cancel_retry():
    from slmops_engine.jobs import submit_job, wait_for_job
    from slmops_engine.models import JobStatus
    from tests.support.supervisor import stop_background_supervisor

    job = submit_job("test_steps", {"steps": 2})
    assert "test_steps" in slmops("jobs", "list").stdout
    r = slmops("jobs", "cancel", str(job.id))
    assert r.returncode == 0 and "cancelled" in r.stdout
    try:
        r = slmops("jobs", "retry", str(job.id))  # queued again, and a supervisor is started to run it
        assert r.returncode == 0 and "attempt 2" in r.stdout
        assert wait_for_job(job.id, timeout=60).status == JobStatus.succeeded
        assert "status:   succeeded" in slmops("jobs", "show", str(job.id)).stdout
    finally:
        stop_background_supervisor()


def test_doctor_gives_verdicts():
    r = slmops("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("package torch", "database", "storage", "bundled model", "model hub"):
        assert name in r.stdout
    assert "offline mode is on" in r.stdout


def test_doctor_fails_on_unusable_database(slmops_home, monkeypatch):
    monkeypatch.setenv("SLMOPS_DATABASE_URL", f"sqlite:///{slmops_home}/missing-dir/x/db.sqlite")
    r = slmops("doctor")
    assert r.returncode == 1 and "[FAIL] database" in r.stdout


def test_models_list_compares_with_this_machine():
    r = slmops("models", "list")
    assert r.returncode == 0
    assert "Qwen/Qwen2.5-0.5B-Instruct" in r.stdout and "This machine:" in r.stdout


def test_usage_error_exits_non_zero():
    r = slmops("jobs", "show", "not-a-number")
    assert r.returncode == 2 and "invalid int value" in r.stderr
