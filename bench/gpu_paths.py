"""The GPU-only training paths, checked on a CUDA machine: QLoRA (4-bit NF4 base via bitsandbytes) and LoRA in
bf16, each on a small locally built model through the real fine-tuning stage. Prints a table and writes
bench/results/gpu_paths.json. On a machine without CUDA it says so and exits 0 without results."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check")
        return 0
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-gpu-"))
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    from slmops_engine.data import import_file
    from slmops_engine.db import init_db
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import finetune
    from slmops_engine.students import StudentChoice
    from tests.support.tiny_model import build_tiny_model

    init_db()
    work = Path(tempfile.mkdtemp())
    model = build_tiny_model(work / "model", hidden=256, layers=4)
    rows = [{"prompt": f"please reset my password now {i}", "response": "account"} for i in range(64)]
    rows += [{"prompt": f"refund the double charge on my card {i}", "response": "billing"} for i in range(64)]
    for i, r in enumerate(rows):
        r["split"] = "validation" if i % 8 == 0 else "train"
    (work / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ds, _ = import_file(work / "d.jsonl", project_id=None)
    results = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    print(f"GPU: {results['gpu']}, torch {torch.__version__}")
    print(
        f"{'method':<8} {'eval loss before':>17} {'after':>8} {'steps':>6} {'tokens/s':>9} {'peak GPU MB':>12} "
        f"{'seconds':>8}"
    )
    for method in ("qlora", "lora"):
        torch.cuda.reset_peak_memory_stats()
        cfg = finetune.Config(
            dataset_id=ds.id,
            student=StudentChoice(source="local", path=str(model)),
            method=method,
            max_steps=40,
            eval_steps=20,
            save_steps=20,
            batch_size=16,
            learning_rate=5e-3,
            precision="bf16",
        )
        issues = [i.title for i in finetune.preflight(cfg) if i.blocking]
        t0 = time.perf_counter()
        r = finetune.run(cfg, Reporter(work / f"run-{method}"))
        secs = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 1024**2
        print(
            f"{method:<8} {r['eval_loss_start']:>17.4f} {r['eval_loss_end']:>8.4f} {r['steps']:>6} "
            f"{r['tokens_per_s']:>9} {peak:>12.0f} {secs:>8.1f}"
        )
        results[method] = {
            **{k: r[k] for k in ("eval_loss_start", "eval_loss_end", "steps", "tokens_per_s", "bf16")},
            "peak_gpu_mb": round(peak),
            "seconds": round(secs, 1),
            "blocking_preflight": issues,
            "learned": r["eval_loss_end"] < r["eval_loss_start"] * 0.9,
        }
    out = ROOT / "bench" / "results" / "gpu_paths.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_paths.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
