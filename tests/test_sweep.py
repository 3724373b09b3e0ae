"""Hyper-parameter search on the tiny model: real trials as fine-tuning jobs, pruned by the validation loss the
trainer reports, the best one promoted; cancel stops the trial in flight; a retried search resumes its study."""

from __future__ import annotations

import json
import time

import pytest

from slmops_engine.data import import_file
from slmops_engine.jobs import cancel_job, get_job, list_jobs, retry_job, submit_job, wait_for_job
from slmops_engine.models import JobStatus
from slmops_engine.students import StudentChoice
from slmops_engine.sweep.config import SweepConfig

BASE = {"max_steps": 12, "eval_steps": 4, "save_steps": 4, "batch_size": 8, "precision": "fp32", "method": "lora"}
# A learning rate that learns, and ones far too small to: the pruner has something to tell apart.
SPACE = {"learning_rate": [1e-2, 1e-6, 3e-6], "lora_r": [4, 8]}


@pytest.fixture
def routing(tmp_path):
    rows = []
    for i in range(40):
        rows.append({"prompt": f"please reset my password {i}", "response": "account", "label": "account"})
        rows.append({"prompt": f"refund the double charge {i}", "response": "billing", "label": "billing"})
    for i, r in enumerate(rows):
        r["split"] = "validation" if i % 5 == 0 else "train"
    (tmp_path / "routes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return import_file(tmp_path / "routes.jsonl", project_id=None)[0]


def search(ds, model_dir, **kw) -> SweepConfig:
    student = StudentChoice(source="local", path=str(model_dir))
    return SweepConfig(dataset_id=ds.id, student=student, space=SPACE, base=BASE, **kw)


def test_a_search_tries_settings_prunes_the_hopeless_and_promotes_the_best(routing, tiny_model_dir, supervisor):
    from slmops_engine.db import session_scope
    from slmops_engine.models import ModelVariant

    # Seed 6 tries the learning rate that learns twice first, then a hopeless one: the pruner must stop that one.
    job = submit_job("sweep", search(routing, tiny_model_dir, trials=4, seed=6))
    done = wait_for_job(job.id, timeout=900)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    result = done.result
    trials = result["trials"]
    assert len(trials) == 4 and all(get_job(t["job_id"]).kind == "finetune" for t in trials)
    assert result["pruned"] >= 1  # a hopeless learning rate was stopped early
    for t in (t for t in trials if t["state"] == "pruned"):
        # The verdict is taken in the trial's own training loop at an evaluation, so it never races the trial's end
        # (a fast machine used to finish the hopeless trial before the search's cancel landed).
        pruned = get_job(t["job_id"])
        assert pruned.status == JobStatus.cancelled and pruned.message.startswith("Stopped by the search at step")
        assert pruned.result["pruned_at_step"] < BASE["max_steps"]
        assert t["params"]["learning_rate"] < 1e-2
    complete = [t["value"] for t in trials if t["state"] == "complete"]
    worst = max(t["value"] for t in trials if t["value"] is not None)  # a pruned trial's last reported loss
    assert result["best_value"] == min(complete) < worst
    assert result["best_params"]["learning_rate"] == 1e-2
    with session_scope() as s:
        best = s.get(ModelVariant, result["best_variant_id"])
    assert best.config["search"] == {"job_id": job.id, "trial": result["best_trial"], "params": result["best_params"]}


def test_cancel_stops_the_trial_in_flight_and_a_retry_resumes_the_study(routing, tiny_model_dir, supervisor):
    job = submit_job("sweep", search(routing, tiny_model_dir, trials=2, prune=False))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not [j for j in list_jobs() if j.kind == "finetune"]:
        time.sleep(0.2)
    [first] = [j for j in list_jobs() if j.kind == "finetune"]
    cancel_job(job.id)
    assert wait_for_job(job.id, timeout=120).status == JobStatus.cancelled
    assert wait_for_job(first.id, timeout=120).status == JobStatus.cancelled  # the trial in flight stopped too

    retry_job(job.id)
    done = wait_for_job(job.id, timeout=900)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    trials = done.result["trials"]
    assert len(trials) == 2 and trials[0]["job_id"] == first.id  # the stopped trial was continued, not redone
    assert get_job(first.id).status == JobStatus.succeeded and get_job(first.id).attempt == 2


def test_slmops_sweep_from_the_command_line(routing, tiny_model_dir, tmp_path):
    from tests.test_cli import slmops

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"learning_rate": [1e-2]}))
    r = slmops(
        "sweep", "--dataset", str(routing.id), "--student-path", str(tiny_model_dir), "--trials", "1",
        "--space", str(space), "--max-steps", "4", "--wait",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("trial   1  complete") and lines[-2].startswith("best: trial 1 (eval_loss ")
    assert lines[-1].isdigit()
    bad = slmops("sweep", "--dataset", str(routing.id), "--student-path", str(tiny_model_dir), "--space", "{}")
    assert bad.returncode != 0
