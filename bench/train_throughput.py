"""Fine-tuning throughput: real (non-padding) tokens per second.

(a) a naive script: the HF Trainer with every example padded to the maximum length and a random sampler;
(b) the same model, data, steps and LoRA settings through our job engine (a worker process writing progress and
metrics to the database), which masks the prompt, pads per batch and groups examples of similar length;
(c) our stage called directly in a fresh process of its own, to measure what the job wrapping costs.
Targets: (b) >= 1.2x (a); engine overhead (b vs c) <= 5%. Prints a table, writes bench/results/train_throughput.json.
Runs on the bundled SmolLM2-135M when it is prepared (else the tiny test model); --model tiny forces the latter."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def naive(model_dir: Path, dataset_id: int, steps: int, batch: int, max_length: int, lr: float) -> dict:
    """What a first script usually looks like: pad everything to max_length, train on every token."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from slmops_engine.data import load_dataset_dict

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    part = load_dataset_dict(dataset_id)["train"]

    def enc(r):
        text = tok.apply_chat_template(
            [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["response"]}], tokenize=False
        )
        e = tok(text, padding="max_length", truncation=True, max_length=max_length, add_special_tokens=False)
        e["labels"] = [t if m else -100 for t, m in zip(e["input_ids"], e["attention_mask"], strict=True)]
        return e

    ds = part.map(enc, remove_columns=part.column_names)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=batch,
            max_steps=steps,
            learning_rate=lr,
            logging_steps=steps,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            include_num_input_tokens_seen="non_padding",
            seed=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=ds)
        result = trainer.train()
    secs = result.metrics["train_runtime"]
    real = trainer.state.num_input_tokens_seen
    return {"real_tokens": real, "train_seconds": round(secs, 2), "tokens_per_s": round(real / secs, 1)}


def direct_child(config_json: str, out: str) -> int:
    """(c): the stage called directly, without the job engine, in this fresh process."""
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import finetune

    result = finetune.run(finetune.Config.model_validate_json(config_json), Reporter(Path(tempfile.mkdtemp())))
    Path(out).write_text(json.dumps(result))
    return 0


def main() -> int:
    from common import bench_model, write_results

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=["auto", "tiny", "bundled"], default="auto")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--direct", nargs=2, metavar=("CONFIG_JSON", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.direct:
        return direct_child(*args.direct)
    os.environ.setdefault("SLMOPS_HOME", tempfile.mkdtemp(prefix="slmops-bench-"))
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import logging

    logging.disable(logging.WARNING)
    from slmops_engine.data import import_sample
    from slmops_engine.db import init_db
    from slmops_engine.jobs import get_job, submit_job
    from slmops_engine.stages import finetune
    from slmops_engine.students import StudentChoice

    init_db()
    model_dir = bench_model(args.model)
    ds = import_sample(None)
    lr = 2e-4
    cfg = finetune.Config(
        dataset_id=ds.id,
        student=StudentChoice(source="local", path=str(model_dir)),
        max_steps=args.steps,
        batch_size=args.batch,
        max_length=args.max_length,
        learning_rate=lr,
        eval_steps=10_000,
        save_steps=10_000,
        precision="fp32",
        seed=0,
    )

    a = naive(model_dir, ds.id, args.steps, args.batch, args.max_length, lr)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # The direct call also runs in a fresh process, so that both (b) and (c) start equally cold.
    out_json = Path(tempfile.mkdtemp()) / "direct.json"
    subprocess.run(
        [sys.executable, __file__, "--direct", cfg.model_dump_json(), str(out_json)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    c = json.loads(out_json.read_text())
    job = submit_job("finetune", cfg)
    subprocess.run(
        [sys.executable, "-m", "slmops_engine.jobs.worker", str(job.id)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    b = get_job(job.id).result

    rows = [("naive padded Trainer", a), ("job engine", b), ("stage, direct call", c)]
    print(f"model: {model_dir.name}, steps {args.steps}, batch {args.batch}, max length {args.max_length}")
    print(f"{'run':<22} {'real tokens':>12} {'train s':>8} {'real tokens/s':>14}")
    for name, r in rows:
        print(f"{name:<22} {r['real_tokens']:>12} {r['train_seconds']:>8} {r['tokens_per_s']:>14}")
    speedup = b["tokens_per_s"] / a["tokens_per_s"]
    overhead = 1 - b["tokens_per_s"] / c["tokens_per_s"]
    print(f"engine vs naive: {speedup:.2f}x (target >= 1.2x: {'met' if speedup >= 1.2 else 'NOT met'})")
    print(f"job-wrapping overhead: {overhead * 100:+.1f}% (target <= 5%: {'met' if overhead <= 0.05 else 'NOT met'})")
    out = {
        "model": model_dir.name,
        "steps": args.steps,
        "batch": args.batch,
        "max_length": args.max_length,
        "naive_tokens_per_s": a["tokens_per_s"],
        "engine_tokens_per_s": b["tokens_per_s"],
        "direct_tokens_per_s": c["tokens_per_s"],
        "speedup_vs_naive": round(speedup, 3),
        "job_overhead": round(overhead, 4),
        "target_speedup": 1.2,
        "target_overhead": 0.05,
        "targets_met": speedup >= 1.2 and overhead <= 0.05,
        "naive_real_tokens": a["real_tokens"],
        "engine_real_tokens": b["real_tokens"],
    }
    write_results("train_throughput", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
