"""int4 routes: what each way of building the int4 ONNX keeps of the fp32 model, at what size and speed — on the
bundled SmolLM2-135M and on a fine-tune of it, with llama.cpp on the very same weights beside them (--peer llamacpp).

Each route is the real conversion stage with other int4 settings. Measured per route:
- generic quality: the perplexity ratio on generic text (fp32 perplexity / the route's; 1.0 = nothing lost) over
  64 docstrings of Python's standard library (fixed, offline, outside any project's domain; each cut to 128 tokens),
  scored token by token through onnxruntime-genai against transformers fp32 on the same token ids;
- task quality (the fine-tune): label accuracy on the sample's 80 held-out rows through the evaluation stage,
  as a share of the fp32 fine-tune's;
- size as a share of fp32 (parameters × 4 bytes) and greedy decoding speed on the chat prompts (a fixed number of
  new tokens, every prompt on each route in turn, five rounds), as a share of the plain int4's.
The peer: llama.cpp runs the bundled Q4_1 GGUF (the weights the fp32 reference is made from), scored on the same
ids. `llama-cpp-python` builds from source (about 5 minutes, once): it is the `bench` extra, installed only when
--peer llamacpp asks for it. Prints a table and writes bench/results/int4_routes.json."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import PROMPTS, interleaved_tokens_per_s, write_results  # noqa: E402 - next to this script

MODULES = ("json", "os", "pathlib", "collections", "itertools", "functools", "re", "string", "textwrap", "shutil")
TEXT_TOKENS = 128
N_TEXTS = 64
NEW_TOKENS = 32
PLAIN = "rtn (plain int4)"

ROUTES = {
    PLAIN: {},
    "rtn, block 16": {"int4_block_size": 16},
    "rtn, output layer int8": {"int4_output_layer": "int8"},
    "k_quant": {"int4_method": "k_quant"},
    "grid (block offsets kept)": {"int4_method": "grid", "int4_output_layer": "int4"},
    "rtn, likely output rows int8": {"int4_method": "rtn", "int4_output_layer": "int8_likely"},
    "grid, likely output rows int8": {"int4_method": "grid", "int4_output_layer": "int8_likely"},
    "k_quant, output layer int8": {"int4_method": "k_quant", "int4_output_layer": "int8"},
    "k_quant, output + sensitive layers int8": {
        "int4_method": "k_quant",
        "int4_output_layer": "int8",
        "int4_sensitive_layers": "int8",
    },
}


OFFERED = (
    PLAIN,
    "k_quant, output + sensitive layers int8",
    "grid (block offsets kept)",
    "rtn, likely output rows int8",
    "grid, likely output rows int8",
)


def generic_texts(n: int = N_TEXTS) -> list[str]:
    """Longer docstrings of standard-library functions and classes, in a fixed order."""
    seen, texts = set(), []
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr in sorted(dir(mod)):
            doc = inspect.getdoc(getattr(mod, attr, None)) or ""
            if len(doc) >= 400 and doc not in seen:
                seen.add(doc)
                texts.append(doc)
    return texts[:n]


def chat_ids(tok) -> list[list[int]]:
    return [
        tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, return_dict=False)
        for p in PROMPTS
    ]


def torch_nll(src: Path, ids: list[list[int]]) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32).eval()
    total = 0.0
    with torch.no_grad():
        for seq in ids:
            logits = model(torch.tensor([seq])).logits[0, :-1]
            total += float(torch.nn.functional.cross_entropy(logits, torch.tensor(seq[1:]), reduction="sum"))
    return total


def onnx_nll(path: Path, ids: list[list[int]]) -> float:
    import onnxruntime_genai as og

    from slmops_engine.evaluate.runtimes import answer_nll

    model = og.Model(str(path))
    total = 0.0
    for seq in ids:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(seq) + 1, do_sample=False)
        total += answer_nll(og.Generator(model, params), seq[:1], seq[1:])
    return total


def convert(variant_id: int, options: dict) -> dict:
    from slmops_engine.errors import SlmopsError
    from slmops_engine.jobs import get_job, submit_job
    from slmops_engine.jobs.worker import run_job
    from slmops_engine.models import JobStatus

    try:
        job = submit_job("convert", {"variant_id": variant_id, "precision": "int4", **options})
    except SlmopsError as exc:  # refused by the stage's checks (e.g. the grid route on a fine-tune)
        return {"error": f"refused: {exc.message}"}
    t0 = time.perf_counter()
    ok = run_job(job.id) == JobStatus.succeeded
    done = get_job(job.id)
    return {**done.result, "build_s": round(time.perf_counter() - t0, 1)} if ok else {"error": done.error_label}


def fine_tune(project_id: int, dataset_id: int) -> tuple[int, Path]:
    """The quick preset (LoRA, 3 passes) on the sample's own labels."""
    from slmops_engine.finetune.config import FinetuneConfig, apply_preset
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import finetune
    from slmops_engine.students import bundled_choice

    cfg = FinetuneConfig(
        dataset_id=dataset_id, student=bundled_choice(), project_id=project_id, **apply_preset("quick", method="lora")
    )
    out = finetune.run(cfg, Reporter())
    from slmops_engine.db import session_scope
    from slmops_engine.models import ModelVariant

    with session_scope() as s:
        return out["variant_id"], Path(s.get(ModelVariant, out["variant_id"]).artifact_path)


