"""The real student: the bundled SmolLM2-135M fine-tuned for a few steps on the sample data (slow)."""

from __future__ import annotations

import pytest

from slmops_engine.data import import_sample
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import finetune
from slmops_engine.students import StudentChoice


@pytest.mark.slow
def test_smollm2_lora_few_steps_lowers_validation_loss_and_generates(bundled_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmops_engine.data import SplitConfig, split_dataset

    ds = split_dataset(import_sample(None).id, SplitConfig(validation=0.05, test=0.0))
    cfg = finetune.Config(
        dataset_id=ds.id,
        student=StudentChoice(source="local", path=str(bundled_model_dir)),
        max_steps=6,
        batch_size=4,
        max_length=128,
        learning_rate=2e-4,
        eval_steps=100,
        save_steps=100,
        precision="fp32",
    )
    result = finetune.run(cfg, Reporter(tmp_path / "run"))
    assert result["eval_loss_end"] < result["eval_loss_start"]
    assert result["real_tokens"] > 0 and result["tokens_per_s"] > 0
    tok = AutoTokenizer.from_pretrained(result["path"])
    model = AutoModelForCausalLM.from_pretrained(result["path"])
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "My card was charged twice for Plus."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert tok.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
