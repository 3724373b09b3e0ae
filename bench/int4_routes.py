"""int4 routes on one model: what each way of building the int4 ONNX keeps of the fp32 model, at what size and speed.

Each route is the real conversion stage with different builder options. Quality is the perplexity ratio on generic
text (fp32 perplexity / the route's, 1.0 = nothing lost): 64 docstrings of Python's standard library, a fixed,
offline, non-domain text set (each cut to 128 tokens), scored token by token through onnxruntime-genai against
transformers fp32 on the same ids. Speed is greedy decoding of the chat prompts. Prints a table and writes
bench/results/int4_routes.json (--model tiny|bundled, default bundled)."""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import PROMPTS  # noqa: E402 - common.py sits next to this script

MODULES = ("json", "os", "pathlib", "collections", "itertools", "functools", "re", "string", "textwrap", "shutil")
TEXT_TOKENS = 128
N_TEXTS = 64

ROUTES = {
    "rtn (plain int4)": {},
    "rtn, block 16": {"int4_block_size": 16},
    "rtn, output layer int8": {"int4_output_layer": "int8"},
    "k_quant, output layer int8": {"int4_method": "k_quant", "int4_output_layer": "int8"},
    "k_quant, output + sensitive int8": {
        "int4_method": "k_quant",
        "int4_output_layer": "int8",
        "int4_sensitive_layers": "int8",
    },
}


def generic_texts(n: int = N_TEXTS) -> list[str]:
    """Longer docstrings of standard-library functions and classes, in a fixed order."""
    import importlib

    seen, texts = set(), []
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr in sorted(dir(mod)):
            doc = inspect.getdoc(getattr(mod, attr, None)) or ""
            if len(doc) >= 400 and doc not in seen:
                seen.add(doc)
                texts.append(doc)
    return texts[:n]


def torch_nlls(src: Path, ids: list[list[int]]) -> list[float]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for seq in ids:
            logits = model(torch.tensor([seq])).logits[0, :-1]
            out.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor(seq[1:]), reduction="sum")))
    return out


def onnx_nlls(path: Path, ids: list[list[int]]) -> list[float]:
    import onnxruntime_genai as og

    from slmops_engine.evaluate.runtimes import answer_nll

    model = og.Model(str(path))
    out = []
    for seq in ids:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(seq) + 1, do_sample=False)
        out.append(answer_nll(og.Generator(model, params), seq[:1], seq[1:]))
    return out


def decode_speed(path: Path, new_tokens: int = 32) -> float:
    from slmops_engine.optimize.quality import OnnxSide

    side = OnnxSide(path)
    total = secs = 0.0
    for p in PROMPTS:
        ids = side.tok.apply_chat_template(json.dumps([{"role": "user", "content": p}]), add_generation_prompt=True)
        prompt = list(side.tok.encode(ids))
        out, _, s = side.generate(prompt, new_tokens)
        total, secs = total + len(out), secs + s
    return round(total / secs, 1)


def convert(variant_id: int, options: dict) -> dict:
    from slmops_engine.jobs import submit_job
    from slmops_engine.jobs.worker import run_job
    from slmops_engine.models import JobStatus

    job = submit_job("convert", {"variant_id": variant_id, "precision": "int4", **options})
    t0 = time.perf_counter()
    status = run_job(job.id)
    from slmops_engine.jobs import get_job

    done = get_job(job.id)
    if status != JobStatus.succeeded:
        return {"error": done.error_label}
    return {**done.result, "build_s": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=["tiny", "bundled"], default="bundled")
    ap.add_argument("--routes", nargs="*", help="route names to run (default: all)")
    args = ap.parse_args()

    import os
    import tempfile

    from common import bench_model, import_variant, write_results

    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    from slmops_engine.db import init_db

    init_db()
    from transformers import AutoTokenizer

    src = bench_model(args.model)
    tok = AutoTokenizer.from_pretrained(str(src))
    ids = [tok(t, add_special_tokens=False)["input_ids"][:TEXT_TOKENS] for t in generic_texts()]
    n_tokens = sum(len(s) - 1 for s in ids)
    base = import_variant(src)
    fp32_size = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    ref = torch_nlls(src, ids)
    ppl_ref = math.exp(sum(ref) / n_tokens)
    rows = []
    for name, options in ROUTES.items():
        if args.routes and name not in args.routes:
            continue
        built = convert(base.id, options)
        if "error" in built:
            rows.append({"route": name, "error": built["error"]})
            print(f"{name}: failed: {built['error']}", flush=True)
            continue
        path = Path(built["path"])
        nll = onnx_nlls(path, ids)
        ppl = math.exp(sum(nll) / n_tokens)
        row = {
            "route": name,
            "options": options,
            "size_mb": round(built["size_bytes"] / 1e6, 1),
            "size_ratio": round(built["size_bytes"] / fp32_size, 3),
            "ppl_ratio": round(ppl_ref / ppl, 4),
            "tokens_per_s": decode_speed(path),
            "build_s": built["build_s"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    plain = next((r for r in rows if r["route"] == "rtn (plain int4)" and "error" not in r), None)
    for r in rows:
        if plain and "error" not in r:
            r["speed_vs_plain"] = round(r["tokens_per_s"] / plain["tokens_per_s"], 3)
    print(f"\n{'route':32} {'size MB':>8} {'of fp32':>8} {'ppl kept':>9} {'tok/s':>7} {'vs plain':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['route']:32} failed: {r['error']}")
            continue
        print(
            f"{r['route']:32} {r['size_mb']:8.1f} {r['size_ratio']:8.3f} {r['ppl_ratio']:9.3f} "
            f"{r['tokens_per_s']:7.1f} {r.get('speed_vs_plain', 1):9.3f}"
        )
    write_results(
        "int4_routes",
        {
            "model": args.model,
            "texts": len(ids),
            "tokens": n_tokens,
            "fp32_perplexity": round(ppl_ref, 3),
            "routes": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
