"""The 'grid' int4 route: each block of 32 weights keeps its own offset, so weights that already lie on a 4-bit
grid with an offset (a GGUF Q4_1 model) keep them, and other weights are rounded no worse than asymmetric rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slmops_engine.optimize.offsets import BLOCK, grid_weights, quantize_rows, share_on_grid


def _codes(packed, n, blocks):
    q = np.empty((n, blocks, BLOCK), np.float64)
    q[..., 0::2], q[..., 1::2] = packed.reshape(n, blocks, BLOCK // 2) & 0x0F, packed.reshape(n, blocks, -1) >> 4
    return q


def _restore(packed, scales, zp, remainder, n, k):
    nb = k // BLOCK
    w = (_codes(packed, n, nb) - zp[..., None]) * scales.reshape(n, nb, 1) + remainder.T[..., None]
    return w.reshape(n, k)


def _effective(packed, scales, zp_bytes, extension, n, k):
    """The weight a MatMulNBits over [x, x · E] applies to x: its first K rows plus E times the extra rows."""
    width = extension.shape[1]
    blocks = -(-(k + width) // BLOCK)  # the last block partly filled
    zp = np.stack([zp_bytes.reshape(n, -1) & 0x0F, zp_bytes.reshape(n, -1) >> 4], -1).reshape(n, -1)[:, :blocks]
    full = ((_codes(packed, n, blocks) - zp[..., None]) * scales.reshape(n, blocks, 1)).reshape(n, -1)
    return full[:, :k] + full[:, k : k + width] @ extension.T


def _q4_1(rng, n, blocks):
    """Weights on a Q4_1 grid; every block straddles zero, as all 3.3 million of the bundled model's do."""
    d = rng.uniform(0.001, 0.02, (n, blocks, 1))
    q = rng.integers(0, 16, (n, blocks, BLOCK))
    q[..., 0], q[..., 1] = 0, 15
    return (d * (q - rng.uniform(0, 15, (n, blocks, 1)))).reshape(n, -1).astype(np.float32), d


