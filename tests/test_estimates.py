"""Estimates before a run, from measurements: the laptop's figure on a machine that never ran the work, then the
newest run of the same work here, scaled by the amount of work; and the estimate beside what the run took."""

from __future__ import annotations

import json

import pytest

from slmops_engine.data import import_file
from slmops_engine.jobs import get_job, submit_job
from slmops_engine.jobs.estimates import LAPTOP, outcome, recorded, took
from slmops_engine.jobs.worker import run_job
from slmops_engine.models import JobStatus
from slmops_engine.stages import convert, finetune
from slmops_engine.students import StudentChoice


@pytest.fixture
def routing(tmp_path):
    rows = [
        {"prompt": f"{'refund the charge' if i % 2 else 'reset my password'} {i}", "response": r, "label": r}
        for i, r in enumerate(["account", "billing"] * 24)
    ]
    for i, r in enumerate(rows):
        r["split"] = "validation" if i % 6 == 0 else "train"
    f = tmp_path / "routing.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return import_file(f, project_id=None)[0]


def tune(ds, model_dir, **kw) -> finetune.Config:
    student = StudentChoice(source="local", path=str(model_dir))
    base = dict(dataset_id=ds.id, student=student, epochs=2.0, batch_size=8, eval_steps=50, save_steps=50)
    return finetune.Config(precision="fp32", **{**base, **kw})


def test_a_finetune_is_estimated_from_its_tokens_then_from_the_last_run(routing, tiny_model_dir):
    from slmops_engine.finetune.estimate import planned_work

    cfg = tune(routing, tiny_model_dir)
    first = finetune.estimate(cfg)
    assert first.basis.startswith(LAPTOP) and first.seconds > 0 and first.peak_bytes > 0
    job = submit_job("finetune", cfg)
    assert recorded(job.id) == first  # written when the job was submitted
    assert run_job(job.id) == JobStatus.succeeded
    done = get_job(job.id)
    result = done.result
    # The work is counted as the trainer counts it: the tokens of every pass, chat template included.
    assert planned_work(cfg).tokens == pytest.approx(result["real_tokens"], rel=0.01)
    assert result["peak_rss_bytes"] > 100e6 and result["longest_tokens"] > 0

    again = finetune.estimate(cfg)  # the same work: what the run took, and its measured peak
    assert again.basis == f"from run #{job.id} of this model"
    assert again.seconds == pytest.approx(took(done), rel=0.02)
    assert again.peak_bytes == result["peak_rss_bytes"]
    longer = finetune.estimate(tune(routing, tiny_model_dir, epochs=4.0))
    fixed = took(done) - result["train_seconds"]
    assert longer.seconds == pytest.approx(fixed + 2 * result["real_tokens"] / result["tokens_per_s"], rel=0.02)
    bigger = finetune.estimate(tune(routing, tiny_model_dir, batch_size=32))
    assert bigger.peak_bytes > again.peak_bytes  # moved by what the rule of thumb sees between the two
    # Another method has not run here: the laptop's figure again.
    assert finetune.estimate(tune(routing, tiny_model_dir, method="full")).basis.startswith(LAPTOP)
    text = outcome(done)
    assert text.startswith("Estimated ") and "; took " in text and "peaked at" in text


def test_a_conversion_is_estimated_from_the_last_one_with_the_same_settings(tiny_model_dir):
    from tests.test_convert import hf_variant

    src = hf_variant(tiny_model_dir)
    cfg = convert.Config(variant_id=src.id, precision="int8")
    assert convert.estimate(cfg).basis == LAPTOP
    job = submit_job("convert", cfg)
    assert run_job(job.id) == JobStatus.succeeded
    done = get_job(job.id)
    again = convert.estimate(cfg.model_copy(update={"output_name": "another name"}))
    assert again.basis == f"from run #{job.id} on this machine" and again.seconds == pytest.approx(took(done))
    assert again.peak_bytes == done.result["peak_rss_bytes"]
    # Other settings are other work: int4, or the quick check, were never measured here.
    assert convert.estimate(cfg.model_copy(update={"precision": "int4"})).basis == LAPTOP
    assert convert.estimate(cfg.model_copy(update={"check_dataset_id": 1})).basis == LAPTOP
