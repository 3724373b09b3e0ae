"""Evaluation throughput: samples per second of the evaluation stage on the offline demo's four local variants.

The bundled SmolLM2-135M student, a LoRA fine-tune of it (made by the real finetune stage with a few steps only: this
benchmark measures evaluation, not training), and that fine-tune's ONNX int8 and int4 conversions (the real convert
stage) answer the Brightwave sample's held-out test rows through the real evaluate stage, each variant alone:
(a) batched (timed_rows=0, batch_size=8) and (b) one at a time (timed_rows=all rows). Every measured run starts from an
empty answer cache (the stored EvalSample rows are deleted first). Each local variant runs in a process of its own, so
wall-clock includes starting it and loading the model; the load alone is measured too (a process that only loads the
model) to give the answering rate. Then all four variants are evaluated together, batched.
Targets: batched >= 3x one-at-a-time samples/s for the transformers variants; the four-variant evaluation of the
sample in <= 5 minutes on 2 cores. Prints a table, writes bench/results/eval_throughput.json."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 3.0
TARGET_ALL_S = 300.0


def setup(steps: int) -> tuple[int, dict[str, tuple[int, str, str]]]:
    """The sample dataset and the four variants: key -> (variant id, runtime, model folder)."""
    from slmops_engine.data import import_sample
    from slmops_engine.finetune.config import FinetuneConfig
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert, finetune, prepare_model
    from slmops_engine.students import bundled_choice

    work = Path(tempfile.mkdtemp(prefix="eval-bench-setup-"))
    print("setup: preparing the bundled model", flush=True)
    base = prepare_model.run(prepare_model.Config(), Reporter())
    ds = import_sample(None)
    print(f"setup: LoRA fine-tune, {steps} steps (a quick one: evaluation is measured, not training)", flush=True)
    ft_cfg = FinetuneConfig(
        dataset_id=ds.id, student=bundled_choice(), max_steps=steps, eval_steps=10_000, save_steps=10_000, seed=0
    )
    ft = finetune.run(ft_cfg, Reporter(work / "finetune"))
    variants = {
        "base": (base["variant_id"], "transformers", base["path"]),
        "lora": (ft["variant_id"], "transformers", ft["path"]),
    }
    for p in ("int8", "int4"):
        print(f"setup: converting the fine-tune to ONNX {p}", flush=True)
        r = convert.run(convert.Config(variant_id=ft["variant_id"], precision=p), Reporter(work / f"convert-{p}"))
        variants[f"onnx_{p}"] = (r["variant_id"], "onnxruntime-genai", r["path"])
    return ds.id, variants


def forget_answers() -> None:
    """An empty answer cache: every measured run answers every row."""
    from sqlmodel import delete

    from slmops_engine.db import session_scope
    from slmops_engine.models import EvalSample

    with session_scope() as s:
        s.exec(delete(EvalSample))


def load_seconds(runtime: str, path: str) -> float:
    """A process that starts and loads the model as the evaluation's worker does, and nothing else."""
    code = "import sys; from slmops_engine.evaluate.runtimes import load_runner; load_runner(sys.argv[1], sys.argv[2])"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, runtime, path], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def evaluate(refs: list[str], dataset_id: int, limit: int, timed_rows: int, batch: int) -> tuple[float, dict]:
    """One evaluation from an empty cache: (wall seconds, the evaluation it wrote)."""
    from slmops_engine.evaluate.config import EvalConfig
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import evaluate as stage

    forget_answers()
    cfg = EvalConfig(variants=refs, dataset_id=dataset_id, limit=limit, timed_rows=timed_rows, batch_size=batch)
    t0 = time.perf_counter()
    result = stage.run(cfg, Reporter(Path(tempfile.mkdtemp(prefix="eval-bench-run-"))))
    wall = time.perf_counter() - t0
    ev = json.loads(Path(result["evaluation_path"]).read_text())
    failed = [v["error"] for v in ev["variants"] if v["status"] != "ok"]
    if failed:
        raise RuntimeError(f"evaluation failed: {failed}")
    return wall, ev


def measure(wall: float, load: float, variant: dict) -> dict:
    samples = variant["samples"]
    n = sum(1 for s in samples if s["answer"] is not None)
    gen = sum(s["latency_ms"] for s in samples if s["latency_ms"] is not None) / 1000
    return {
        "wall_s": round(wall, 2),
        "answer_s": round(wall - load, 2),  # wall-clock less starting the process and loading the model
        "generate_s": round(gen, 2),  # inside generate() only: no prompt scoring (perplexity), storing or polling
        "samples_per_s": round(n / wall, 2),
        "answer_samples_per_s": round(n / max(wall - load, 1e-9), 2),
        "mean_tokens": round(sum(s["tokens"] for s in samples) / max(n, 1), 1),
        "accuracy": variant["metrics"].get("label_accuracy"),
    }


