"""ONNX conversion with onnxruntime-genai's builder on the tiny fixture model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slmops_engine.db import session_scope
from slmops_engine.errors import ModelLoadError
from slmops_engine.models import ModelVariant
from slmops_engine.optimize.builder import generate
from slmops_engine.stage_api import Reporter
from slmops_engine.stages import convert


def hf_variant(path: Path) -> ModelVariant:
    with session_scope() as s:
        v = ModelVariant(
            name="tiny",
            stage="import",
            format="hf",
            artifact_path=str(path),
            size_bytes=sum(f.stat().st_size for f in path.glob("*.safetensors")),
        )
        s.add(v)
    return v


@pytest.mark.parametrize("precision", ["fp32", "int8", "int4"])
def test_each_precision_converts_verifies_and_generates(tiny_model_dir, tmp_path, precision):
    src = hf_variant(tiny_model_dir)
    result = convert.run(convert.Config(variant_id=src.id, precision=precision), Reporter(tmp_path / "run"))
    out = Path(result["path"])
    assert {"genai_config.json", "model.onnx", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    assert result["verify_tokens"] > 0 and result["tokenizer_vocab"] == result["vocab_size"]
    with session_scope() as s:
        v = s.get(ModelVariant, result["variant_id"])
    assert (v.stage, v.format, v.precision, v.parent_id) == ("convert", "onnx", precision, src.id)
    assert not out.with_name(out.name + ".partial").exists()


def test_int4_options_reach_the_builder_and_asymmetric_works(tiny_model_dir, tmp_path):
    import onnx

    src = hf_variant(tiny_model_dir)
    cfg = convert.Config(variant_id=src.id, precision="int4", int4_block_size=16, int4_symmetric=False)
    result = convert.run(cfg, Reporter(tmp_path / "run"))
    out = Path(result["path"])
    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    attrs = [{a.name: a.i for a in n.attribute} for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert attrs and all(a["block_size"] == 16 and a["accuracy_level"] == 4 for a in attrs)
    assert any(i.name.endswith("zero_points") for i in model.graph.initializer)  # asymmetric: zero points
    assert result["verify_tokens"] > 0 and result["cpu_threads"] >= 1
    genai = json.loads((out / "genai_config.json").read_text())
    session = genai["model"]["decoder"]["session_options"]
    # threads that do not spin while they wait: the best worst case beside a busy process (decode_under_load.py)
    assert session["intra_op_num_threads"] == result["cpu_threads"]
    assert session["session.intra_op.allow_spinning"] == "0"


def test_int4_is_smaller_than_fp32(tiny_model_dir, tmp_path):
    src = hf_variant(tiny_model_dir)
    sizes = {
        p: convert.run(convert.Config(variant_id=src.id, precision=p), Reporter(tmp_path / p))["size_bytes"]
        for p in ("fp32", "int4")
    }
    assert sizes["int4"] < 0.6 * sizes["fp32"]


def test_fp32_onnx_greedy_output_equals_transformers(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = hf_variant(tiny_model_dir)
    out = Path(convert.run(convert.Config(variant_id=src.id, precision="fp32"), Reporter(tmp_path / "r"))["path"])
    prompt = "how do I reset my password"
    onnx_ids, _ = generate(out, prompt, max_new_tokens=12, chat=False)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        ref = model.generate(**enc, max_new_tokens=12, do_sample=False, min_new_tokens=12)
    ref_ids = ref[0][enc["input_ids"].shape[1] :].tolist()
    n = min(len(onnx_ids), len(ref_ids))
    assert n > 0 and onnx_ids[:n] == ref_ids[:n]


def test_folder_without_tokenizer_is_refused(tiny_model_dir, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model_dir, bare)
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (bare / f).unlink(missing_ok=True)
    src = hf_variant(bare)
    cfg = convert.Config(variant_id=src.id, precision="int4")
    assert any("no tokenizer files" in i.title for i in convert.preflight(cfg))
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        convert.run(cfg, Reporter(tmp_path / "run"))


def test_gpu_precisions_are_refused_on_a_cpu_machine(tiny_model_dir):
    src = hf_variant(tiny_model_dir)
    issues = convert.preflight(convert.Config(variant_id=src.id, precision="fp16"))
    assert any("needs a CUDA GPU" in i.title for i in issues)


def test_cli_quantize_wait(tiny_model_dir):
    from tests.test_cli import slmops

    src = hf_variant(tiny_model_dir)
    r = slmops("quantize", str(src.id), "--precision", "int4", "--wait")
    assert r.returncode == 0, r.stderr
    # the default rounding (auto) is round to nearest for a model that is not 4-bit
    assert r.stdout.strip().splitlines()[-1].isdigit() and "int4 (round to nearest):" in r.stdout
    # what it was expected to take, then what it took
    assert "estimated under a minute and" in r.stderr and "(measured on a 2-core laptop)" in r.stderr
    assert "; took " in r.stderr and "peaked at" in r.stderr
    r = slmops("quantize", "999", "--wait")
    assert r.returncode == 2 and "Model variant 999 does not exist" in r.stderr


def test_quick_quality_check_and_recommendation(tiny_model_dir, tmp_path):
    import json

    from slmops_engine.data import import_file
    from slmops_engine.optimize.convert import recommendation
    from slmops_engine.optimize.quality import recommend, rouge_l

    f = tmp_path / "v.jsonl"
    f.write_text(
        "\n".join(
            json.dumps({"prompt": f"reset my password {i}", "response": "account please", "split": "validation"})
            for i in range(4)
        )
        + "\n"
    )
    ds, _ = import_file(f, project_id=None)
    src = hf_variant(tiny_model_dir)
    checks = {}
    for p in ("fp32", "int4"):
        r = convert.run(
            convert.Config(variant_id=src.id, precision=p, check_dataset_id=ds.id, check_rows=4), Reporter(tmp_path / p)
        )
        checks[p] = r["quality"]
    fp32 = checks["fp32"]
    assert fp32["rows"] == 4 and fp32["perplexity_ratio"] == pytest.approx(1.0, rel=1e-3)  # same model, same numbers
    assert fp32["onnx"]["tokens_per_s"] > 0 and fp32["source"]["tokens_per_s"] > 0
    assert checks["int4"]["perplexity_ratio"] > 0 and 0 < checks["int4"]["kept"] <= 1.5
    assert "recommended" in recommendation(src.id) or "No conversion keeps" in recommendation(src.id)
    assert rouge_l("the card was charged", "my card was charged twice") == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert (
        recommend(
            [
                {"precision": "int4", "size_ratio": 0.21, "kept": 0.975},
                {"precision": "int8", "size_ratio": 0.3, "kept": 0.99},
            ]
        )
        == "int4 keeps 98% of quality at 21% of the size — recommended for this machine."
    )
