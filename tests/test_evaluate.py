"""The evaluation stage end to end on tiny real models: transformers, onnxruntime-genai, an OpenAI-compatible
teacher on 127.0.0.1 and a Foundry Local deployment; the judge; failures; resume without answering twice."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import deque
from pathlib import Path

import pytest
from sqlmodel import select

from slmops_engine.db import session_scope
from slmops_engine.evaluate.runner import load_evaluation
from slmops_engine.jobs import get_job, retry_job, submit_job, wait_for_job
from slmops_engine.models import EvalSample, JobStatus
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import evaluate
from tests.support.evaluation import TEST_ROWS, project_with_teacher, register, route_or_judge, routing_dataset
from tests.support.openai_server import Behaviour, OpenAIServer

METRICS = {
    "rouge_l",
    "bleu",
    "chrf",
    "exact_match",
    "token_f1",
    "label_accuracy",
    "perplexity",
    "judge_score",
    "judge_failed",
    "latency_p50_ms",
    "latency_p95_ms",
    "ttft_ms",
    "tokens_per_s",
    "peak_rss_bytes",
    "size_bytes",
}
SAMPLE_KEYS = {"prompt", "reference", "label", "answer", "latency_ms", "predicted_label", "correct", "rouge_l"}


@pytest.fixture
def router():
    with OpenAIServer(answer=route_or_judge) as srv:
        yield srv


def _samples() -> list[EvalSample]:
    with session_scope() as s:
        return list(s.exec(select(EvalSample).order_by(EvalSample.id)).all())


def _read(result: dict) -> dict:
    return json.loads(Path(result["evaluation_path"]).read_text())


def test_teacher_transformers_and_onnx_are_compared_on_every_metric(router, tiny_model_dir, tiny_onnx, tmp_path):
    ds = routing_dataset(tmp_path)
    p = project_with_teacher(router.url)
    base = register(tiny_model_dir, stage="import", fmt="hf", precision="float32", project_id=p.id)
    onnx = register(tiny_onnx["llama"], stage="convert", fmt="onnx", precision="int4", parent_id=base.id)
    cfg = evaluate.Config(
        variants=["teacher", str(base.id), str(onnx.id)],
        dataset_id=ds.id,
        project_id=p.id,
        timed_rows=3,
        judge=True,
        price_input_per_1k=1.0,
        price_output_per_1k=2.0,
    )
    assert not [i for i in evaluate.preflight(cfg) if i.blocking]
    ev = _read(evaluate.run(cfg, Reporter(tmp_path / "run")))

    assert ev["rows"] == TEST_ROWS and ev["labels"] == ["account", "billing", "shipping", "technical"]
    assert ev["primary_metric"] == "label_accuracy"
    teacher, hf, ox = ev["variants"]
    assert [v["status"] for v in ev["variants"]] == ["ok", "ok", "ok"]
    assert (teacher["runtime"], hf["runtime"], ox["runtime"]) == ("endpoint", "transformers", "onnxruntime-genai")
    for v in ev["variants"]:
        assert set(v["metrics"]) >= METRICS and len(v["samples"]) == TEST_ROWS
        assert all(set(s) >= SAMPLE_KEYS for s in v["samples"])
        assert v["metrics"]["latency_p50_ms"] > 0 and v["metrics"]["answered"] == TEST_ROWS
        if v["kind"] != "teacher":  # a labelled task's teacher answers whole (structured output)
            assert v["metrics"]["ttft_ms"] > 0  # the timed rows are measured to their first token
    assert teacher["metrics"]["label_accuracy"] == 1.0 and teacher["metrics"]["exact_match"] == 1.0
    # the teacher is asked as when it distils: the labels stated, the answer one of them (structured output)
    asked = [r.body for r in router.requests if "response_format" in (r.body or {})]
    assert len(asked) == TEST_ROWS and "exactly one of: account, billing, shipping, technical" in str(asked[0])
    assert teacher["metrics"]["perplexity"] is None  # an endpoint gives no likelihoods
    assert teacher["metrics"]["cost_per_1k_answers"] > 0
    for local in (hf, ox):
        assert local["metrics"]["perplexity"] > 1 and local["metrics"]["peak_rss_bytes"] > 10e6
        assert local["metrics"]["size_bytes"] > 0 and local["metrics"]["tokens_per_s"] > 0
    # the judge (the teacher) scored every answer; random tiny models never route right
    assert teacher["metrics"]["judge_score"] == 9.0 and hf["metrics"]["judge_score"] == 2.0
    assert all(s["judge_reason"] for s in teacher["samples"])
    assert ev["pareto"] and ev["recommendation"]["id"] in (base.id, onnx.id)
    assert ev["headline"]["sentence"].startswith(ev["recommendation"]["name"])


def test_a_failing_judge_is_counted_not_scored_zero(tiny_onnx, tmp_path):
    calls = {"n": 0}
    lock = threading.Lock()  # the server answers concurrent requests in threads: count each call exactly once

    def flaky_judge(messages):
        if messages[0]["content"].startswith("You grade"):
            with lock:
                calls["n"] += 1
                n = calls["n"]
            return '{"score": 6, "reason": "ok"}' if n % 2 else "I cannot grade this."
        return "billing"

    with OpenAIServer(answer=flaky_judge) as srv:
        ds = routing_dataset(tmp_path)
        p = project_with_teacher(srv.url)
        onnx = register(tiny_onnx["llama"], stage="convert", fmt="onnx", precision="int4", project_id=p.id)
        cfg = evaluate.Config(variants=[str(onnx.id)], dataset_id=ds.id, project_id=p.id, judge=True)
        m = _read(evaluate.run(cfg, Reporter(tmp_path / "run")))["variants"][0]["metrics"]
    assert m["judge_failed"] == TEST_ROWS // 2 and m["judge_score"] == 6.0


def test_an_unreachable_teacher_fails_alone_with_its_reason(tiny_onnx, tmp_path):
    from tests.conftest import free_port

    ds = routing_dataset(tmp_path)
    p = project_with_teacher(f"http://127.0.0.1:{free_port()}/v1")
    onnx = register(tiny_onnx["llama"], stage="convert", fmt="onnx", precision="int4", project_id=p.id)
    cfg = evaluate.Config(variants=["teacher", str(onnx.id), "999"], dataset_id=ds.id, project_id=p.id)
    issues = evaluate.preflight(cfg)
    assert any("999" in i.title and i.blocking for i in issues)  # the page and the CLI refuse it up front
    ev = _read(evaluate.run(cfg, Reporter(tmp_path / "run")))
    teacher, ox, missing = ev["variants"]
    assert teacher["status"] == "failed" and "Cannot reach" in teacher["error"]
    assert missing["status"] == "failed" and "does not exist" in missing["error"]
    assert ox["status"] == "ok" and ox["metrics"]["answered"] == TEST_ROWS


def test_a_second_run_answers_nothing_again(router, tiny_model_dir, tmp_path):
    ds = routing_dataset(tmp_path)
    p = project_with_teacher(router.url)
    base = register(tiny_model_dir, stage="import", fmt="hf", project_id=p.id)
    cfg = evaluate.Config(variants=["teacher", str(base.id)], dataset_id=ds.id, project_id=p.id)
    first = _read(evaluate.run(cfg, Reporter(tmp_path / "one")))
    before, n_requests = [(s.id, s.created_at) for s in _samples()], len(router.requests)
    second = _read(evaluate.run(cfg, Reporter(tmp_path / "two")))
    assert [(s.id, s.created_at) for s in _samples()] == before and len(before) == 2 * TEST_ROWS
    assert len(router.requests) == n_requests and not (tmp_path / "two" / "targets").exists()
    assert [v["metrics"] for v in second["variants"]] == [v["metrics"] for v in first["variants"]]


def test_kill_then_retry_resumes_without_answering_twice(supervisor, tmp_path):
    with OpenAIServer(answer=route_or_judge) as srv:
        # Three answers, then every request hangs unrecorded: the run stops there, however fast or slow the machine.
        srv.script = deque(Behaviour() for _ in range(3))
        srv.behaviour = Behaviour(hang=True)
        ds = routing_dataset(tmp_path)
        p = project_with_teacher(srv.url)
        cfg = evaluate.Config(variants=["teacher"], dataset_id=ds.id, project_id=p.id, concurrency=1, timed_rows=0)
        job = submit_job("evaluate", cfg, project_id=p.id)
        srv.wait_held(1)  # the fourth row is asked: the first three are stored
        assert len(_samples()) == 3
        os.kill(get_job(job.id).pid, signal.SIGKILL)
        assert wait_for_job(job.id, timeout=60).status == JobStatus.failed
        kept = {s.key: s.id for s in _samples()}
        asked = len(srv.requests)
        assert len(kept) == asked == 3  # the hung request was never answered nor recorded
        srv.behaviour = Behaviour()
        retry_job(job.id)
        done = wait_for_job(job.id, timeout=120)
        assert done.status == JobStatus.succeeded, done.error_label
    assert len(srv.requests) - asked == TEST_ROWS - len(kept)  # only the missing rows were asked
    assert {s.key: s.id for s in _samples() if s.key in kept} == kept
    ev = load_evaluation(job.id)
    assert ev.variants[0].metrics.answered == TEST_ROWS
    assert get_job(job.id).result["variants"][0]["metrics"]["label_accuracy"] == 1.0


def test_a_foundry_local_deployment_is_evaluated_through_its_endpoint(serving, tiny_onnx, tmp_path):
    from slmops_engine.models import DeploymentStatus
    from slmops_engine.serving import deployments as deps

    ds = routing_dataset(tmp_path)
    onnx = register(tiny_onnx["llama"], stage="convert", fmt="onnx", precision="int4")
    dep = deps.wait_for(deps.deploy(onnx.id).id, {DeploymentStatus.running, DeploymentStatus.failed}, 60)
    assert dep.status == DeploymentStatus.running, dep.error_label
    cfg = evaluate.Config(variants=[f"deployment:{dep.id}"], dataset_id=ds.id, max_new_tokens=4, timed_rows=2)
    v = _read(evaluate.run(cfg, Reporter(tmp_path / "run")))["variants"][0]
    assert v["status"] == "ok", v["error"]
    assert v["kind"] == "deployment" and v["metrics"]["answered"] == TEST_ROWS and v["metrics"]["failed"] == 0
    assert v["metrics"]["ttft_ms"] > 0 and v["metrics"]["peak_rss_bytes"] > 10e6  # the model server's memory
    assert v["metrics"]["size_bytes"] == onnx.size_bytes


def test_bad_references_are_refused_with_the_forms_they_take():
    with pytest.raises(ValueError, match="teacher, ID, ID:ADAPTER or deployment:ID"):
        evaluate.Config(variants=["gpt-4"], dataset_id=1)
    assert evaluate.Config(variants=[" 3", "3", "teacher", "4:support"], dataset_id=1).variants == [
        "3",
        "teacher",
        "4:support",
    ]
