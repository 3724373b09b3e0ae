"""Fine-tuning on the tiny fixture model: every method learns, cancel / kill -9 resume, distillation, adapters."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from slmops_engine.data import import_file
from slmops_engine.errors import ConfigError
from slmops_engine.jobs import get_job, job_metrics, retry_job, run_dir, submit_job, wait_for_job
from slmops_engine.models import JobStatus
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import finetune
from slmops_engine.students import StudentChoice
from slmops_engine.variants import adapter_siblings


@pytest.fixture
def routing(tmp_path):
    rows = []
    for i in range(48):
        rows.append({"prompt": f"please reset my password now {i}", "response": "account", "label": "account"})
        rows.append({"prompt": f"refund the double charge on my card {i}", "response": "billing", "label": "billing"})
    for i, r in enumerate(rows):
        r["split"] = "validation" if i % 6 == 0 else "train"
    f = tmp_path / "routing.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(f, project_id=None)
    return ds


def cfg(ds, model_dir, **kw) -> finetune.Config:
    base = dict(
        dataset_id=ds.id,
        student=StudentChoice(source="local", path=str(model_dir)),
        max_steps=24,
        eval_steps=8,
        save_steps=8,
        batch_size=8,
        learning_rate=1e-2,
        precision="fp32",
    )
    return finetune.Config(**{**base, **kw})


@pytest.mark.parametrize(("method", "lr"), [("lora", 1e-2), ("dora", 1e-2), ("full", 3e-3)])
def test_each_method_lowers_validation_loss(routing, tiny_model_dir, tmp_path, method, lr):
    result = finetune.run(cfg(routing, tiny_model_dir, method=method, learning_rate=lr), Reporter(tmp_path / "run"))
    assert result["eval_loss_end"] < result["eval_loss_start"] * 0.9
    assert result["steps"] == 24 and result["real_tokens"] > 0 and result["tokens_per_s"] > 0
    # a labelled task: the share of validation rows answered with the right label, before and after
    assert 0 <= result["eval_accuracy_start"] <= 1 and 0 <= result["eval_accuracy_end"] <= 1
    merged = Path(result["path"])
    assert (merged / "model.safetensors").exists() and (merged / "tokenizer.json").exists()


def test_the_quick_preset_as_it_is_lowers_the_validation_loss(routing, tiny_model_dir, tmp_path):
    from slmops_engine.finetune.config import apply_preset

    quick = apply_preset("quick", method="lora")
    student = StudentChoice(source="local", path=str(tiny_model_dir))
    config = finetune.Config(dataset_id=routing.id, student=student, precision="fp32", **quick)
    result = finetune.run(config, Reporter(tmp_path / "run"))
    assert result["steps"] == 30  # three passes over 80 training rows at the default batch of 8
    assert result["eval_loss_end"] < result["eval_loss_start"] * 0.95


def test_merged_model_matches_base_plus_adapter(routing, tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = finetune.run(cfg(routing, tiny_model_dir), Reporter(tmp_path / "run"))
    from slmops_engine.variants import list_variants

    variant = next(v for v in list_variants(stage="finetune") if v.id == result["variant_id"])
    ids = torch.tensor([[5, 17, 42, 99, 3]])
    merged = AutoModelForCausalLM.from_pretrained(result["path"]).eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), variant.config["adapter_path"]
    ).eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
    assert variant.parent_id is not None and "slmops finetune --dataset" in variant.config["command"]


def test_qlora_is_refused_cleanly_without_a_gpu(routing, tiny_model_dir, tmp_path):
    c = cfg(routing, tiny_model_dir, method="qlora")
    assert "QLoRA needs a CUDA GPU" in [i.title for i in finetune.preflight(c) if i.blocking]
    with pytest.raises(ConfigError, match="QLoRA needs a CUDA GPU"):
        finetune.run(c, Reporter(tmp_path / "run"))
    with pytest.raises(ConfigError, match="QLoRA needs a CUDA GPU"):
        submit_job("finetune", c)


def test_logit_distillation_adds_a_kl_term(routing, tiny_model_dir, tmp_path):
    from tests.support.tiny_model import build_tiny_model

    teacher = build_tiny_model(tmp_path / "teacher", seed=7)  # same tokenizer, different weights
    c = cfg(routing, tiny_model_dir, kd=True, kd_teacher_path=str(teacher), kd_alpha=0.5, kd_temperature=2.0)
    assert not [i for i in finetune.preflight(c) if i.blocking]
    finetune.run(c, Reporter(tmp_path / "run"))
    points = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    by = {(p["name"], p["step"]): p["value"] for p in points}
    step = max(s for n, s in by if n == "kl_loss")
    assert by[("kl_loss", step)] > 0
    assert by[("loss", step)] == pytest.approx(0.5 * by[("ce_loss", step)] + 0.5 * by[("kl_loss", step)], rel=1e-3)


def test_two_adapters_on_one_base_are_siblings(routing, tiny_model_dir, tmp_path):
    a = finetune.run(cfg(routing, tiny_model_dir, adapter_name="billing", max_steps=4), Reporter(tmp_path / "a"))
    b = finetune.run(cfg(routing, tiny_model_dir, adapter_name="account", max_steps=4), Reporter(tmp_path / "b"))
    from slmops_engine.variants import list_variants

    va, vb = (next(v for v in list_variants(stage="finetune") if v.id == r["variant_id"]) for r in (a, b))
    assert va.parent_id == vb.parent_id
    sibs = adapter_siblings(va.parent_id)
    assert {v.config["adapter_name"] for v in sibs} == {"billing", "account"}
    assert all((Path(v.config["adapter_path"]) / "adapter_config.json").exists() for v in sibs)


def _losses(job_id: int) -> dict[int, float]:
    return {p.step: p.value for p in job_metrics(job_id) if p.name == "loss"}


def _wait(pred, timeout=120):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_then_resume_reproduces_the_uninterrupted_run(routing, tiny_model_dir, supervisor):
    base = dict(max_steps=48, save_steps=8, eval_steps=16, logging_steps=1, lora_dropout=0.0)
    ref = wait_for_job(submit_job("finetune", cfg(routing, tiny_model_dir, **base)).id, timeout=300)
    ref_losses = _losses(ref.id)

    job = submit_job("finetune", cfg(routing, tiny_model_dir, **base))
    ckpts = run_dir(job.id) / "checkpoints"
    _wait(lambda: any(ckpts.glob("checkpoint-16")))  # killed while (or just after) the checkpoint is written
    os.kill(get_job(job.id).pid, signal.SIGKILL)
    assert wait_for_job(job.id, timeout=60).status == JobStatus.failed
    retry_job(job.id)
    done = wait_for_job(job.id, timeout=300)
    assert done.status == JobStatus.succeeded, done.error_label
    assert done.result["resumed"] is True and done.result["steps"] == 48
    losses = _losses(job.id)
    assert sorted(losses) == list(range(1, 49))  # curves continue; no step twice
    assert all(losses[s] == ref_losses[s] for s in range(1, 9))  # same seed, same run before any resume point
    # After resuming, the run continues from the checkpoint's weights and optimizer state: it tracks the
    # uninterrupted run closely (the length-grouped batch order is not bit-identical after a resume).
    for step in range(9, 49):
        assert losses[step] == pytest.approx(ref_losses[step], rel=0.05)
    assert done.result["eval_loss_end"] == pytest.approx(ref.result["eval_loss_end"], rel=0.05)


def test_cancel_keeps_a_checkpoint_and_resume_continues(routing, tiny_model_dir, supervisor):
    job = submit_job("finetune", cfg(routing, tiny_model_dir, max_steps=160, save_steps=40, eval_steps=80))
    _wait(lambda: len(_losses(job.id)) >= 10)
    from slmops_engine.jobs import cancel_job

    cancel_job(job.id)
    cancelled = wait_for_job(job.id, timeout=120)
    # Honoured by the trainer at a step boundary (checkpoint first), never cut short by an escalated SIGTERM.
    assert cancelled.status == JobStatus.cancelled and cancelled.message == "Cancelled by the operator"
    stopped_at = max(_losses(job.id))
    assert any((run_dir(job.id) / "checkpoints").glob(f"checkpoint-{stopped_at}"))  # saved where it stopped
    retry_job(job.id)
    done = wait_for_job(job.id, timeout=300)
    assert done.status == JobStatus.succeeded and done.result["resumed"] is True
    assert sorted(_losses(job.id)) == list(range(1, 161))
