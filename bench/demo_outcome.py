"""The offline demo's whole chain, headless, on this machine: prepare the bundled SmolLM2-135M, load the Brightwave
sample, the task-aware prompted teacher labels the training part, the student is fine-tuned (LoRA) on its answers,
converted to ONNX int4 and everything is evaluated on the 80 held-out rows. Reports each stage's time, the total,
and the teacher / base / fine-tuned / int4 route accuracy. Prints a table, writes bench/results/demo_outcome.json."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402

GOAL_KEPT = 0.9  # the int4 student keeps >= 90% of the teacher's accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=float, default=3.0, help="fine-tuning passes over the teacher's answers")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--shots", type=int, default=4, help="labelled examples the teacher sees with each prompt")
    ap.add_argument("--max-prompts", type=int, default=None, help="teacher answers at most this many prompts")
    ap.add_argument("--home", help="keep the run's files here (default: a temporary folder)")
    args = ap.parse_args()
    os.environ["SLMOPS_HOME"] = args.home or tempfile.mkdtemp(prefix="demo-outcome-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from slmops_engine.data import import_sample
    from slmops_engine.db import init_db
    from slmops_engine.evaluate.config import EvalConfig
    from slmops_engine.finetune.config import FinetuneConfig
    from slmops_engine.projects import create_project, set_student, set_teacher
    from slmops_engine.stage_api import Reporter
    from slmops_engine.stages import convert, evaluate, finetune, prepare_model, synth
    from slmops_engine.students import bundled_choice
    from slmops_engine.synth.config import SynthConfig
    from slmops_engine.teachers import Provider, TeacherConfig

    init_db()
    runs = Path(os.environ["SLMOPS_HOME"]) / "bench-runs"
    times: dict[str, float] = {}

    def stage(name: str, fn):
        t0 = time.perf_counter()
        print(f"… {name}", flush=True)
        out = fn()
        times[name] = round(time.perf_counter() - t0, 1)
        print(f"  {name}: {times[name]} s", flush=True)
        return out

    base = stage("prepare", lambda: prepare_model.run(prepare_model.Config(), Reporter()))
    project = create_project("brightwave", "Route each support message to billing, account, technical or shipping.")
    sample = import_sample(project.id)
    teacher = TeacherConfig(
        provider=Provider.local,
        local_path=base["path"],
        system_prompt="Route the customer's message to the team that handles it.",
        example_shots=args.shots,
    )
    set_teacher(project.id, teacher)
    set_student(project.id, bundled_choice())
    syn_cfg = SynthConfig(
        dataset_id=sample.id, teacher=teacher, project_id=project.id, splits=["train"], max_prompts=args.max_prompts
    )
    answered = stage("teacher", lambda: synth.run(syn_cfg, Reporter(runs / "synth")))
    ft_cfg = FinetuneConfig(
        dataset_id=answered["dataset_id"],
        student=bundled_choice(),
        project_id=project.id,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        eval_steps=10_000,
        save_steps=10_000,
    )
    tuned = stage("finetune", lambda: finetune.run(ft_cfg, Reporter(runs / "finetune")))
    int4 = stage(
        "int4",
        lambda: convert.run(
            convert.Config(variant_id=tuned["variant_id"], precision="int4", int4_method="auto"),
            Reporter(runs / "int4"),
        ),
    )
    refs = ["teacher", str(base["variant_id"]), str(tuned["variant_id"]), str(int4["variant_id"])]
    ev_cfg = EvalConfig(variants=refs, dataset_id=answered["dataset_id"], project_id=project.id)
    result = stage("evaluate", lambda: evaluate.run(ev_cfg, Reporter(runs / "evaluate")))
    acc = {v["kind"]: v["metrics"].get("label_accuracy") for v in result["variants"]}
    total = round(sum(times.values()), 1)
    kept = acc["onnx"] / acc["teacher"] if acc.get("teacher") else None
    out = {
        "cores": os.cpu_count(),
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "lora_r": args.lora_r,
        "teacher_shots": args.shots,
        "teacher_answers": answered.get("answered"),
        **{f"{k}_s": v for k, v in times.items()},
        "total_s": total,
        "teacher_accuracy": acc.get("teacher"),
        "base_accuracy": acc.get("base"),
        "finetuned_accuracy": acc.get("finetune"),
        "int4_accuracy": acc.get("onnx"),
        "int4_route": int4.get("int4_route"),
        "int4_kept_of_finetuned": round(acc["onnx"] / acc["finetune"], 3) if acc.get("finetune") else None,
        "int4_kept_of_teacher": round(kept, 3) if kept is not None else None,
        "goal_int4_kept_met": kept is not None and kept >= GOAL_KEPT,
        "headline": (result.get("headline") or {}).get("sentence"),
    }
    print(f"\n{'stage':<10} {'seconds':>8}")
    for k, v in times.items():
        print(f"{k:<10} {v:>8}")
    print(f"{'total':<10} {total:>8}\n")
    print(f"{'variant':<12} {'route accuracy':>15}")
    for k in ("teacher", "base", "finetune", "onnx"):
        print(f"{k:<12} {acc.get(k) if acc.get(k) is not None else '—':>15}")
    print(f"\nint4 keeps {kept:.0%} of the teacher's accuracy (goal {GOAL_KEPT:.0%})" if kept is not None else "")
    print(out["headline"] or "")
    write_results("demo_outcome", out)


if __name__ == "__main__":
    main()
