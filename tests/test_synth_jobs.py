"""The teacher run as a real background job: kill -9 of the worker, then resume asks only the missing prompts."""

from __future__ import annotations

import os
import signal
import time

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
    teacher_server.behaviour = Behaviour(latency=0.25)
    job = submit_job("synth", config(prompts, teacher_server, concurrency=2))
    _wait(lambda: n_cached() >= 4)
    os.kill(get_job(job.id).pid, signal.SIGKILL)
    failed = wait_for_job(job.id, timeout=60)
    assert failed.status == JobStatus.failed and "continue from its last checkpoint" in failed.error_hint
    kept = n_cached()
    asked_before = {r.body["messages"][-1]["content"] for r in teacher_server.requests if r.answered}
    n_before = len(teacher_server.requests)

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
    teacher_server.behaviour = Behaviour(latency=0.2)
    job = submit_job("synth", config(prompts, teacher_server, concurrency=1))
    _wait(lambda: job_state(job.id).get("answered", 0) >= 2)
    state = job_state(job.id)
    assert state["total"] == N and state["recent"][0]["answer"].startswith("Answer to:")
    cancel_job(job.id)
    assert wait_for_job(job.id, timeout=60).status == JobStatus.cancelled
    kept = n_cached()
    assert kept >= 2
    retry_job(job.id)
    done = wait_for_job(job.id, timeout=120)
    assert done.status == JobStatus.succeeded and done.result["cached"] == kept
