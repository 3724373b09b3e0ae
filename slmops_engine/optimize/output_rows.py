"""The output layer's likely rows in 8 bits, the rest in 4.

The output layer (shared with the input embedding) is the model's most sensitive weight, and its largest: 49,152
rows on SmolLM2. In 8 bits whole it costs 14 MB more (0.21 of fp32's size in all); most of its rows belong to
tokens a model rarely predicts. So the int4 model keeps every row in 4 bits, and the rows of the likely tokens once
more in 8 bits; their logits, computed from the 8-bit rows, replace the 4-bit ones (a small product, then a
scatter). Measured on the bundled SmolLM2 with the grid route (perplexity ratio on 64 generic texts): 0.935 with
no such rows; 0.961, 0.963, 0.971 and 0.976 with 2,048, 4,096, 8,192 and 16,384 of them (1.3 MB per 2,048). 4,096
keeps a LoRA fine-tune of it under a fifth of fp32's size.

The likely tokens: every special token (the end of a turn decides when an answer stops), the ones the project's own
examples use (most frequent first; the task's labels are among them), then the tokenizer's earliest merges (a BPE
tokenizer merges the commonest pieces first).

The 8-bit rows are symmetric (zero point 128, scale = the block's largest magnitude / 127): a GGUF Q8_0 embedding,
as the bundled SmolLM2's is, is kept exactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .offsets import BLOCK, load_source, save_in_place

LIKELY = 4096


def likely_tokens(tokenizer_dir: Path, texts: Iterable[str] = (), n: int = LIKELY) -> np.ndarray:
    """Up to ``n`` token ids, sorted: the special tokens, those in ``texts`` by frequency, then the earliest merges."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    counts: Counter[int] = Counter()
    for text in texts:
        counts.update(tok(text, add_special_tokens=False)["input_ids"])
    vocab = len(tok)
    order = [*tok.all_special_ids, *(i for i, _ in counts.most_common()), *range(vocab)]
    picked = dict.fromkeys(i for i in order if 0 <= i < vocab)  # first appearance wins, order kept
    return np.array(sorted(list(picked)[:n]), np.int64)


def symmetric_8bit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rows [T, K] → MatMulNBits 8-bit codes [T, K/32, 32] (zero point 128) and scales [T·K/32]."""
    t, k = rows.shape
    blocks = rows.reshape(t, k // BLOCK, BLOCK).astype(np.float64)
    scale = np.abs(blocks).max(-1) / 127
    scale[scale == 0] = 1.0
    codes = np.clip(np.rint(blocks / scale[..., None]), -127, 127) + 128
    return codes.astype(np.uint8), scale.reshape(-1).astype(np.float32)


def _output_weight(weights: dict[str, np.ndarray]) -> np.ndarray:
    for name in ("lm_head.weight", "model.embed_tokens.weight"):  # a tied model has only the embedding
        if name in weights:
            return weights[name]
    raise ValueError("the model has neither lm_head.weight nor model.embed_tokens.weight")


def keep_output_rows(onnx_dir: Path, src: Path, tokens: np.ndarray) -> dict:
    """Rewrite the int4 model in ``onnx_dir``: the logits of ``tokens`` come from their 8-bit rows."""
    import onnx
    from onnx import helper, numpy_helper

    path = onnx_dir / "model.onnx"
    model = onnx.load(str(path), load_external_data=True)
    graph = model.graph
    head = next(
        (n for n in graph.node if n.op_type == "MatMulNBits" and n.output[0] == "logits"),
        None,
    )
    if head is None:
        raise ValueError("the model's logits do not come from an int4 product")
    k = next(a.i for a in head.attribute if a.name == "K")
    rows = _output_weight(load_source(src))[tokens]
    if rows.shape[1] != k:
        raise ValueError(f"the output layer has {rows.shape[1]} inputs, the model's last product {k}")
    codes, scales = symmetric_8bit(rows)
    graph.initializer.extend(
        [
            numpy_helper.from_array(codes, "lm_head.likely_rows"),
            numpy_helper.from_array(scales, "lm_head.likely_scales"),
            numpy_helper.from_array(tokens.reshape(1, 1, -1), "lm_head.likely_ids"),
        ]
    )
    head.output[0] = "logits.int4"
    attrs = {"K": k, "N": len(tokens), "bits": 8, "block_size": BLOCK}
    attrs["accuracy_level"] = next((a.i for a in head.attribute if a.name == "accuracy_level"), 0)
    nodes = [
        helper.make_node(
            "MatMulNBits",
            [head.input[0], "lm_head.likely_rows", "lm_head.likely_scales"],
            ["logits.likely"],
            name="/lm_head/likely_rows",
            domain="com.microsoft",
            **attrs,
        ),
        helper.make_node("Shape", ["logits.likely"], ["logits.likely_shape"], name="/lm_head/likely_shape"),
        helper.make_node(
            "Expand", ["lm_head.likely_ids", "logits.likely_shape"], ["logits.likely_ids"], name="/lm_head/likely_ids"
        ),
        helper.make_node(
            "ScatterElements",
            ["logits.int4", "logits.likely_ids", "logits.likely"],
            ["logits"],
            name="/lm_head/likely_scatter",
            axis=-1,
        ),
    ]
    at = list(graph.node).index(head) + 1
    for i, node in enumerate(nodes):
        graph.node.insert(at + i, node)
    save_in_place(model, onnx_dir)
    return {"likely_rows": int(len(tokens))}
