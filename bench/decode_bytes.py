"""Bytes a decoding step reads, from an ONNX model's initializers (used by decode_speed.py).

Each initializer is classified by what consumes it: matrices of a MatMul / MatMulNBits (a tied output layer
included) are read whole every token; an embedding Gather reads one row; rotary cos/sin tables one row; the rest
(norms, small constants) whole. The KV cache adds its bytes per position times the context length."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

MATMUL_OPS = {"MatMul", "MatMulNBits", "Gemm", "MatMulInteger", "DynamicQuantizeMatMul"}
GATHER_OPS = {"Gather", "GatherBlockQuantized"}


def _nbytes(t) -> int:
    import numpy as np
    import onnx

    n = int(np.prod(list(t.dims))) if t.dims else 1
    if t.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
        return (n + 1) // 2
    return n * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize


def bytes_per_token(model_dir: Path, context: float) -> dict:
    import onnx

    graph = onnx.load(str(model_dir / "model.onnx"), load_external_data=False).graph
    inits = {t.name: (list(t.dims), _nbytes(t)) for t in graph.initializer}
    consumers: dict[str, set[str]] = defaultdict(set)
    for node in graph.node:
        for x in node.input:
            if x in inits:
                consumers[x].add(node.op_type)
    read = defaultdict(int)
    for name, (dims, nb) in inits.items():
        ops = consumers[name]
        if ops & MATMUL_OPS:
            read["matmul"] += nb
        elif ops & GATHER_OPS or "cos_cache" in name or "sin_cache" in name:
            read["one_row"] += nb // max(dims[0], 1) if dims else nb
        else:
            read["other"] += nb
    dec = json.loads((model_dir / "genai_config.json").read_text())["model"]["decoder"]
    kv = dec["num_hidden_layers"] * 2 * dec["num_key_value_heads"] * dec["head_size"] * 4
    weights = sum(read.values())
    return {"weights": weights, "kv": int(kv * context), "total": int(weights + kv * context), **read}
