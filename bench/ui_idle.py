"""The dashboard at rest: the CPU the app uses while a page is open in a browser and nothing runs.

The real app (`streamlit run app.py` with the job supervisor it starts) serves a fresh home with one project and
three finished jobs (their metric charts drawn on the Jobs page). Headless Chromium opens each page in turn; after
a settling time, the app's CPU time (the streamlit server and the supervisor) is measured over a window, as a share
of one core. Target: at most 5% on every page. Prints a table and writes bench/results/ui_idle.json."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from common import write_results  # noqa: E402 - next to this script

PAGES = ("", "jobs", "distill", "finetune", "optimize", "deploy", "chat")
TARGET = 0.05


def _seed(home: Path) -> int:
    """One project and three finished jobs with metric points; returns the project id."""
    from datetime import timedelta

    from slmops_engine.db import init_db
    from slmops_engine.jobs import submit_job
    from slmops_engine.jobs.rows import finish_job, set_job_fields, upsert_metrics
    from slmops_engine.models import JobStatus, utcnow
    from slmops_engine.projects import create_project

    init_db()
    project = create_project("idle-dashboard", "Route customer messages.")
    for n, status in ((40, JobStatus.succeeded), (25, JobStatus.cancelled), (60, JobStatus.succeeded)):
        job = submit_job("test_steps", {"steps": n}, project_id=project.id, title="Fine-tune the student")
        set_job_fields(job.id, started_at=utcnow() - timedelta(minutes=5))
        points = [{"name": "loss", "step": s, "value": 2.0 / s} for s in range(1, n + 1)]
        points += [{"name": "tokens_per_s", "step": s, "value": 100.0 + s % 7} for s in range(1, n + 1)]
        upsert_metrics(job.id, points)
        finish_job(job.id, status, progress=1.0, message=f"Done: {n} steps")
    return project.id


def _app_cpu(streamlit: psutil.Process) -> float:
    """CPU seconds so far of the streamlit server and the supervisor of this home (and their children)."""
    from slmops_engine.jobs.supervisor import supervisor_pid

    total = 0.0
    procs = [streamlit]
    if pid := supervisor_pid():
        procs.append(psutil.Process(pid))
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settle", type=float, default=10.0, help="seconds after a page loads before measuring")
    ap.add_argument("--window", type=float, default=30.0, help="seconds measured per page")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="slmops-ui-idle-"))
    os.environ["SLMOPS_HOME"] = str(home)
    os.environ["SLMOPS_STAGE_PLUGINS"] = "tests.support.stages"
    project_id = _seed(home)
    from tests.support.app_server import browser_page, running_app

    rows = []
    with running_app(home, home / "streamlit.log") as (url, proc), browser_page() as page:
        server = psutil.Process(proc.pid)
        for name in PAGES:
            page.goto(f"{url}/{name}?project={project_id}")
            page.wait_for_selector("h1")
            time.sleep(args.settle)
            cpu0, t0 = _app_cpu(server), time.monotonic()
            time.sleep(args.window)
            share = (_app_cpu(server) - cpu0) / (time.monotonic() - t0)
            rows.append({"page": name or "home", "cpu_share_of_a_core": round(share, 4), "within": share <= TARGET})
            print(f"{name or 'home':10} {share:6.1%} of a core", flush=True)
    print(f"\n{'page':10} {'CPU':>8}  (target ≤ {TARGET:.0%} of a core, nothing running)")
    for r in rows:
        print(f"{r['page']:10} {r['cpu_share_of_a_core']:8.1%}  {'ok' if r['within'] else 'ABOVE TARGET'}")
    write_results(
        "ui_idle",
        {"settle_s": args.settle, "window_s": args.window, "cores": os.cpu_count(), "target": TARGET, "pages": rows},
    )
    return 0 if all(r["within"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
