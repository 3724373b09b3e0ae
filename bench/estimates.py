"""How honest the pages' estimates are: estimate ÷ actual for preparing the bundled model, a teacher run, a
fine-tuning run and a conversion, on the offline demo, each run as the app runs it (submitted, then one worker
process per job). Round 1 starts from an empty home, so every estimate is the laptop's measurement; round 2 does
different amounts of the same work (another part of the data, fewer passes), so every estimate comes from round 1's
runs. Target: every ratio within 0.67–1.5. Prints a table, writes bench/results/estimates.json."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402

LOW, HIGH = 0.67, 1.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", help="keep the run's files here (default: a temporary folder)")
    args = ap.parse_args()
    os.environ["SLMOPS_HOME"] = args.home or tempfile.mkdtemp(prefix="estimates-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from slmops_engine.data import import_sample
    from slmops_engine.db import init_db
    from slmops_engine.finetune.config import FinetuneConfig, apply_preset
    from slmops_engine.jobs import get_job, submit_job
    from slmops_engine.jobs.estimates import peak_of, recorded, took
    from slmops_engine.models import JobStatus
    from slmops_engine.optimize.config import ConvertConfig
    from slmops_engine.projects import create_project
    from slmops_engine.stages.prepare_model import Config as PrepareConfig
    from slmops_engine.students import bundled_choice
    from slmops_engine.synth.config import SynthConfig
    from slmops_engine.teachers import Provider, TeacherConfig

    init_db()
    rows: list[dict] = []

    def run(stage: str, rnd: int, kind: str, cfg, project_id: int | None = None):
        job = submit_job(kind, cfg, project_id=project_id)
        est = recorded(job.id)
        print(f"… round {rnd} {stage}: estimated {est.seconds:.0f} s ({est.basis})", flush=True)
        subprocess.run([sys.executable, "-m", "slmops_engine.jobs.worker", str(job.id)], check=True)
        job = get_job(job.id)
        if job.status != JobStatus.succeeded:
            raise SystemExit(f"{stage} failed: {job.error_label} {job.error_hint}")
        actual, peak = took(job), peak_of(job)
        rows.append(
            {
                "stage": stage,
                "round": rnd,
                "basis": est.basis,
                "estimate_s": round(est.seconds, 1),
                "actual_s": round(actual, 1),
                "time_ratio": round(est.seconds / actual, 2),
                "estimate_peak_gb": round(est.peak_bytes / 1e9, 2) if est.peak_bytes else None,
                "actual_peak_gb": round(peak / 1e9, 2) if peak else None,
                "peak_ratio": round(est.peak_bytes / peak, 2) if est.peak_bytes and peak else None,
            }
        )
        print(f"  took {actual:.0f} s, peak {rows[-1]['actual_peak_gb']} GB", flush=True)
        return job.result

    project = create_project("brightwave", "Route each support message to billing, account, technical or shipping.")
    sample = import_sample(project.id)
    answered, tuned = {}, {}
    for rnd in (1, 2):
        base = run("prepare", rnd, "prepare_model", PrepareConfig(force=rnd == 2))
        teacher = TeacherConfig(
            provider=Provider.local,
            local_path=base["path"],
            system_prompt="Route the customer's message to the team that handles it.",
            example_shots=4,
        )
        part = ["train"] if rnd == 1 else ["test"]
        syn = SynthConfig(dataset_id=sample.id, teacher=teacher, project_id=project.id, splits=part)
        answered[rnd] = run("teacher run", rnd, "synth", syn, project.id)
        values = apply_preset("quick", method="lora") | ({"epochs": 2.0} if rnd == 2 else {})
        ft = FinetuneConfig(dataset_id=answered[1]["dataset_id"], student=bundled_choice(), **values)
        tuned[rnd] = run("fine-tune", rnd, "finetune", ft, project.id)
        for precision in ("int8", "int4"):
            conv = ConvertConfig(variant_id=tuned[rnd]["variant_id"], precision=precision, check_dataset_id=sample.id)
            run(f"{precision} conversion", rnd, "convert", conv, project.id)

    inside = [r for r in rows if LOW <= r["time_ratio"] <= HIGH]
    head = f"{'stage':<16} {'round':>5} {'estimate s':>10} {'actual s':>9} {'ratio':>6} {'peak est/act GB':>16}"
    print(f"\n{head}  basis")
    for r in rows:
        peak = f"{r['estimate_peak_gb'] or '–'} / {r['actual_peak_gb'] or '–'}"
        print(
            f"{r['stage']:<16} {r['round']:>5} {r['estimate_s']:>10} {r['actual_s']:>9} {r['time_ratio']:>6} "
            f"{peak:>16}  {r['basis']}"
        )
    print(f"\n{len(inside)} of {len(rows)} time estimates within {LOW}–{HIGH} of the actual time")
    write_results(
        "estimates",
        {"cores": os.cpu_count(), "target": [LOW, HIGH], "within_target": f"{len(inside)}/{len(rows)}", "rows": rows},
    )


if __name__ == "__main__":
    main()
