"""The teacher run as a real background job: kill -9 of the worker, then resume asks only the missing prompts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque

from slmops_engine.jobs import cancel_job, get_job, job_state, retry_job, submit_job, wait_for_job
from slmops_engine.models import JobStatus
from tests.support.openai_server import Behaviour
from tests.support.synth import N, config, n_cached


def _wait(pred, timeout=60):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_then_resume_asks_only_the_missing_prompts(prompts, teacher_server, supervisor):
    # Four answers, then every request hangs unrecorded: the run stops there, however fast or slow the machine.
    teacher_server.script = deque(Behaviour() for _ in range(4))
    teacher_server.behaviour = Behaviour(hang=True)
    job = submit_job("synth", config(prompts, teacher_server, concurrency=2))
    teacher_server.wait_held(2)  # both workers wait on a request: each has stored its answers, none is on its way
    assert n_cached() == 4
    os.kill(get_job(job.id).pid, signal.SIGKILL)
    failed = wait_for_job(job.id, timeout=60)
    assert failed.status == JobStatus.failed and "continue from its last checkpoint" in failed.error_hint
    kept = n_cached()
    asked_before = {r.body["messages"][-1]["content"] for r in teacher_server.requests if r.answered}
    n_before = len(teacher_server.requests)
    assert kept == n_before == len(asked_before) == 4  # the two hung requests were never answered nor recorded

    teacher_server.behaviour = Behaviour()
    retry_job(job.id)
    done = wait_for_job(job.id, timeout=120)
    assert done.status == JobStatus.succeeded, done.error_label
    assert done.result["cached"] == kept and done.result["answered"] == N - kept
    after = teacher_server.requests[n_before:]
    assert len(after) == N - kept  # exactly the missing prompts, nothing paid twice
    stored = asked_before - {r.body["messages"][-1]["content"] for r in after}
    assert len(stored) == kept  # what was stored before the kill was not asked again
    assert n_cached() == N


def test_cancel_keeps_answers_and_live_state_is_published(prompts, teacher_server, supervisor):
    # Eight answers 0.2 s apart (the live state is written at most once a second, so at least once among them with
    # four or more answered), then the ninth request waits until the test has cancelled: the job cannot finish first.
    gate = threading.Event()
    teacher_server.script = deque([*(Behaviour(latency=0.2) for _ in range(8)), Behaviour(gate=gate)])
    job = submit_job("synth", config(prompts, teacher_server, concurrency=1))
    _wait(lambda: job_state(job.id).get("answered", 0) >= 2)
    state = job_state(job.id)
    assert state["total"] == N and state["recent"][0]["answer"].startswith("Answer to:")
    teacher_server.wait_held(1)
    assert get_job(job.id).status == JobStatus.running
    cancel_job(job.id)
    gate.set()  # the next answer reaches the job after the Cancel: it is noticed there (or at the run's end)
    assert wait_for_job(job.id, timeout=60).status == JobStatus.cancelled
    kept = n_cached()
    assert kept >= 8  # every answer that arrived before the Cancel is kept
    retry_job(job.id)
    done = wait_for_job(job.id, timeout=120)
    assert done.status == JobStatus.succeeded and done.result["cached"] == kept


def test_the_same_teacher_run_twice_at_once_asks_once(prompts, teacher_server):
    """A second identical run is refused while the first is active; two that slipped in together (submitted at the
    same moment) leave the asking to the older one: nothing is paid twice."""
    import pytest

    from slmops_engine.errors import ConfigError
    from slmops_engine.jobs.worker import run_job

    cfg = config(prompts, teacher_server, concurrency=2)
    first = submit_job("synth", cfg)
    with pytest.raises(ConfigError, match=f"already running as job {first.id}"):
        submit_job("synth", cfg)
    second = submit_job("synth", cfg, check=False)  # as if both were checked before either was queued
    assert run_job(second.id) == JobStatus.failed
    assert f"already running as job {first.id}" in get_job(second.id).error_label
    assert teacher_server.requests == []  # the younger run stopped before asking anything
    assert run_job(first.id) == JobStatus.succeeded
    assert len(teacher_server.requests) == N
    again = submit_job("synth", cfg)  # once the first has finished, a new run is welcome (and reuses its answers)
    assert run_job(again.id) == JobStatus.succeeded and len(teacher_server.requests) == N


def test_a_key_echoed_in_an_endpoint_error_is_never_stored_logged_or_printed(prompts, teacher_server, monkeypatch):
    from slmops_engine.jobs.worker import run_job
    from tests.test_cli import slmops

    key = "sk-test-9f8e7d6c5b4a39281706f5e4"
    monkeypatch.setenv("MY_TEACHER_KEY", key)
    teacher_server.behaviour = Behaviour(status=400, echo_key=True)
    job = submit_job("synth", config(prompts, teacher_server, teacher={"api_key_env": "MY_TEACHER_KEY"}))
    assert run_job(job.id) == JobStatus.failed
    failed = get_job(job.id)
    assert key[:12] in "".join(r.headers.get("authorization", "") for r in teacher_server.requests)  # it was sent
    assert "not allowed here: ***" in failed.error_hint  # the endpoint's words are kept, the key is not
    for text in (failed.error_label, failed.error_hint, failed.error_detail):
        assert key not in (text or "")
    shown = slmops("jobs", "show", str(job.id))
    assert key not in shown.stdout + shown.stderr and "***" in shown.stdout


def test_log_lines_lose_known_secrets_before_they_are_written(monkeypatch):
    import io
    import logging

    from slmops_engine.secrets import RedactingFilter

    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-0123456789abcdef")  # a secret-looking name: always blanked
    monkeypatch.setenv("MY_TEACHER_KEY", "k-abcdefghijkl")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter(("MY_TEACHER_KEY",)))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        log.warning("endpoint said: bad key %s (token %s)", "k-abcdefghijkl", "tok-0123456789abcdef")
        try:
            raise ValueError("key k-abcdefghijkl refused")
        except ValueError:
            log.exception("request failed")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "k-abcdefghijkl" not in text and "tok-0123456789abcdef" not in text
    assert "bad key *** (token ***)" in text and "key *** refused" in text
