"""Decode speed: one model, the same prompts, greedy, a fixed number of new tokens.

transformers fp32 vs ONNX fp32 / int8 / int4 (onnxruntime-genai), each converted by the real stage: tokens/s
(new tokens / (time to first token + decoding)), decode-only tokens/s, time to first token, size on disk, quality
kept (perplexity of fp32 / of this model, on the sample data's held-out rows), and the bandwidth bound: measured
read bandwidth / bytes a decoding step reads (bench/decode_bytes.py), compared with decode-only speed. int4 also
runs with onnxruntime's default threads, to show what setting them to the cores brings in the same run.
Targets on SmolLM2-135M: int4 >= 10x transformers fp32 tokens/s, >= 0.9 of the bandwidth bound, int4 size <= 0.17
of fp32, int4 quality >= 0.97 of fp32. Prints a table and writes bench/results/decode_speed.json (--model
tiny|bundled, default bundled when it is prepared)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import PROMPTS  # noqa: E402 - common.py sits next to this script

# Held-out pairs for the quality check: natural answers of a few sentences (the sample data's one-word labels
# make perplexity mostly noise for a model that was not trained on them).
QUALITY_ROWS = [
    (
        "My card was charged twice for Plus this month.",
        "I am sorry about the double charge. I can see two payments "
        "for Plus this month, and I have refunded the second one. The money should be back on your card within five "
        "working days.",
    ),
    (
        "The thermostat will not connect to Wi-Fi.",
        "Please check that your router uses the 2.4 GHz band, then hold "
        "the thermostat's button for ten seconds until the light blinks blue. Open the app and add the device again.",
    ),
    (
        "Where is my parcel? It was due on Monday.",
        "Your parcel left our warehouse on Friday and is with the courier. "
        "Their tracking shows a delay in your area, and it should arrive within two days.",
    ),
    (
        "How do I reset my password?",
        "Go to the sign-in page and choose 'Forgot password'. We will send a link to your "
        "email address; it works for one hour.",
    ),
    (
        "Can I change the delivery address after ordering?",
        "Yes, as long as the order has not shipped. Open the order "
        "in your account, choose 'Change address' and save the new one.",
    ),
    (
        "The app keeps logging me out.",
        "This usually happens when the app is out of date. Please update it from the "
        "app store, then sign in again. If it continues, clear the app's data and try once more.",
    ),
    (
        "Do you ship to Canada?",
        "We do. Delivery to Canada takes five to eight working days, and the shipping cost is "
        "shown at checkout before you pay.",
    ),
    (
        "I want to cancel my subscription.",
        "I can help with that. Your subscription will stay active until the end of "
        "the current billing period, and you will not be charged again.",
    ),
]


def quality_dataset():
    from slmops_engine.data import import_file

    f = Path(tempfile.mkdtemp()) / "quality.jsonl"
    f.write_text(
        "".join(json.dumps({"prompt": p, "response": r, "split": "validation"}) + "\n" for p, r in QUALITY_ROWS)
    )
    ds, _ = import_file(f, project_id=None, name="decode-bench quality")
    return ds


def read_bandwidth() -> float:
    """Bytes per second read by a multi-threaded matrix-vector product over 256 MB: what a decoding step does.
    (A copy counts half its traffic and is not an upper bound for decoding.)"""
    import numpy as np

    w = np.ones((16384, 4096), dtype=np.float32)  # 256 MB
    x = np.ones(4096, dtype=np.float32)
    best = 0.0
    for _ in range(7):
        t0 = time.perf_counter()
        w @ x
        best = max(best, w.nbytes / (time.perf_counter() - t0))
    return best


def torch_speed(path: Path, new_tokens: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():  # the first generate call pays one-off setup: not part of decoding speed
        model.generate(**tok("warm up", return_tensors="pt"), max_new_tokens=2, do_sample=False)
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
    return _speeds(n, gen, ttft)


def _speeds(n: int, total_s: float, ttft_s: float) -> dict:
    k = len(PROMPTS)
    return {
        "tokens_per_s": round(n / total_s, 1),
        "decode_tokens_per_s": round((n - k) / (total_s - ttft_s), 1),
        "ttft_ms": round(1000 * ttft_s / k, 1),
    }


def onnx_speed(path: Path, new_tokens: int) -> dict:
    import onnxruntime_genai as og

    model = og.Model(str(path))
    warm = og.GeneratorParams(model)
    warm.set_search_options(max_length=8, do_sample=False)
    og.Generator(model, warm).append_tokens([1, 2])
    tok = og.Tokenizer(model)
    gen_s = ttft = 0.0
    n = prompt_tokens = 0
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
        prompt_tokens += len(ids)
    return _speeds(n, gen_s, ttft) | {"context": prompt_tokens / len(PROMPTS) + new_tokens / 2}


def default_threads_copy(path: Path) -> Path:
    """The same model with onnxruntime left to choose its threads (as the builder writes it)."""
    import shutil

    dst = Path(tempfile.mkdtemp()) / path.name
    shutil.copytree(path, dst)
    genai = json.loads((dst / "genai_config.json").read_text())
    genai["model"]["decoder"].get("session_options", {}).pop("intra_op_num_threads", None)
    (dst / "genai_config.json").write_text(json.dumps(genai))
    return dst


def weight_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.suffix in (".safetensors", ".onnx", ".data"))


def main() -> int:
    from common import bench_model, decode_args, import_variant, write_results

    args = decode_args(__doc__)
    from decode_bytes import bytes_per_token

    from slmops_engine.db import init_db
    from slmops_engine.genai_session import cpu_threads
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert

    init_db()
    src = bench_model(args.model, dtype="float32")
    v = import_variant(src)
    data = quality_dataset()
    # fp32 bytes of the source (a bf16 folder on disk is read as fp32 by transformers on the CPU)
    fp32_bytes = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    cfg = json.loads((src / "config.json").read_text())
    if (cfg.get("dtype") or cfg.get("torch_dtype")) in ("bfloat16", "float16"):
        fp32_bytes *= 2
    bw = read_bandwidth()
    rows = [
        {"variant": "transformers fp32", "size_mb": round(fp32_bytes / 1e6, 1), **torch_speed(src, args.new_tokens)}
    ]
    paths = {}
    for p in ("fp32", "int8", "int4"):
        c = convert.Config(variant_id=v.id, precision=p, check_dataset_id=data.id, check_rows=len(QUALITY_ROWS))
        r = convert.run(c, Reporter(Path(tempfile.mkdtemp())))
        paths[p] = Path(r["path"])
        speed = onnx_speed(paths[p], args.new_tokens)
        read = bytes_per_token(paths[p], speed["context"])
        rows.append(
            {
                "variant": f"ONNX {p}",
                "size_mb": round(weight_bytes(paths[p]) / 1e6, 1),
                **speed,
                "read_mb_per_token": round(read["total"] / 1e6, 1),
                "bound_tokens_per_s": round(bw / read["total"], 1),
                "perplexity_ratio": r["quality"]["perplexity_ratio"],
            }
        )
    # The same int4 model with onnxruntime's default threads, measured in this run.
    rows.append(
        {
            **rows[-1],
            "variant": "ONNX int4 default threads",
            **onnx_speed(default_threads_copy(paths["int4"]), args.new_tokens),
        }
    )
    rows[0]["read_mb_per_token"] = rows[1]["read_mb_per_token"]  # the same fp32 weights
    rows[0]["bound_tokens_per_s"] = rows[1]["bound_tokens_per_s"]
    fp32_ppl = rows[1]["perplexity_ratio"]
    base = rows[0]["tokens_per_s"]
    print(
        f"model {src.name}; read bandwidth {bw / 1e9:.1f} GB/s; {cpu_threads()} cores; "
        f"{args.new_tokens} new tokens x {len(PROMPTS)} prompts; quality on {len(QUALITY_ROWS)} held-out answers"
    )
    head = (
        "variant",
        "size MB",
        "tokens/s",
        "vs fp32",
        "decode t/s",
        "TTFT ms",
        "read MB/t",
        "bound t/s",
        "of bound",
        "quality",
    )
    print(f"{head[0]:<26}" + "".join(f"{h:>11}" for h in head[1:]))
    out = {
        "model": src.name,
        "read_bandwidth_gb_s": round(bw / 1e9, 2),
        "cores": cpu_threads(),
        "new_tokens": args.new_tokens,
    }
    for r in rows:
        r["speedup"] = round(r["tokens_per_s"] / base, 2)
        r["of_bound"] = round(r["decode_tokens_per_s"] / r["bound_tokens_per_s"], 3)
        r["quality_kept"] = round(fp32_ppl / r["perplexity_ratio"], 3) if r.get("perplexity_ratio") else None
        cells = ("size_mb", "tokens_per_s", "speedup", "decode_tokens_per_s", "ttft_ms", "read_mb_per_token")
        cells += ("bound_tokens_per_s", "of_bound", "quality_kept")
        print(f"{r['variant']:<26}" + "".join(f"{'—' if r.get(c) is None else r[c]:>11}" for c in cells))
        key = r["variant"].lower().replace(" ", "_")
        for c in cells:
            out[f"{key}_{c}"] = r.get(c)
    int4 = rows[3]
    out["int4_size_ratio"] = round(int4["size_mb"] / rows[0]["size_mb"], 3)
    out["int4_threads_gain"] = round(int4["tokens_per_s"] / rows[4]["tokens_per_s"], 2)
    checks = {
        "int4 >= 10x transformers fp32": int4["speedup"] >= 10,
        "int4 >= 0.9 of bound": int4["of_bound"] >= 0.9,
        "int4 size <= 0.17 of fp32": out["int4_size_ratio"] <= 0.17,
        "int4 quality >= 0.97 of fp32": (int4["quality_kept"] or 0) >= 0.97,
    }
    for name, ok in checks.items():
        print(f"target {name}: {'met' if ok else 'NOT met'}")
    out["targets"] = checks
    print(
        "llama.cpp peer: not measured here. PyPI has llama-cpp-python only as source (a C++ build), and the one "
        "prebuilt Linux wheel of llama.cpp found (llama-cpp-py-sync) needs glibc 2.38 (this machine has "
        f"{os.confstr('CS_GNU_LIBC_VERSION')})."
    )
    write_results("decode_speed", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