def accuracies(project_id: int, dataset_id: int, refs: list[str]) -> dict[str, float]:
    from slmops_engine.evaluate.config import EvalConfig
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import evaluate

    result = evaluate.run(EvalConfig(variants=refs, dataset_id=dataset_id, project_id=project_id), Reporter())
    return {str(v["id"]): v["metrics"].get("label_accuracy") for v in result["variants"]}


def ensure_llamacpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        print("building llama-cpp-python from source (the `bench` extra; about 5 minutes, once)…", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"], check=True)


def llamacpp_row(gguf: Path, ids: list[list[int]], prompts: list[list[int]], n_tokens: int, ref_nll: float) -> dict:
    import numpy as np
    from llama_cpp import Llama

    threads = os.cpu_count() or 1
    scorer = Llama(model_path=str(gguf), n_ctx=512, n_threads=threads, logits_all=True, verbose=False)
    nll = 0.0
    for seq in ids:
        scorer.reset()
        scorer.eval(seq)
        logits = np.asarray(scorer.scores[: len(seq) - 1], dtype=np.float64)
        m = logits.max(axis=1, keepdims=True)
        logz = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
        nll += float((logz - logits[np.arange(len(seq) - 1), seq[1:]]).sum())
    del scorer
    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=threads, verbose=False)
    n, secs = 0, 0.0
    for prompt in [prompts[0], *prompts]:  # the first one warms up
        llm.reset()
        out, t0 = [], time.perf_counter()
        for t in llm.generate(prompt, temp=0.0, top_k=1, reset=True):
            out.append(t)
            if len(out) >= NEW_TOKENS or t == llm.token_eos():
                break
        if prompt is not prompts[0] or n:
            n, secs = n + len(out), secs + time.perf_counter() - t0
        else:
            n = 0  # warm-up not counted
    return {
        "route": "llama.cpp (the Q4_1 GGUF itself)",
        "size_mb": round(gguf.stat().st_size / 1e6, 1),
        "ppl_ratio": round(math.exp(ref_nll / n_tokens) / math.exp(nll / n_tokens), 4),
        "tokens_per_s": round(n / secs, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--routes", nargs="*", help="route names to run (default: all)")
    ap.add_argument("--offered", action="store_true", help="only the plain route and the ones the app offers")
    ap.add_argument("--no-finetune", action="store_true", help="the bundled model only")
    ap.add_argument("--peer", choices=["llamacpp"], help="measure llama.cpp on the bundled GGUF beside the routes")
    args = ap.parse_args()
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.peer:
        ensure_llamacpp()

    from transformers import AutoTokenizer

    from slmops_engine.data import import_sample
    from slmops_engine.db import init_db
    from slmops_engine.projects import create_project
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import prepare_model

    init_db()
    base = prepare_model.run(prepare_model.Config(), Reporter())
    src = Path(base["path"])
    tok = AutoTokenizer.from_pretrained(str(src))
    ids = [tok(t, add_special_tokens=False)["input_ids"][:TEXT_TOKENS] for t in generic_texts()]
    prompts = chat_ids(tok)
    n_tokens = sum(len(s) - 1 for s in ids)
    from transformers import AutoConfig

    params = sum(p.numel() for p in _meta_params(AutoConfig.from_pretrained(str(src))))
    fp32_bytes = params * 4
    models = {"base": (base["variant_id"], src)}
    project = create_project("int4-routes")
    sample = import_sample(project.id)
    if not args.no_finetune:
        print("… fine-tuning the quick preset on the sample", flush=True)
        models["finetuned"] = fine_tune(project.id, sample.id)
    rows: list[dict] = []
    for model_name, (variant_id, path) in models.items():
        ref_nll = torch_nll(path, ids)
        made: dict[str, int] = {}
        paths: dict[str, Path] = {}
        for name, options in ROUTES.items():
            if args.routes and name not in args.routes or args.offered and name not in OFFERED:
                continue
            built = convert(variant_id, options)
            row = {"model": model_name, "route": name, "options": options}
            if "error" in built:
                rows.append({**row, "error": built["error"]})
                print(f"{model_name} · {name}: failed: {built['error']}", flush=True)
                continue
            out = Path(built["path"])
            made[name] = built["variant_id"]
            row |= {
                "size_mb": round(built["size_bytes"] / 1e6, 1),
                "size_of_fp32": round(built["size_bytes"] / fp32_bytes, 3),
                "ppl_ratio": round(math.exp(ref_nll / n_tokens) / math.exp(onnx_nll(out, ids) / n_tokens), 4),
                "build_s": built["build_s"],
                **({"route_name": built["int4_route"]} if built.get("int4_route") else {}),
                **{k: built[k] for k in ("grid_nodes", "grid_lora_nodes") if k in built},
            }
            rows.append(row)
            paths[name] = out
            print(json.dumps(row), flush=True)
        speeds = interleaved_tokens_per_s(paths, prompts, NEW_TOKENS)  # all routes of this model, side by side
        for r in rows:
            if r["model"] == model_name and r["route"] in speeds:
                r["tokens_per_s"] = speeds[r["route"]]
        print(f"{model_name} tokens/s: {speeds}", flush=True)
        if model_name == "finetuned" and made:
            acc = accuracies(project.id, sample.id, [str(variant_id), *map(str, made.values())])
            fp32_acc = acc.get(str(variant_id))
            for r in rows:
                if r["model"] == model_name and r["route"] in made and fp32_acc:
                    r["task_accuracy"] = acc.get(str(made[r["route"]]))
                    r["task_kept"] = round(r["task_accuracy"] / fp32_acc, 4)
            rows.append({"model": model_name, "route": "fp32 (transformers)", "task_accuracy": fp32_acc})
        if model_name == "base" and args.peer == "llamacpp":
            peer = llamacpp_row(prepare_model.bundled_gguf_path(), ids, prompts, n_tokens, ref_nll)
            rows.append({"model": model_name, **peer, "size_of_fp32": round(peer["size_mb"] * 1e6 / fp32_bytes, 3)})
            print(json.dumps(rows[-1]), flush=True)
    for model_name in models:
        plain = next(
            (r for r in rows if r["model"] == model_name and r["route"] == PLAIN and "tokens_per_s" in r), None
        )
        for r in rows:
            if plain and r["model"] == model_name and "tokens_per_s" in r:
                r["speed_of_plain"] = round(r["tokens_per_s"] / plain["tokens_per_s"], 3)
    _table(rows)
    write_results(
        "int4_routes",
        {
            "texts": len(ids),
            "tokens": n_tokens,
            "fp32_mb": round(fp32_bytes / 1e6, 1),
            "cores": os.cpu_count(),
            "rows": rows,
        },
    )
    return 0


def _meta_params(config):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    seen = set()
    for p in model.parameters():  # a tied output layer counts once
        if id(p) not in seen:
            seen.add(id(p))
            yield p


COLUMNS = (
    ("MB", "size_mb", 6, ".1f"),
    ("of fp32", "size_of_fp32", 8, ".3f"),
    ("ppl kept", "ppl_ratio", 9, ".3f"),
    ("task kept", "task_kept", 10, ".3f"),
    ("tok/s", "tokens_per_s", 7, ".1f"),
    ("of plain", "speed_of_plain", 9, ".3f"),
)


def _table(rows: list[dict]) -> None:
    print("\n" + f"{'model':10} {'route':42} " + " ".join(f"{h:>{w}}" for h, _, w, _ in COLUMNS))
    for r in rows:
        if "error" in r:
            print(f"{r['model']:10} {r['route']:42} failed: {r['error'][:80]}")
            continue
        cells = [format(r[k], fmt) if r.get(k) is not None else "-" for _, k, _, fmt in COLUMNS]
        print(
            f"{r['model']:10} {r['route']:42} "
            + " ".join(f"{c:>{w}}" for c, (_, _, w, _) in zip(cells, COLUMNS, strict=True))
        )


if __name__ == "__main__":
    raise SystemExit(main())
