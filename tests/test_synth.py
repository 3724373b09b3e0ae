"""Distillation stage 1 against a real OpenAI-compatible server on 127.0.0.1 that misbehaves on demand."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from types import SimpleNamespace

import pytest
from sqlmodel import select

from slmops_engine.data import load_dataset_dict
from slmops_engine.db import session_scope
from slmops_engine.errors import EndpointError, SlmopsError
from slmops_engine.models import TeacherAnswer
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import synth
from slmops_engine.synth.remote import backoff as _real_backoff
from slmops_engine.synth.review import ReviewDecisions, review_rows, save_review
from slmops_engine.teachers import Provider, TeacherConfig
from tests.support.openai_server import Behaviour
from tests.support.synth import N, config, n_cached, ok_requests


def test_answers_make_a_new_dataset_with_lineage_tokens_and_cost(prompts, teacher_server):
    cfg = config(prompts, teacher_server, concurrency=4, price_input_per_1k=2.0, price_output_per_1k=6.0)
    result = synth.run(cfg, Reporter())
    dd = load_dataset_dict(result["dataset_id"])
    assert len(dd["train"]) == N and len(dd["test"]) == 3
    row = dd["train"][0]
    assert row["response"] == "Answer to: customer message number 0" and row["reference"] == "billing"
    assert dd["test"][0]["response"] == "billing"  # the held-out part is copied, not answered
    assert len(ok_requests(teacher_server)) == N
    # Tokens and cost add up exactly to what the endpoint reported.
    answers = [json.loads(json.dumps(r.body)) for r in ok_requests(teacher_server)]
    assert all(a["messages"][0] == {"role": "system", "content": "Route the message."} for a in answers)
    prompt_tokens = sum(sum(len(m["content"].split()) for m in a["messages"]) for a in answers)
    completion_tokens = sum(len(f"Answer to: {a['messages'][-1]['content']}".split()) for a in answers)
    assert (result["prompt_tokens"], result["completion_tokens"]) == (prompt_tokens, completion_tokens)
    assert result["cost"] == pytest.approx((prompt_tokens * 2.0 + completion_tokens * 6.0) / 1000)
    from slmops_engine.data import get_dataset

    new = get_dataset(result["dataset_id"])
    assert new.stage == "synth" and new.parent_id == prompts.id and new.info["teacher"]["model"] == "teacher-model"


def test_transient_faults_are_retried_without_losing_or_double_counting(prompts, teacher_server):
    teacher_server.behaviour = Behaviour(latency=0.02)
    teacher_server.script = deque(
        [
            # The drop comes first: the first request to arrive is always a first try (a connection dropped on a
            # retry before any answer has arrived means an endpoint that is not there, which stops the run).
            Behaviour(drop=True),
            Behaviour(status=429, retry_after=0.4),
            Behaviour(status=500),
            Behaviour(status=503),
            Behaviour(malformed=True),
        ]
    )
    # Five workers: each fault normally hits a different prompt on its first try (short backoffs keep the test
    # fast); what is asserted holds whichever prompts they hit.
    result = synth.run(config(prompts, teacher_server, concurrency=5), Reporter())
    assert result["answered"] == N and result["failed"] == {}
    assert result["retries"] == {"429": 1, "5xx": 2, "malformed": 1, "connection": 1}
    assert len(teacher_server.requests) == N + 5
    answered = Counter(r.body["messages"][-1]["content"] for r in ok_requests(teacher_server))
    assert len(answered) == N and set(answered.values()) == {1}  # every prompt answered exactly once
    assert result["completion_tokens"] == sum(len(f"Answer to: {p}".split()) for p in answered)
    # Retry-After was honoured: the 429'd prompt was answered no sooner than 0.4 s later. (Server threads record
    # requests in no fixed order: the 429 is found by its status, its answer by its prompt.)
    (limited,) = [r for r in teacher_server.requests if r.status == 429]
    again = next(r for r in ok_requests(teacher_server) if r.body == limited.body)
    assert again.ts - limited.ts >= 0.4


def test_a_hanging_request_times_out_and_is_retried(prompts, teacher_server):
    import openai  # noqa: F401 - imported before the clock starts: a first import takes seconds on a slow machine

    teacher_server.script = deque([Behaviour(hang=True)])
    t0 = time.monotonic()
    result = synth.run(config(prompts, teacher_server, concurrency=2, request_timeout=1.0), Reporter())
    assert result["answered"] == N and result["retries"] == {"timeout": 1}
    # the 1 s timeout was applied, not the default (a second or two here; the bound leaves room for a loaded machine)
    assert time.monotonic() - t0 < 30 < synth.Config.model_fields["request_timeout"].default


def test_401_stops_at_once_with_a_clear_label(prompts, teacher_server, monkeypatch):
    teacher_server.behaviour = Behaviour(api_key="right")
    monkeypatch.setenv("TEACHER_KEY", "wrong")
    cfg = config(prompts, teacher_server, concurrency=2, teacher={"api_key_env": "TEACHER_KEY"})
    with pytest.raises(EndpointError, match=r"refused the API key \(401\)"):
        synth.run(cfg, Reporter())
    assert len(teacher_server.requests) <= 2  # no retries, no further prompts


class _Progress(Reporter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, str]] = []

    def progress(self, fraction: float, message: str | None = None, *, eta_seconds: float | None = None) -> None:
        self.seen.append((fraction, message or ""))


def test_an_unreachable_teacher_stops_at_once_and_counts_nothing_as_answered(prompts, monkeypatch):
    import socket

    import openai  # noqa: F401 - imported before the clock starts: a first import takes seconds on a slow machine

    from slmops_engine.synth import remote

    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = type("Gone", (), {"url": f"http://127.0.0.1:{port}/v1"})()
    cfg = config(prompts, server, concurrency=4, max_retries=5)
    backoffs: list[int] = []  # the attempt behind every backoff the run slept (the real one, 0.25-0.75 s)
    monkeypatch.setattr(remote, "backoff", lambda attempt: backoffs.append(attempt) or _real_backoff(attempt))
    reporter = _Progress()
    t0 = time.monotonic()
    with pytest.raises(EndpointError, match=f"Cannot reach http://127.0.0.1:{port}/v1") as err:
        synth.run(cfg, reporter)
    # one quick retry of the prompts in flight, not every prompt's five backoffs (tens of seconds)
    assert backoffs and set(backoffs) == {0} and len(backoffs) <= cfg.concurrency
    assert time.monotonic() - t0 < 30
    assert "server is running" in err.value.hint and "rate limit" not in err.value.hint
    counted = [(f, message) for f, message in reporter.seen if "answered" in message]
    assert counted and all(f == 0 and message.startswith(f"0/{N} answered") for f, message in counted)
    assert n_cached() == 0


def test_too_few_answers_fail_the_job_but_keep_what_arrived(prompts, teacher_server):
    teacher_server.behaviour = Behaviour(status=500)
    teacher_server.script = deque([Behaviour(), Behaviour()])  # two answers get through
    cfg = config(prompts, teacher_server, concurrency=1, max_retries=1)
    with pytest.raises(SlmopsError, match=r"Only 17% of the answers arrived .*failures: 10× 5xx"):
        synth.run(cfg, Reporter())
    assert n_cached() == 2
    teacher_server.behaviour = Behaviour()
    before = len(teacher_server.requests)
    result = synth.run(cfg, Reporter())  # a rerun pays only for the missing ten
    assert result["cached"] == 2 and result["answered"] == N - 2
    assert len(teacher_server.requests) - before == N - 2


def test_the_rate_limiter_spaces_requests_evenly(monkeypatch):
    """The limiter's schedule, on a clock the test holds still: exact, whatever the machine's speed."""
    from slmops_engine.synth import remote

    clock = SimpleNamespace(now=1000.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(remote, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(remote, "asyncio", SimpleNamespace(Lock=asyncio.Lock, sleep=sleep))

    async def acquire(limiter: remote.RateLimiter, n: int) -> list[float]:
        slept.clear()
        for _ in range(n):
            await limiter.acquire()
        return list(slept)

    limiter = remote.RateLimiter(600)  # 10 a second
    # Six requests at the same instant: the first goes at once, each next one a tenth of a second after the last.
    assert asyncio.run(acquire(limiter, 6)) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    clock.now += 10  # idle for a while: no burst is saved up, the next two go a tenth of a second apart
    assert asyncio.run(acquire(limiter, 2)) == pytest.approx([0.1])
    assert asyncio.run(acquire(remote.RateLimiter(0), 6)) == []  # 0 = no limit


def test_rate_limit_spaces_requests(prompts, teacher_server, monkeypatch):
    from slmops_engine.synth import remote

    limiters: list[remote.RateLimiter] = []

    class Counted(remote.RateLimiter):
        acquired = 0

        def __init__(self, per_minute: int) -> None:
            super().__init__(per_minute)
            limiters.append(self)

        async def acquire(self) -> None:
            self.acquired += 1
            await super().acquire()

    monkeypatch.setattr(remote, "RateLimiter", Counted)
    t0 = time.monotonic()
    synth.run(config(prompts, teacher_server, concurrency=8, requests_per_minute=600, max_prompts=6), Reporter())
    elapsed = time.monotonic() - t0
    assert len(teacher_server.requests) == 6
    assert [(lim.interval, lim.acquired) for lim in limiters] == [(0.1, 6)]  # every request waited its turn
    # Really spaced: the sixth request could not go before 0.5 s (8 workers without a limit take a few ms).
    assert elapsed >= 0.5


def test_reasoning_is_kept_apart_and_learned_only_when_asked(prompts, teacher_server):
    teacher_server.answer = lambda msgs: "<think>It mentions a charge.</think> billing"
    result = synth.run(config(prompts, teacher_server, reasoning=True, max_prompts=2), Reporter())
    row = load_dataset_dict(result["dataset_id"])["train"][0]
    assert (row["response"], row["reasoning"]) == ("billing", "It mentions a charge.")
    assert "Think step by step" in ok_requests(teacher_server)[0].body["messages"][0]["content"]
    result = synth.run(config(prompts, teacher_server, reasoning=True, learn_reasoning=True, max_prompts=2), Reporter())
    row = load_dataset_dict(result["dataset_id"])["train"][0]
    assert row["response"] == "<think>\nIt mentions a charge.\n</think>\nbilling"


def test_flags_and_review(prompts, teacher_server):
    canned = iter(
        [
            "",
            "I'm sorry, but I cannot help with that request at all today.",
            "billing",
            "technical",
            "word " * 60,
            "billing",
        ]
        + ["billing"] * N
    )
    teacher_server.answer = lambda msgs: next(canned)
    result = synth.run(config(prompts, teacher_server, concurrency=1, max_tokens=50), Reporter())
    rows = {r["id"]: r for r in review_rows(result["dataset_id"])}
    assert rows["train:0"]["flags"] == "empty"
    assert "refusal" in rows["train:1"]["flags"]
    assert rows["train:4"]["flags"] == "cut_off"  # 60 words, max_tokens 50 on the test server
    assert rows["train:2"]["flags"] == ""  # short repeated labels are not duplicates
    reviewed = save_review(
        result["dataset_id"], ReviewDecisions(rejected={"train:1"}, edits={"train:0": "account"}, reject_flagged=True)
    )
    dd = load_dataset_dict(reviewed.id)
    assert len(dd["train"]) == N - 2  # train:1 rejected, train:4 flagged; train:0 kept because it was edited
    assert dd["train"][0]["response"] == "account" and dd["train"][0]["flags"] == ""
    assert reviewed.stage == "review" and reviewed.parent_id == result["dataset_id"]
    assert len(dd["test"]) == 3


def test_several_answers_per_prompt(prompts, teacher_server):
    result = synth.run(
        config(prompts, teacher_server, answers_per_prompt=2, max_prompts=3, temperature=0.8), Reporter()
    )
    assert len(load_dataset_dict(result["dataset_id"])["train"]) == 6 and len(teacher_server.requests) == 6


def test_local_model_as_teacher(prompts, tiny_model_dir):
    cfg = synth.Config(
        dataset_id=prompts.id,
        max_prompts=4,
        max_tokens=6,
        batch_size=3,
        teacher=TeacherConfig(provider=Provider.local, local_path=str(tiny_model_dir), system_prompt="Route."),
    )
    assert synth.is_heavy(cfg)
    result = synth.run(cfg, Reporter())
    assert result["answered"] == 4
    with session_scope() as s:
        answers = s.exec(select(TeacherAnswer)).all()
    assert all(0 < a.completion_tokens <= 6 and a.prompt_tokens > 0 for a in answers)


def test_preflight_reports_missing_key_and_parts(prompts, teacher_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = synth.Config(
        dataset_id=prompts.id,
        splits=["validation"],
        teacher=TeacherConfig.from_preset(Provider.openai, model="gpt-4o-mini"),
    )
    titles = [i.title for i in synth.preflight(cfg)]
    assert (
        "The dataset has no validation part" in titles
        and "The environment variable OPENAI_API_KEY is not set" in titles
    )


def test_the_answer_length_is_sized_from_the_task_and_the_next_run_is_estimated(tmp_path, teacher_server):
    from slmops_engine.data import import_file
    from slmops_engine.jobs import get_job, submit_job
    from slmops_engine.jobs.estimates import describe, recorded
    from slmops_engine.jobs.worker import run_job
    from slmops_engine.models import JobStatus
    from slmops_engine.synth.estimate import LOCAL_LABEL_SECONDS, run_estimate
    from slmops_engine.teaching import answer_tokens

    long_answer = "Open Settings, then Billing, then choose the invoice and press Download. " * 5
    rows = [{"prompt": f"question {i}", "response": long_answer, "split": "train"} for i in range(6)]
    (tmp_path / "free.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    free, _ = import_file(tmp_path / "free.jsonl", project_id=None)
    teacher_server.answer = lambda msgs: long_answer  # as long as the examples: must not be cut off
    cfg = config(free, teacher_server, concurrency=2)
    assert run_estimate(cfg, 6, []) is None  # a remote teacher never measured: no guess
    job = submit_job("synth", cfg)
    assert run_job(job.id) == JobStatus.succeeded
    result = get_job(job.id).result
    sized = answer_tokens([long_answer])
    assert result["max_tokens"] == sized and {r.body["max_tokens"] for r in ok_requests(teacher_server)} == {sized}
    assert not [r for r in review_rows(result["dataset_id"]) if "cut_off" in r["flags"]]
    # The next run of this teacher is estimated from this one (seconds per answer it asked).
    later = run_estimate(cfg.model_copy(update={"temperature": 0.9}), 12, [])
    assert later is not None and later.basis == f"from run #{job.id} of this teacher" and later.seconds > 0
    assert later.peak_bytes and later.peak_bytes == get_job(job.id).result["peak_rss_bytes"]
    # The same estimate was recorded when the run was submitted (no run before it: a remote teacher, no guess).
    assert recorded(job.id) is None
    # A labelled task on a local teacher never measured here: the figure measured on a 2-core laptop.
    local = cfg.model_copy(update={"teacher": TeacherConfig(provider=Provider.local, local_path="/m")})
    guess = run_estimate(local, 100, ["a", "b"])
    assert guess.basis == "measured on a 2-core laptop" and guess.seconds >= 100 * LOCAL_LABEL_SECONDS
    assert "minute" in describe(guess)


def test_a_labelled_task_asks_for_short_answers(tmp_path, teacher_server):
    from slmops_engine.data import import_file

    rows = [{"prompt": f"q{i}", "response": r, "label": r, "split": "train"} for i, r in enumerate(["yes", "no"] * 4)]
    (tmp_path / "yn.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ds, _ = import_file(tmp_path / "yn.jsonl", project_id=None)
    teacher_server.answer = lambda msgs: "yes"
    result = synth.run(config(ds, teacher_server), Reporter())
    assert result["labels"] == ["no", "yes"] and result["max_tokens"] == 16
