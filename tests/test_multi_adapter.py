"""Multi-adapter ONNX: one base + one .onnx_adapter file per LoRA adapter, switched at generation time."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmops_engine.db import session_scope
from slmops_engine.errors import ConfigError
from slmops_engine.models import ModelVariant
from slmops_engine.optimize.builder import generate
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import convert
from tests.test_convert import hf_variant

PROMPT = "how do I reset my password"
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter(base: ModelVariant, out: Path, seed: int, targets=ALL, name: str | None = None) -> ModelVariant:
    """A real PEFT LoRA adapter with random (non-zero) weights, recorded as a fine-tune of `base`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base.artifact_path)
    cfg = LoraConfig(r=8, lora_alpha=16, target_modules=targets, init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, cfg).save_pretrained(out)
    with session_scope() as s:
        v = ModelVariant(
            name=name or f"adapter {seed}",
            stage="finetune",
            format="hf",
            parent_id=base.id,
            config={"adapter_path": str(out), "adapter_name": name or f"ad{seed}"},
        )
        s.add(v)
    return v


def peft_greedy(base_dir: Path, adapter_dir: Path | None, n: int) -> list[int]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, adapter_dir)
    enc = tok(PROMPT, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.eval().generate(**enc, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return out[0][enc["input_ids"].shape[1] :].tolist()


@pytest.fixture
def two_adapters(tiny_model_dir, tmp_path):
    base = hf_variant(tiny_model_dir)
    return base, [make_adapter(base, tmp_path / f"ad{i}", seed=i, name=n) for i, n in ((1, "billing"), (2, "account"))]


@pytest.mark.parametrize("precision", ["fp32", "int4"])
def test_two_adapters_on_one_base_switch_at_generation_time(two_adapters, tmp_path, precision):
    base, adapters = two_adapters
    cfg = convert.Config(variant_id=base.id, precision=precision, adapter_ids=[a.id for a in adapters])
    assert convert.preflight(cfg) == []
    result = convert.run(cfg, Reporter(tmp_path / "run"))
    out = Path(result["path"])
    files = [out / a["file"] for a in result["adapters"]]
    assert [a["name"] for a in result["adapters"]] == [f"a{adapters[0].id}-billing", f"a{adapters[1].id}-account"]
    assert all(f.exists() and f.suffix == ".onnx_adapter" for f in files)
    assert len(list(out.glob("*.onnx"))) == 1  # one base, not one model per adapter

    base_ids, _ = generate(out, PROMPT, 12, chat=False)
    one, _ = generate(out, PROMPT, 12, chat=False, adapter=files[0])
    two, _ = generate(out, PROMPT, 12, chat=False, adapter=files[1])
    assert one != two and one != base_ids and two != base_ids
    assert all(a["differs_from_base"] and a["verify_reply"] is not None for a in result["adapters"])
    if precision == "fp32":  # the switched adapter computes what PEFT computes in PyTorch
        base_dir = Path(base.artifact_path)
        assert one == peft_greedy(base_dir, adapters[0].config["adapter_path"], 12)
        assert two == peft_greedy(base_dir, adapters[1].config["adapter_path"], 12)
        assert base_ids == peft_greedy(base_dir, None, 12)
    with session_scope() as s:
        v = s.get(ModelVariant, result["variant_id"])
    assert v.name.endswith("· 2 adapters") and [a["variant_id"] for a in v.metrics["adapters"]] == [
        a.id for a in adapters
    ]


def test_adapters_that_cannot_share_a_base_are_refused(two_adapters, tiny_model_dir, tmp_path):
    base, (first, _) = two_adapters
    narrow = make_adapter(base, tmp_path / "narrow", seed=3, targets=["q_proj", "v_proj"])
    other = hf_variant(tiny_model_dir)
    stranger = make_adapter(other, tmp_path / "stranger", seed=4)
    full = ModelVariant(name="full fine-tune", stage="finetune", parent_id=base.id, config={"adapter_path": None})
    with session_scope() as s:
        s.add(full)
    cases = {
        narrow.id: "adapts other layers",
        stranger.id: "trained on another base",
        full.id: "has no LoRA adapter on disk",
    }
    for adapter_id, words in cases.items():
        cfg = convert.Config(variant_id=base.id, precision="int4", adapter_ids=[first.id, adapter_id])
        assert any(words in i.detail for i in convert.preflight(cfg)), words
        with pytest.raises(ConfigError, match="cannot share one ONNX base"):
            convert.run(cfg, Reporter(tmp_path / f"r{adapter_id}"))


def test_chat_in_the_app_switches_adapters_per_answer(two_adapters, tmp_path):
    from slmops_engine.serving.adapter_chat import AdapterModel, adapter_chat

    base, adapters = two_adapters
    cfg = convert.Config(variant_id=base.id, precision="int4", adapter_ids=[a.id for a in adapters])
    result = convert.run(cfg, Reporter(tmp_path / "run"))
    with session_scope() as s:
        variant = s.get(ModelVariant, result["variant_id"])
    model = AdapterModel.from_variant(variant)
    assert model.names == [a["name"] for a in result["adapters"]]
    messages = [{"role": "user", "content": PROMPT}]
    files = {a["name"]: Path(result["path"]) / a["file"] for a in result["adapters"]}
    answers = {}
    for name in [None, *model.names]:
        answer = adapter_chat(model, messages, name, max_tokens=10)
        answers[name] = "".join(answer)
        assert 1 <= answer.tokens <= 10 and answer.ttft_ms > 0 and answer.text == answers[name]
        _, expected = generate(Path(result["path"]), PROMPT, 10, chat=True, adapter=files.get(name))
        # The same greedy answer as the offline check (a streamed answer holds back a cut-off character).
        assert answers[name] == expected.rstrip("\ufffd")
    assert len(set(answers.values())) == 3
    with pytest.raises(ConfigError, match="No adapter named"):
        adapter_chat(model, messages, "nope")


def test_olive_finding_no_lora_layers_is_an_error_not_a_silent_success(tiny_model_dir, tmp_path):
    from slmops_engine.errors import ModelLoadError
    from slmops_engine.optimize.adapters import extract_adapter
    from slmops_engine.optimize.builder import run_builder

    plain = tmp_path / "plain"
    run_builder(convert.Config(variant_id=0, precision="fp32"), tiny_model_dir, plain, tmp_path / "c", tmp_path / "log")
    with pytest.raises(ModelLoadError, match="Olive found no LoRA layers"):
        extract_adapter(plain, tmp_path / "out", tmp_path / "olive.log")  # Olive itself exits 0 here
