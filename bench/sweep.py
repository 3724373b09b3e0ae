"""A search against the quick preset on the offline demo, in the same wall-clock budget: the bundled SmolLM2 learns
the sample's routes from the prompted teacher's answers, once with the quick preset, then by a search of N trials
(the quick search space, pruned) given as long as the preset took times N. Reports each one's validation loss and
route accuracy on the validation part. Prints a table, writes bench/results/sweep.json."""

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--max-prompts", type=int, default=None, help="teacher answers at most this many prompts")
    ap.add_argument("--home", help="keep the run's files here (default: a temporary folder)")
    args = ap.parse_args()
    os.environ["SLMOPS_HOME"] = args.home or tempfile.mkdtemp(prefix="sweep-bench-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from slmops_engine.data import import_sample
    from slmops_engine.db import init_db
    from slmops_engine.finetune.config import FinetuneConfig, apply_preset
    from slmops_engine.jobs import submit_job, wait_for_job
    from slmops_engine.jobs.supervisor import ensure_supervisor
    from slmops_engine.models import JobStatus
    from slmops_engine.projects import create_project
    from slmops_engine.students import bundled_choice
    from slmops_engine.sweep.config import SweepConfig
    from slmops_engine.synth.config import SynthConfig
    from slmops_engine.teachers import Provider, TeacherConfig

    init_db()
    ensure_supervisor()

    def run(kind: str, cfg) -> dict:
        job = wait_for_job(submit_job(kind, cfg, project_id=project.id).id, timeout=6 * 3600)
        if job.status != JobStatus.succeeded:
            raise SystemExit(f"{kind} failed: {job.error_label} {job.error_hint}")
        return job.result

    project = create_project("sweep-bench", "Route each support message to billing, account, technical or shipping.")
    sample = import_sample(project.id)
    base = run("prepare_model", {})
    teacher = TeacherConfig(
        provider=Provider.local,
        local_path=base["path"],
        system_prompt="Route the customer's message to the team that handles it.",
        example_shots=4,
    )
    syn = SynthConfig(
        dataset_id=sample.id, teacher=teacher, project_id=project.id, splits=["train"], max_prompts=args.max_prompts
    )
    answered = run("synth", syn)["dataset_id"]
    quick = apply_preset("quick", method="lora")
    t0 = time.monotonic()
    preset = run("finetune", FinetuneConfig(dataset_id=answered, student=bundled_choice(), **quick))
    preset_s = time.monotonic() - t0
    budget_min = preset_s * args.trials / 60
    shared = {k: v for k, v in quick.items() if k not in ("learning_rate", "lora_r", "lora_alpha")}
    cfg = SweepConfig(
        dataset_id=answered,
        student=bundled_choice(),
        project_id=project.id,
        space="quick",
        trials=args.trials,
        time_limit_minutes=budget_min,
        base={"method": "lora", **shared},
    )
    t0 = time.monotonic()
    search = run("sweep", cfg)
    search_s = time.monotonic() - t0
    best = next(t for t in search["trials"] if t["trial"] == search.get("best_trial"))
    from slmops_engine.jobs import get_job

    best_run = get_job(best["job_id"]).result
    out = {
        "cores": os.cpu_count(),
        "trials": args.trials,
        "budget_minutes": round(budget_min, 1),
        "preset": {
            "seconds": round(preset_s, 1),
            "eval_loss": preset["eval_loss_end"],
            "eval_accuracy": preset.get("eval_accuracy_end"),
        },
        "search": {
            "seconds": round(search_s, 1),
            "trials_run": len(search["trials"]),
            "pruned": search["pruned"],
            "best_params": search.get("best_params"),
            "eval_loss": best_run["eval_loss_end"],
            "eval_accuracy": best_run.get("eval_accuracy_end"),
        },
    }
    print(f"\n{'run':<8} {'seconds':>8} {'val loss':>9} {'accuracy':>9}")
    for name in ("preset", "search"):
        r = out[name]
        acc = f"{r['eval_accuracy']:.1%}" if r["eval_accuracy"] is not None else "—"
        print(f"{name:<8} {r['seconds']:>8} {r['eval_loss']:>9.4f} {acc:>9}")
    print(f"search: {out['search']['trials_run']} trials, {out['search']['pruned']} pruned, best {best['params']}")
    write_results("sweep", out)


if __name__ == "__main__":
    main()