def main() -> int:
    from common import write_results

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=None, help="rows to evaluate (default: all 80 test rows)")
    ap.add_argument("--quick", action="store_true", help="a short check: 16 rows, a 4-step fine-tune")
    ap.add_argument("--steps", type=int, default=None, help="fine-tuning steps of the LoRA variant (default 10)")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    limit = args.limit or (16 if args.quick else 80)
    steps = args.steps or (4 if args.quick else 10)
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging

    logging.disable(logging.WARNING)
    from slmops_engine.db import init_db
    from slmops_engine.evaluate.runner import auto_max_new_tokens, labels_of, load_rows
    from slmops_engine.genai_session import cpu_threads

    init_db()
    t0 = time.perf_counter()
    dataset_id, variants = setup(steps)
    setup_s = time.perf_counter() - t0
    from slmops_engine.evaluate.config import EvalConfig

    rows = load_rows(EvalConfig(variants=["1"], dataset_id=dataset_id, limit=limit))
    limit = len(rows)
    load_before = os.getloadavg()[0]
    out: dict = {
        "model": Path(variants["base"][2]).name,
        "rows": limit,
        "batch_size": args.batch,
        "max_new_tokens": auto_max_new_tokens(rows, labels_of(rows, [])),
        "finetune_steps": steps,
        "cores": cpu_threads(),
        "setup_s": round(setup_s, 1),
    }
    results = {}
    for key, (vid, runtime, path) in variants.items():
        print(f"measuring {key}", flush=True)
        load = load_seconds(runtime, path)
        wall_b, ev_b = evaluate([str(vid)], dataset_id, limit, 0, args.batch)
        wall_a, ev_a = evaluate([str(vid)], dataset_id, limit, limit, args.batch)
        b, a = measure(wall_b, load, ev_b["variants"][0]), measure(wall_a, load, ev_a["variants"][0])
        same = [
            x["answer"] == y["answer"]
            for x, y in zip(ev_b["variants"][0]["samples"], ev_a["variants"][0]["samples"], strict=True)
        ]
        results[key] = {
            "runtime": runtime,
            "load_s": round(load, 2),
            "batched": b,
            "alone": a,
            "same": sum(same) / len(same),
        }
    print("measuring all four variants together, batched", flush=True)
    wall_all, ev_all = evaluate([str(v[0]) for v in variants.values()], dataset_id, limit, 0, args.batch)
    load_after = os.getloadavg()[0]

    print(
        f"\nmodel {out['model']}; {limit} test rows; batch {args.batch}; max new tokens {out['max_new_tokens']}; "
        f"{out['cores']} cores; LoRA fine-tune of {steps} steps (setup, not measured: {setup_s:.0f}s); "
        f"load average {load_before:.1f} -> {load_after:.1f}"
    )
    head = ("variant", "mode", "wall s", "load s", "answer s", "gen s", "samples/s", "ans smp/s", "tokens", "accuracy")
    print(f"{head[0]:<10}{head[1]:<9}" + "".join(f"{h:>10}" for h in head[2:]))
    cells = ("wall_s", "load_s", "answer_s", "generate_s", "samples_per_s", "answer_samples_per_s", "mean_tokens")
    cells += ("accuracy",)
    for key, r in results.items():
        out[f"{key}_runtime"] = r["runtime"]
        out[f"{key}_load_s"] = r["load_s"]
        for mode in ("batched", "alone"):
            m = r[mode] | {"load_s": r["load_s"]}
            print(f"{key:<10}{mode:<9}" + "".join(f"{'—' if m[c] is None else m[c]:>10}" for c in cells))
            for c in (c for c in cells if c != "load_s"):
                out[f"{key}_{mode}_{c}"] = m[c]
        out[f"{key}_ratio_wall"] = round(r["batched"]["samples_per_s"] / r["alone"]["samples_per_s"], 2)
        out[f"{key}_ratio_answer"] = round(r["batched"]["answer_samples_per_s"] / r["alone"]["answer_samples_per_s"], 2)
        out[f"{key}_ratio_generate"] = round(r["alone"]["generate_s"] / r["batched"]["generate_s"], 2)
        out[f"{key}_same_answers"] = round(r["same"], 3)
    if max(load_before, load_after) > out["cores"]:
        print(f"WARNING: load average above {out['cores']} (other work on this machine): timings are noisy")
    print("\nbatched / one at a time (samples/s): wall-clock incl. load | excl. load | generate() alone")
    print("(the ONNX runtime answers one prompt at a time in both modes: its ratio shows the timed path's overhead)")
    for key, r in results.items():
        print(
            f"  {key:<10} {out[f'{key}_ratio_wall']:>5}x | {out[f'{key}_ratio_answer']:>5}x | "
            f"{out[f'{key}_ratio_generate']:>5}x   (answers identical in both modes: {r['same']:.0%})"
        )
    n_all = sum(v["metrics"]["answered"] for v in ev_all["variants"])
    out["all_four_wall_s"] = round(wall_all, 1)
    out["all_four_samples_per_s"] = round(n_all / wall_all, 2)
    out["all_four_projected_80_rows_s"] = round(wall_all * 80 / limit, 1) if limit != 80 else round(wall_all, 1)
    print(f"\nall four variants, batched: {wall_all:.1f}s for {n_all} answers ({n_all / wall_all:.2f} samples/s)")
    for key in ("base", "lora"):
        for kind in ("wall", "answer"):
            ok = out[f"{key}_ratio_{kind}"] >= TARGET_RATIO
            out[f"target_{key}_ratio_{kind}_met"] = ok
            label = "incl. load" if kind == "wall" else "excl. load"
            print(f"target {key} batched >= {TARGET_RATIO:g}x one at a time ({label}): {'met' if ok else 'NOT met'}")
    ok = out["all_four_projected_80_rows_s"] <= TARGET_ALL_S
    out["target_all_four_5_min_met"] = ok
    note = "" if limit == 80 else f" (projected to 80 rows: {out['all_four_projected_80_rows_s']}s)"
    print(f"target four-variant evaluation <= {TARGET_ALL_S:g}s: {'met' if ok else 'NOT met'}{note}")
    out["load_average_start"], out["load_average_end"] = round(load_before, 2), round(load_after, 2)
    write_results("eval_throughput", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
