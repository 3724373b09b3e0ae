"""int4 that keeps each block's own offset: the 'grid' route.

The model builder rounds every block of 32 weights onto a grid symmetric around zero. A model whose weights
already lie on a 4-bit grid *with an offset* (a GGUF Q4_1 model: w = d·q + m) loses badly that way: every weight
is rounded a second time. Here each block is stored on its own grid — scale (max − min) / 15 and the codes
q = round((w − min) / scale) — so such weights are kept and any other weights are rounded no worse than
asymmetric round-to-nearest. The fast int4 kernel (MatMulNBits) only takes whole-number zero points, so the block's
offset is split in two: the nearest whole zero point goes to the kernel, and the remainder R — one number per
block and output, at most half a step — rides in the same product: the input x is extended by its block means and
the weight by 32·R as extra rows, themselves in 4 bits (an error of at most 1/30 of the largest step in the row).

A LoRA fine-tune of such a model (W + s·B·A) keeps its base the same way, and its change rides along too: the
input is also extended by A·x and the weight by s·B. So the fine-tune is neither rounded back to its base nor
rounded afresh.

The extension costs two small nodes per product and no second int4 kernel call: a pooling node for the block means,
then a concatenation (and, with a LoRA change, one small 8-bit product for A·x). On SmolLM2-135M
(bench/int4_routes.py) it decodes at 0.84–0.85× the plain int4's speed: the small nodes' fixed cost (3–4 µs
each, 240 of them a token), not the arithmetic. A fractional zero point would need none, but onnxruntime's CPU
MatMulNBits takes float zero points only on a dequantize-then-multiply path (504 µs against 7.6 µs for one
576×1536 product). Whole zero points alone (each block's scale and codes refit by least squares) run as fast as the
plain int4 but keep no more than it does (0.77 of the perplexity ratio), and keeping the remainder in one kind of
product only (q/k/v, o, gate/up or down) keeps 0.79–0.83: every product needs it.

It rewrites the builder's int4 model in place: the transformer body's MatMulNBits nodes whose source weight is found
in the Hugging Face folder (by layer and shape, then checked against what the builder stored); the embedding
shared with the output layer is left as the builder made it."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

BLOCK = 32
# A block is on a grid when every weight is within this share of a step of it: a Q4_1 model stored in bf16 is
# (100% of the bundled SmolLM2's blocks), a fine-tune of it is not (19%: its changes are a fraction of a step).
ON_GRID = 0.05
FOUR_BIT_SHARE = 0.9  # share of blocks on a grid for a model to count as 4-bit already
MATCH_TOLERANCE = 0.25  # the builder's own int4 of a weight is this close to it (relative error), a stranger is not


def quantize_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """w [N, K] → packed codes [N, K/32, 16] uint8, scales [N, K/32] fp32, whole zero points [N, K/32] uint8 and
    the remainder R [K/32, N] fp32, with w = scale·(q − zp) + R per block."""
    n, k = w.shape
    nb = k // BLOCK
    blocks = w.reshape(n, nb, BLOCK).astype(np.float64)
    lo, hi = blocks.min(-1), blocks.max(-1)
    scale = (hi - lo) / 15
    scale[scale == 0] = 1.0  # a constant block: every code 0, the remainder carries the value
    q = np.clip(np.rint((blocks - lo[..., None]) / scale[..., None]), 0, 15).astype(np.uint8)
    true_zp = -lo / scale  # w = scale·(q − true_zp)
    zp = np.clip(np.rint(true_zp), 0, 15)
    remainder = scale * (zp - true_zp)  # w = scale·(q − zp) + remainder
    return _pack(q), scale.astype(np.float32), zp.astype(np.uint8), remainder.T.astype(np.float32)


def quantize_blocks(rows: np.ndarray, bits: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rows [M, N] (M whole blocks of 32) as MatMulNBits weights of N outputs over M inputs, each block on a grid
    that holds 0 exactly → codes [N, M/32, 32·bits/8] uint8 (4 bits: two to a byte), scales and zero points
    [N, M/32]."""
    m, n = rows.shape
    top = 2**bits - 1
    blocks = rows.T.astype(np.float64).reshape(n, m // BLOCK, BLOCK)
    lo, hi = np.minimum(blocks.min(-1), 0), np.maximum(blocks.max(-1), 0)
    scale = (hi - lo) / top
    scale[scale == 0] = 1.0
    zp = np.clip(np.rint(-lo / scale), 0, top)
    q = np.clip(np.rint(blocks / scale[..., None] + zp[..., None]), 0, top).astype(np.uint8)
    return (_pack(q) if bits == 4 else q), scale.astype(np.float32), zp.astype(np.uint8)


def _pad(rows: np.ndarray) -> np.ndarray:
    """Rows up to whole blocks of 32, zeros below."""
    out = np.zeros((-(-rows.shape[0] // BLOCK) * BLOCK, rows.shape[1]), np.float32)
    out[: rows.shape[0]] = rows
    return out


def grid_weights(
    w: np.ndarray, lora: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """w [N, K] (and a LoRA change: A [R, K], s·B [N, R]) → MatMulNBits inputs over the input extended by E:
    packed codes, scales and packed zero points over K + W rows, and E [K, W], the extension's weights: A·x in
    whole blocks (when there is a change), then x's K/32 block means (the last block partly filled)."""
    n, k = w.shape
    packed, scale, zp, remainder = quantize_rows(w)
    sections = []
    if lora is not None:
        a, b = lora
        sections.append((_pad(a).T, _pad(b.T)))
    sections.append((block_means(k), remainder * BLOCK))
    extension = np.concatenate([e for e, _ in sections], 1)
    x_packed, x_scale, x_zp = quantize_blocks(_pad(np.concatenate([r for _, r in sections])))
    return (
        np.concatenate([packed, x_packed], 1),
        np.concatenate([scale, x_scale], 1).reshape(-1),
        pack_zero_points(np.concatenate([zp, x_zp], 1)),
        extension,
    )


def _pack(q: np.ndarray) -> np.ndarray:
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def pack_zero_points(zp: np.ndarray) -> np.ndarray:
    """[N, blocks] uint8 in 0..15 → two to a byte per row, as MatMulNBits reads them."""
    n, nb = zp.shape
    out = np.zeros((n, (nb + 1) // 2), np.uint8)
    out[:, : nb // 2 + nb % 2] |= zp[:, 0::2]
    out[:, : nb // 2] |= zp[:, 1::2] << 4
    return out.reshape(-1)


def block_means(k: int) -> np.ndarray:
    """The [K, K/32] matrix whose product with x gives x's means over blocks of 32 (a pooling node in the graph)."""
    means = np.zeros((k, k // BLOCK), np.float32)
    means[np.arange(k), np.arange(k) // BLOCK] = 1.0 / BLOCK
    return means


def share_on_grid(src: Path) -> float:
    """How much of the model's layer weights already lie on a 4-bit grid with an offset (1.0 for a GGUF Q4_1
    model, about 0 for weights trained in full precision): blocks of 32 whose values are whole steps of
    (max − min) / 15 from their minimum, over a sample of rows of every layer weight. Worked out once per version
    of the folder's weight files (the Optimize page and the conversion's checks both ask)."""
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in sorted(Path(src).glob("*.safetensors")))
    return _share_on_grid(str(src), stamp)


@lru_cache(maxsize=16)
def _share_on_grid(src: str, stamp: tuple, sample_rows: int = 64) -> float:
    weights = load_source(Path(src))
    on = total = 0
    for name, w in weights.items():
        if "layers." not in name or w.ndim != 2 or w.shape[1] % BLOCK:
            continue
        rows = w[:: max(1, w.shape[0] // sample_rows)].astype(np.float64)
        blocks = rows.reshape(rows.shape[0], -1, BLOCK)
        lo, hi = blocks.min(-1, keepdims=True), blocks.max(-1, keepdims=True)
        step = np.where(hi > lo, (hi - lo) / 15, 1.0)
        codes = (blocks - lo) / step
        on += int((np.abs(codes - np.rint(codes)) < ON_GRID).all(-1).sum())
        total += blocks.shape[0] * blocks.shape[1]
    return on / total if total else 0.0


def is_four_bit(share: float) -> bool:
    """Enough of the layers on a 4-bit grid for the grid route to keep the model (rather than round it away)."""
    return share >= FOUR_BIT_SHARE


def dequantize_symmetric(packed: np.ndarray, scales: np.ndarray, n: int, k: int) -> np.ndarray:
    """What the builder stored (symmetric int4, zero point 8), as floats [N, K]."""
    q = np.empty((n, k // BLOCK, BLOCK), np.float32)
    b = packed.reshape(n, k // BLOCK, BLOCK // 2)
    q[..., 0::2], q[..., 1::2] = b & 0x0F, b >> 4
    return ((q - 8) * scales.reshape(n, k // BLOCK, 1)).reshape(n, k)


_LAYER = re.compile(r"layers\.(\d+)\.")


def _candidates(weights: dict[str, np.ndarray], layer: int) -> dict[str, list[str]]:
    """The layer's products as the builder may have laid them out (fused q/k/v and gate/up included): name → the
    modules whose weights are stacked in it."""
    p = f"model.layers.{layer}."
    have = {m for m in MODULES if p + m + ".weight" in weights}
    out = {m: [m] for m in MODULES if m in have}
    for name, fused in FUSED.items():
        if set(fused) <= have:
            out[name] = fused
    return out


MODULES = tuple(f"self_attn.{x}_proj" for x in "qkvo") + tuple(f"mlp.{x}_proj" for x in ("gate", "up", "down"))
FUSED = {
    "qkv": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
    "gate_up": ["mlp.gate_proj", "mlp.up_proj"],
    "up_gate": ["mlp.up_proj", "mlp.gate_proj"],
}


def _stacked(weights: dict[str, np.ndarray], layer: int, modules: list[str]) -> np.ndarray:
    return np.concatenate([weights[f"model.layers.{layer}.{m}.weight"] for m in modules])


def load_source(src: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights: dict[str, np.ndarray] = {}
    for f in sorted(src.glob("*.safetensors")):
        try:
            weights |= {k: v.astype(np.float32) for k, v in load_file(str(f)).items()}
        except TypeError:  # bf16 has no numpy type: read through torch
            from safetensors.torch import load_file as load_torch

            weights |= {k: v.float().numpy() for k, v in load_torch(str(f)).items()}
    return weights


def _extend_input(graph, node, extension: np.ndarray, accuracy: int):
    """Nodes that feed ``node`` its input followed by the extension: x → [x, A·x, block means of x].

    The means are one pooling node (the remainder rows were scaled by 32 to match); A·x, the LoRA section, one
    small 8-bit product of A alone (with the means in it too, the fine-tune grew by 3.6 MB on SmolLM2, for one node
    fewer). Then one concatenation."""
    from onnx import helper, numpy_helper

    k, width = extension.shape
    means = k // BLOCK
    base = node.name or node.output[0]
    x, parts, nodes = node.input[0], [node.input[0]], []
    if width > means:  # the LoRA section: the columns before the means
        codes, scales, zp = quantize_blocks(extension[:, : width - means], bits=8)
        names = [f"{base}.lora_a{s}" for s in ("", "_scales", "_zero_points")]
        for name, value in zip(names, (codes, scales.reshape(-1), zp.reshape(-1)), strict=True):
            graph.initializer.append(numpy_helper.from_array(value, name))
        attrs = {"K": k, "N": width - means, "bits": 8, "block_size": BLOCK, "accuracy_level": accuracy}
        parts.append(f"{base}.lora_a_out")
        nodes.append(helper.make_node("MatMulNBits", [x, *names], parts[-1:], domain="com.microsoft", **attrs))
    parts.append(f"{base}.block_means")
    nodes.append(
        helper.make_node("AveragePool", [x], parts[-1:], name=parts[-1], kernel_shape=[BLOCK], strides=[BLOCK])
    )
    node.input[0] = f"{base}.grid_input"
    return [*nodes, helper.make_node("Concat", parts, [node.input[0]], name=node.input[0], axis=-1)]


def save_in_place(model, onnx_dir: Path) -> None:
    """Write a model loaded whole into memory back over model.onnx and its one data file."""
    import onnx

    path, data = onnx_dir / "model.onnx", onnx_dir / "model.onnx.data"
    for f in (path, data):  # onnx appends to a data file that exists
        f.unlink(missing_ok=True)
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name)


def keep_block_offsets(onnx_dir: Path, src: Path, base: Path | None = None, adapter: Path | None = None) -> dict:
    """Rewrite the body of the builder's int4 model in ``onnx_dir`` from the weights in ``src``; returns counts.

    For a LoRA fine-tune, ``base`` (the 4-bit model it was trained on) and ``adapter`` (its LoRA folder): each
    product keeps the base's layer on its grid and carries the adapter's change beside it."""
    import onnx
    from onnx import numpy_helper

    from .lora_parts import load_lora

    path = onnx_dir / "model.onnx"
    model = onnx.load(str(path), load_external_data=True)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    weights = load_source(src)
    base_weights = load_source(base) if base else weights
    lora = load_lora(adapter) if adapter else None
    new_nodes, rewritten, skipped, with_lora = [], 0, 0, 0
    for node in list(graph.node):
        new_nodes.append(node)
        if node.op_type != "MatMulNBits" or len(node.input) > 3 and node.input[3]:
            continue
        attrs = {a.name: a.i for a in node.attribute}
        m = _LAYER.search(node.name) or _LAYER.search(node.input[1])
        if attrs.get("bits") != 4 or attrs.get("block_size") != BLOCK or m is None:
            continue
        n, k, layer = attrs["N"], attrs["K"], int(m.group(1))
        stored = dequantize_symmetric(
            numpy_helper.to_array(inits[node.input[1]]), numpy_helper.to_array(inits[node.input[2]]), n, k
        )
        best, err = None, MATCH_TOLERANCE
        for modules in _candidates(weights, layer).values():
            w = _stacked(weights, layer, modules)
            if w.shape == (n, k):
                e = float(np.linalg.norm(stored - w) / (np.linalg.norm(w) or 1.0))
                if e < err:
                    best, err = modules, e
        if best is None:
            skipped += 1
            continue
        w = _stacked(base_weights, layer, best)
        change = (
            lora.of(layer, best, [base_weights[f"model.layers.{layer}.{m}.weight"].shape[0] for m in best])
            if lora
            else None
        )
        packed, scales, zp, extension = grid_weights(w, change)
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(packed, node.input[1]))
        inits[node.input[2]].CopyFrom(numpy_helper.from_array(scales, node.input[2]))
        zp_name = f"{node.input[1]}.grid_zp"
        graph.initializer.append(numpy_helper.from_array(zp, zp_name))
        inputs = list(node.input) + [""] * (4 - len(node.input))
        inputs[3] = zp_name
        del node.input[:]
        node.input.extend(inputs)
        if extension.shape[1]:
            next(a for a in node.attribute if a.name == "K").i = k + extension.shape[1]
            new_nodes[-1:] = [
                *_extend_input(graph, node, extension, attrs.get("accuracy_level", 4)),
                node,
            ]
        rewritten, with_lora = rewritten + 1, with_lora + (change is not None)
    del graph.node[:]
    graph.node.extend(new_nodes)
    save_in_place(model, onnx_dir)
    return {"grid_nodes": rewritten, "grid_skipped": skipped, "grid_lora_nodes": with_lora}