def test_q4_1_weights_are_kept_exactly():
    rng = np.random.default_rng(0)
    n, k = 6, 5 * BLOCK  # an odd number of blocks: the last zero-point byte holds one
    d = rng.uniform(0.001, 0.02, (n, k // BLOCK, 1))
    m = rng.uniform(-0.2, 0.05, (n, k // BLOCK, 1))
    q = rng.integers(0, 16, (n, k // BLOCK, BLOCK))
    q[..., 0], q[..., 1] = 0, 15  # Q4_1 maps each block's min to 0 and its max to 15
    w = (d * q + m).reshape(n, k).astype(np.float32)
    restored = _restore(*quantize_rows(w), n, k)
    assert np.abs(restored - w).max() < 1e-6


def test_other_weights_are_rounded_within_half_a_step():
    rng = np.random.default_rng(1)
    n, k = 4, 4 * BLOCK
    w = rng.standard_normal((n, k)).astype(np.float32)
    w[0, :BLOCK] = 0.5  # a constant block is exact too
    packed, scales, zp, remainder = quantize_rows(w)
    step = scales.reshape(n, k // BLOCK).repeat(BLOCK, axis=1)
    err = np.abs(_restore(packed, scales, zp, remainder, n, k) - w)
    assert (err <= step / 2 + 1e-6).all() and err[0, :BLOCK].max() < 1e-7
    assert packed.shape == (n, k // BLOCK, BLOCK // 2) and remainder.shape == (k // BLOCK, n)


@pytest.mark.parametrize("blocks", [5, 48])  # one block of sums (partly filled), and two
def test_the_remainder_rides_in_the_same_product_within_a_thirtieth_of_a_step(blocks):
    rng = np.random.default_rng(3)
    n, k = 8, blocks * BLOCK
    w, d = _q4_1(rng, n, blocks)
    packed, scales, zp_bytes, extension = grid_weights(w)
    assert extension.shape == (k, blocks) and packed.shape == (n, blocks + -(-blocks // BLOCK), BLOCK // 2)
    assert np.allclose(np.ones(k) @ extension, np.ones(blocks))  # one mean per block of x
    err = np.abs(_effective(packed, scales, zp_bytes, extension, n, k) - w)
    assert (err <= d.max(axis=(1, 2))[:, None] / 30 + 1e-6).all(), err.max()
    # a whole-number zero point alone would be off by up to half a step
    rounded = _restore(*quantize_rows(w)[:3], np.zeros((blocks, n), np.float32), n, k)
    assert np.abs(rounded - w).max() > 10 * err.max()


def test_a_lora_change_rides_beside_the_4_bit_base():
    """W + s·B·A: the base on its grid, the change through A·x and s·B, instead of rounding the sum afresh."""
    rng = np.random.default_rng(4)
    n, k, r = 64, 6 * BLOCK, 16
    w, d = _q4_1(rng, n, k // BLOCK)
    a = rng.normal(0, 0.05, (r, k)).astype(np.float32)
    b = rng.normal(0, 0.02, (n, r)).astype(np.float32)  # about a fifth of a step per weight: below rounding
    tuned = w + b @ a
    packed, scales, zp_bytes, extension = grid_weights(w, (a, b))
    assert extension.shape == (k, BLOCK + k // BLOCK) and np.array_equal(extension[:, :r], a.T)
    err = np.abs(_effective(packed, scales, zp_bytes, extension, n, k) - tuned)
    change = np.abs(b @ a)
    assert err.mean() < 0.1 * change.mean(), (err.mean(), change.mean())
    # rounding the merged weights afresh (each block on its own grid) loses most of the change
    fresh = _restore(*quantize_rows(tuned), n, k)
    assert np.abs(fresh - tuned).mean() > 5 * err.mean()


def _snap_to_q4_1(src, dst, embedding: bool = True):
    """A copy of the model whose layer weights lie on a Q4_1 grid, as a GGUF Q4_1 model's do; its embedding (shared
    with the output layer) on the symmetric int4 grid the builder uses, so that only the layers tell the routes
    apart (``embedding`` False: left as it was)."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    for f in dst.glob("*.safetensors"):
        weights = load_file(str(f))
        for name, w in weights.items():
            if "layers." in name and name.endswith("proj.weight"):
                b = w.float().reshape(w.shape[0], -1, BLOCK)
                lo, hi = b.min(-1, keepdim=True).values, b.max(-1, keepdim=True).values
                d = (hi - lo) / 15
                weights[name] = (torch.round((b - lo) / d) * d + lo).reshape(w.shape).to(w.dtype)
            elif name.endswith("embed_tokens.weight") and embedding:
                b = w.float().reshape(w.shape[0], -1, BLOCK)
                step = b.abs().amax(-1, keepdim=True).clamp(min=1e-4) / 8
                q = torch.clamp(torch.round(b / step), -7, 7)
                q[..., :1] = -8  # one value per block at -8 steps: the builder's scale is exactly that step
                weights[name] = (q * step).reshape(w.shape).to(w.dtype)
        save_file(weights, str(f), metadata={"format": "pt"})
    return dst


def _nll_gap(onnx_dir, hf_dir, ids) -> float:
    """|NLL of the ONNX model − NLL of the PyTorch model| on one sequence."""
    import onnxruntime_genai as og
    import torch
    from transformers import AutoModelForCausalLM

    from slmops_engine.evaluate.runtimes import answer_nll

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1]
    ref = float(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum"))
    og_model = og.Model(str(onnx_dir))
    params = og.GeneratorParams(og_model)
    params.set_search_options(max_length=len(ids) + 1, do_sample=False)
    return abs(answer_nll(og.Generator(og_model, params), ids[:1], ids[1:]) - ref)


def _nll_gap_between(hf_a, hf_b, ids) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    nll = []
    for path in (hf_a, hf_b):
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1]
        nll.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum")))
    return abs(nll[0] - nll[1])


def test_the_grid_route_keeps_a_4_bit_model_far_closer_than_plain_int4(tiny_model_dir, tmp_path):
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert
    from tests.test_convert import hf_variant

    src = _snap_to_q4_1(tiny_model_dir, tmp_path / "q4_1")
    assert share_on_grid(src) == 1.0 and share_on_grid(tiny_model_dir) < 0.05  # a 4-bit model is recognised
    variant = hf_variant(src)
    ids = list(np.random.default_rng(2).integers(3, 200, 40))
    gaps = {}
    for method in ("rtn", "auto"):  # auto: the grid route, since the model is 4-bit
        # fp32 arithmetic (level 1): int8 activations would blur both routes alike on a model this small
        # the output layer as the builder makes it in both (the embedding is on its grid): the layers tell them apart
        cfg = convert.Config(
            variant_id=variant.id,
            precision="int4",
            int4_method=method,
            int4_accuracy_level=1,
            int4_output_layer="int4",
        )
        result = convert.run(cfg, Reporter(tmp_path / method))
        gaps[method] = _nll_gap(result["path"], src, [int(i) for i in ids])
        if method == "auto":
            assert result["int4_route"] == "block offsets kept"
            assert result["grid_nodes"] == 2 * 4 and result["grid_skipped"] == 0  # qkv, o, gate/up, down per layer
    # The grid route keeps the 4-bit layers (up to the remainder's own 4 bits); plain int4 rounds them a second time.
    assert gaps["auto"] < gaps["rtn"] / 10 and gaps["rtn"] > 1e-2, gaps


def test_the_grid_route_needs_the_plain_layout():
    import pytest
    from pydantic import ValidationError

    from slmops_engine.optimize.config import ConvertConfig

    with pytest.raises(ValidationError, match="grid route"):
        ConvertConfig(variant_id=1, int4_method="grid", int4_block_size=16)


def test_the_grid_route_is_refused_for_a_model_that_is_not_4_bit(tiny_model_dir):
    from slmops_engine.stages import convert
    from tests.test_convert import hf_variant

    variant = hf_variant(tiny_model_dir)  # trained in full precision (as a fine-tune of a 4-bit model is)
    [issue] = convert.preflight(convert.Config(variant_id=variant.id, precision="int4", int4_method="grid"))
    assert issue.blocking and "does not fit" in issue.title and "lie on a 4-bit grid" in issue.detail
    assert "not a LoRA fine-tune" in issue.detail and "round to nearest" in issue.detail
    assert convert.preflight(convert.Config(variant_id=variant.id, precision="int4")) == []


def _lora_fine_tune(base_dir, out):
    """A LoRA fine-tune of ``base_dir`` as the fine-tuning stage saves one: the adapter folder, the merged model, and
    a variant whose config names both. B is drawn at random: the change is a fraction of a grid step per weight,
    as a real fine-tune's is (the demo's: 1/40 of a step on average), yet it moves the model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmops_engine.variants import register

    torch.manual_seed(5)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.005)
    model.save_pretrained(str(out / "adapter"))
    model.merge_and_unload().save_pretrained(str(out / "merged"))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(out / "merged"))
    config = {"method": "lora", "adapter_path": str(out / "adapter"), "base_path": str(base_dir)}
    return register(name="tiny · lora", artifact_path=str(out / "merged"), config=config)


def test_a_lora_fine_tune_of_a_4_bit_model_keeps_its_base_and_its_change(tiny_model_dir, tmp_path):
    from slmops_engine.optimize.grid_route import grid_route
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert

    base = _snap_to_q4_1(tiny_model_dir, tmp_path / "q4_1")
    tuned = _lora_fine_tune(base, tmp_path / "ft")
    assert share_on_grid(Path(tuned.artifact_path)) < 0.5  # the merged weights are off the grid
    route = grid_route(tuned)
    assert route.adapter == tmp_path / "ft" / "adapter" and "LoRA fine-tune of a 4-bit model" in route.describe()
    assert convert.preflight(convert.Config(variant_id=tuned.id, precision="int4", int4_method="grid")) == []
    ids = [int(i) for i in np.random.default_rng(6).integers(3, 200, 40)]
    gaps = {"change": _nll_gap_between(base, tuned.artifact_path, ids)}  # what the fine-tune changed
    for method in ("rtn", "grid"):
        cfg = convert.Config(variant_id=tuned.id, precision="int4", int4_method=method, int4_accuracy_level=1)
        result = convert.run(cfg, Reporter(tmp_path / method))
        gaps[method] = _nll_gap(result["path"], tuned.artifact_path, ids)
        if method == "grid":
            assert result["grid_nodes"] == result["grid_lora_nodes"] == 2 * 4
    assert gaps["grid"] < gaps["change"] / 5 and gaps["grid"] < gaps["rtn"] / 3, gaps
