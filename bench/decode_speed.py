"""Decode speed: one model, the same prompts, greedy, a fixed number of new tokens.

transformers fp32 vs ONNX fp32 / int8 / int4 (onnxruntime-genai): tokens/s, time to first token, size on disk,
and the bandwidth bound (measured memory-copy bandwidth / bytes of weights read per token).
Targets on SmolLM2-135M: int4 >= 10x transformers fp32 tokens/s, >= 0.9 of the bandwidth bound, int4 size <= 0.17
of fp32. Prints a table and writes bench/results/decode_speed.json (--model tiny|bundled, default bundled when it
is prepared)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROMPTS = [
    "My card was charged twice for Plus this month.",
    "The thermostat will not connect to Wi-Fi.",
    "Where is my parcel? It was due on Monday.",
    "How do I reset my password?",
]


def copy_bandwidth() -> float:
    """Bytes per second of a large memory copy (read + write counted once, as decoding reads weights once)."""
    import numpy as np

    a = np.ones(64 * 1024 * 1024, dtype=np.float32)  # 256 MB
    b = np.empty_like(a)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = max(best, a.nbytes / (time.perf_counter() - t0))
    return best


def torch_speed(path: Path, new_tokens: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    gen = ttft = 0.0
    n = 0
    for p in PROMPTS:
        ids = tok.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            t0 = time.perf_counter()
            model.generate(**ids, max_new_tokens=1, do_sample=False)
            ttft += time.perf_counter() - t0
            t0 = time.perf_counter()
            out = model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
            gen += time.perf_counter() - t0
        n += out.shape[1] - ids["input_ids"].shape[1]
    return {"tokens_per_s": round(n / gen, 1), "ttft_ms": round(1000 * ttft / len(PROMPTS), 1)}


def onnx_speed(path: Path, new_tokens: int) -> dict:
    import onnxruntime_genai as og

    model = og.Model(str(path))
    tok = og.Tokenizer(model)
    gen_s = ttft = 0.0
    n = 0
    for p in PROMPTS:
        ids = tok.encode(
            tok.apply_chat_template(json.dumps([{"role": "user", "content": p}]), add_generation_prompt=True)
        )
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + new_tokens, min_length=len(ids) + new_tokens, do_sample=False)
        t0 = time.perf_counter()
        g = og.Generator(model, params)
        g.append_tokens(ids)
        first = None
        while not g.is_done():
            g.generate_next_token()
            n += 1
            first = first or time.perf_counter() - t0
        gen_s += time.perf_counter() - t0
        ttft += first or 0.0
    return {"tokens_per_s": round(n / gen_s, 1), "ttft_ms": round(1000 * ttft / len(PROMPTS), 1)}


def weight_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.suffix in (".safetensors", ".onnx", ".data"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=["auto", "tiny", "bundled"], default="auto")
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    import logging

    logging.disable(logging.WARNING)
    from slmops_engine.db import init_db, session_scope
    from slmops_engine.models import ModelVariant
    from slmops_engine.stages import convert
    from slmops_engine.stages.base import Reporter
    from slmops_engine.stages.prepare_model import bundled_model_path

    init_db()
    src = None if args.model == "tiny" else bundled_model_path()
    if src is None and args.model == "bundled":
        from slmops_engine.jobs import submit_job
        from slmops_engine.jobs.worker import run_job

        run_job(submit_job("prepare_model", {"dtype": "float32"}).id)
        src = bundled_model_path()
    if src is None:
        from tests.support.tiny_model import build_tiny_model

        src = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", hidden=256, layers=4)
    with session_scope() as s:
        v = ModelVariant(name=src.name, stage="import", format="hf", artifact_path=str(src))
        s.add(v)
    # fp32 bytes of the source (a bf16 folder on disk is read as fp32 by transformers on the CPU)
    fp32_bytes = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    cfg = json.loads((src / "config.json").read_text())
    if (cfg.get("dtype") or cfg.get("torch_dtype")) in ("bfloat16", "float16"):
        fp32_bytes *= 2
    bw = copy_bandwidth()
    rows = [
        {
            "variant": "transformers fp32",
            "size_mb": round(fp32_bytes / 1e6, 1),
            **torch_speed(src, args.new_tokens),
            "bound_tokens_per_s": round(bw / fp32_bytes, 1),
        }
    ]
    for p in ("fp32", "int8", "int4"):
        r = convert.run(convert.Config(variant_id=v.id, precision=p), Reporter(Path(tempfile.mkdtemp())))
        path = Path(r["path"])
        size = weight_bytes(path)
        rows.append(
            {
                "variant": f"ONNX {p}",
                "size_mb": round(size / 1e6, 1),
                **onnx_speed(path, args.new_tokens),
                "bound_tokens_per_s": round(bw / size, 1),
            }
        )
    base = rows[0]["tokens_per_s"]
    print(f"model {src.name}; copy bandwidth {bw / 1e9:.1f} GB/s; {args.new_tokens} new tokens x {len(PROMPTS)}")
    print(
        f"{'variant':<18} {'size MB':>8} {'tokens/s':>9} {'vs fp32':>8} {'TTFT ms':>8} {'bound t/s':>10} "
        f"{'of bound':>9}"
    )
    out = {"model": src.name, "copy_bandwidth_gb_s": round(bw / 1e9, 2), "new_tokens": args.new_tokens}
    for r in rows:
        r["speedup"] = round(r["tokens_per_s"] / base, 2)
        r["of_bound"] = round(r["tokens_per_s"] / r["bound_tokens_per_s"], 3)
        print(
            f"{r['variant']:<18} {r['size_mb']:>8} {r['tokens_per_s']:>9} {r['speedup']:>7}x {r['ttft_ms']:>8} "
            f"{r['bound_tokens_per_s']:>10} {r['of_bound']:>9}"
        )
        key = r["variant"].lower().replace(" ", "_")
        for k in ("size_mb", "tokens_per_s", "ttft_ms", "speedup", "of_bound"):
            out[f"{key}_{k}"] = r[k]
    int4 = rows[-1]
    out["int4_size_ratio"] = round(int4["size_mb"] / rows[0]["size_mb"], 3)
    checks = {
        "int4 >= 10x transformers fp32": int4["speedup"] >= 10,
        "int4 >= 0.9 of bound": int4["of_bound"] >= 0.9,
        "int4 size <= 0.17 of fp32": out["int4_size_ratio"] <= 0.17,
    }
    for name, ok in checks.items():
        print(f"target {name}: {'met' if ok else 'NOT met'}")
    out["targets"] = checks
    print("llama.cpp peer: not measured (llama-cpp-python ships no prebuilt wheel for this machine on PyPI).")
    dest = ROOT / "bench" / "results" / "decode_speed.json"
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
