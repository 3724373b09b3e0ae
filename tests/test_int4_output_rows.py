"""The output layer's likeliest rows in 8 bits beside the int4 output layer: their logits replace the int4 ones,
every other logit stays as the int4 model computes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slmops_engine.optimize.output_rows import likely_tokens, symmetric_8bit


def test_q8_0_rows_are_kept_exactly():
    rng = np.random.default_rng(0)
    d = rng.uniform(1e-4, 1e-2, (5, 3, 1))
    q = rng.integers(-127, 128, (5, 3, 32))
    q[..., 0] = rng.choice([-127, 127], (5, 3))  # Q8_0 maps each block's largest magnitude to ±127
    rows = (d * q).reshape(5, -1).astype(np.float32)
    codes, scales = symmetric_8bit(rows)
    assert np.array_equal(codes.astype(int) - 128, q)  # the same codes, and the same step
    assert np.allclose(scales.reshape(5, 3, 1), d, rtol=1e-6) and codes.shape == (5, 3, 32)


def test_the_likeliest_tokens_are_the_specials_then_the_examples_then_the_earliest_merges(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    specials = set(tok.all_special_ids)
    text = "zebra quantum zebra"
    used = set(tok(text, add_special_tokens=False)["input_ids"])
    n = len(specials | used) + 10
    picked = likely_tokens(tiny_model_dir, [text], n=n)
    assert list(picked) == sorted(set(picked)) and len(picked) == n
    assert specials | used <= set(picked)  # the examples' tokens, however late in the vocabulary
    earliest = [i for i in range(len(tok)) if i not in specials | used][: n - len(specials | used)]
    assert set(picked) == specials | used | set(earliest)  # then the earliest merges
    without = likely_tokens(tiny_model_dir, [], n=n)
    assert set(without) == specials | set([i for i in range(len(tok)) if i not in specials][: n - len(specials)])
    assert len(likely_tokens(tiny_model_dir, [text], n=10**6)) == len(tok)  # never more than the vocabulary


def _next_logits(onnx_dir, ids: list[int]) -> np.ndarray:
    import onnxruntime_genai as og

    model = og.Model(str(onnx_dir))
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(ids) + 1, do_sample=False)
    gen = og.Generator(model, params)
    gen.append_tokens(ids)
    return np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1)


def _reference_logits(model_dir, ids: list[int], onnx_dir) -> np.ndarray:
    """fp32 next-token logits with the input embedding as the int4 model has it (the builder's int4 of the table it
    shares with the output layer) and the output layer in full: what an exact output layer would give."""
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoModelForCausalLM

    from slmops_engine.optimize.offsets import dequantize_symmetric

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    stored = {t.name: t for t in onnx.load(str(Path(onnx_dir) / "model.onnx")).graph.initializer}
    n, k = model.lm_head.weight.shape
    packed, scales = (numpy_helper.to_array(stored[f"lm_head.MatMul.weight_{x}"]) for x in ("Q4", "scales"))
    with torch.no_grad():
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())  # untied
        model.model.embed_tokens.weight.copy_(torch.from_numpy(dequantize_symmetric(packed, scales, n, k)))
        return model(torch.tensor([ids])).logits[0, -1].double().numpy()


def test_the_likely_rows_replace_their_logits_and_leave_the_rest(tiny_model_dir, tmp_path):
    import shutil

    from slmops_engine.optimize.output_rows import keep_output_rows
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert
    from tests.test_convert import hf_variant
    from tests.test_int4_grid import _snap_to_q4_1

    # layers on a 4-bit grid (kept by the grid route), so that the output layer's own rounding shows
    src = _snap_to_q4_1(tiny_model_dir, tmp_path / "q4_1", embedding=False)
    variant = hf_variant(src)
    ids = [int(i) for i in np.random.default_rng(1).integers(3, 200, 24)]
    cfg = convert.Config(
        variant_id=variant.id, precision="int4", int4_method="grid", int4_accuracy_level=1, int4_output_layer="int4"
    )
    plain = convert.run(cfg, Reporter(tmp_path / "plain"))["path"]
    ref = _reference_logits(src, ids, plain)
    some = np.arange(0, len(ref), 3)  # every third row
    shutil.copytree(plain, tmp_path / "some")
    assert keep_output_rows(tmp_path / "some", src, some) == {"likely_rows": len(some)}
    int4, mixed = _next_logits(plain, ids), _next_logits(tmp_path / "some", ids)
    rest = np.setdiff1d(np.arange(len(ref)), some)
    assert np.array_equal(mixed[rest], int4[rest])  # untouched
    # the output layer's own rounding is gone from these (the layers' remainder is kept to its own 4 bits)
    assert np.abs(mixed[some] - ref[some]).mean() < 0.2 * np.abs(int4[some] - ref[some]).mean()

    cfg = convert.Config(variant_id=variant.id, precision="int4", int4_output_layer="int8_likely")
    result = convert.run(cfg, Reporter(tmp_path / "likely"))
    assert result["likely_rows"] == len(ref)  # the tiny vocabulary is smaller than 8,192: every row
    assert result["int4_route"] == "round to nearest, likely output rows int8"
