"""API keys in the keyring: a supervisor started before the key was exported still runs the teacher with it (kept
once with `slmops keys set`), a job whose key is nowhere stops before the first request, and a machine without a
keyring says so. The keyring here is keyrings.alt's file backend, in this test's own folder."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slmops_engine.jobs import get_job, submit_job, wait_for_job
from slmops_engine.jobs.supervisor import ensure_supervisor
from slmops_engine.models import JobStatus
from tests.support.openai_server import Behaviour
from tests.support.supervisor import stop_background_supervisor
from tests.support.synth import N, config
from tests.test_cli import slmops

KEY = "sk-test-keyring-5f4e3d2c1b0a"


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "keyring"))
    import keyring.core

    keyring.core.init_backend()  # this process reads the same file
    yield
    monkeypatch.undo()
    keyring.core.init_backend()


def test_a_key_kept_after_the_supervisor_started_reaches_the_job(prompts, teacher_server, file_keyring, monkeypatch):
    teacher_server.behaviour = Behaviour(api_key=KEY)
    monkeypatch.delenv("MY_TEACHER_KEY", raising=False)
    ensure_supervisor()  # started before the operator has the key anywhere
    try:
        cfg = config(prompts, teacher_server, teacher={"api_key_env": "MY_TEACHER_KEY"})
        first = submit_job("synth", cfg, check=False)
        failed = wait_for_job(first.id, timeout=60)
        assert failed.status == JobStatus.failed and "MY_TEACHER_KEY is not set" in failed.error_label
        assert teacher_server.requests == []  # stopped before the first request: no "Bearer not-needed"
        assert "slmops keys set MY_TEACHER_KEY" in failed.error_hint

        r = subprocess.run(  # the operator keeps the key once, typed (here: piped), never as an argument
            [sys.executable, "-m", "slmops_engine.cli", "keys", "set", "MY_TEACHER_KEY"],
            input=KEY + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 and "kept in the keyring" in r.stdout and KEY not in r.stdout + r.stderr
        assert "available (keyring)" in slmops("keys", "check", "MY_TEACHER_KEY").stdout

        job = submit_job("synth", cfg)  # the same supervisor, which never saw the key exported
        done = wait_for_job(job.id, timeout=120)
        assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
        assert {r.headers["authorization"] for r in teacher_server.requests} == {f"Bearer {KEY}"}
        assert len(teacher_server.requests) == N
        assert KEY not in str(get_job(job.id).config)  # the settings name the variable, never the value
    finally:
        stop_background_supervisor()
    assert "forgotten" in slmops("keys", "delete", "MY_TEACHER_KEY").stdout
    assert slmops("keys", "check", "MY_TEACHER_KEY").returncode == 1


def test_a_machine_without_a_keyring_says_what_to_do_instead():
    r = slmops("keys", "set", "MY_TEACHER_KEY", "--from-env")
    assert r.returncode == 2 and "MY_TEACHER_KEY is not set in this shell" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "slmops_engine.cli", "keys", "set", "MY_TEACHER_KEY"],
        input="a-key-value-123456\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "This machine has no keyring to keep MY_TEACHER_KEY in" in r.stderr
    assert "export MY_TEACHER_KEY" in r.stderr and "a-key-value-123456" not in r.stderr
