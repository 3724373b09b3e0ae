"""`slmops pipeline run FILE|demo|rest`: run the lifecycle's stages as a chain of jobs, headless (`rest`: only the
steps the project has not done yet); `slmops pipeline show demo|rest --project P` prints the chain as a file to
keep or edit."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..db import init_db


def _demo(project_id: int):
    from ..pipeline.demo import demo_pipeline

    return demo_pipeline(project_id)


def _rest(project_id: int):
    from ..pipeline.rest import rest_pipeline

    return rest_pipeline(project_id)


BUILT_IN = {"demo": _demo, "rest": _rest}


def add_parser(sub) -> None:
    p = sub.add_parser("pipeline", help="run a pipeline file (or the built-in demo) as a chain of jobs")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser(
        "run",
        help="run FILE, `demo` (prepares the bundled model and the sample if needed) or `rest` (the project's "
        "remaining steps)",
    )
    r.add_argument("file", help="a pipeline YAML file, demo or rest")
    r.add_argument("--project", help="project name or id (demo: created when missing)")
    r.add_argument("--wait", action="store_true", help="block until the chain ends")
    r.add_argument("--out", type=Path, help="write the final evaluation's JSON here")
    r.set_defaults(func=run_cmd)
    s = actions.add_parser("show", help="print the demo chain, or the project's remaining steps, as a pipeline file")
    s.add_argument("file", choices=["demo", "rest"])
    s.add_argument("--project", required=True)
    s.set_defaults(func=show_cmd)


def _demo_project(ref: str | None) -> int:
    from ..errors import NotFoundError
    from ..projects import create_project, get_project

    ref = ref or "demo"
    try:
        return get_project(ref).id
    except NotFoundError:
        return create_project(ref, "Route each support message to billing, account, technical or shipping.").id


def _ensure_bundled() -> None:
    from ..stage_api import Reporter
    from ..stages import prepare_model

    if prepare_model.bundled_variant() is None:
        print("preparing the bundled model (once, about a minute)…")
        prepare_model.run(prepare_model.Config(), Reporter())


def run_cmd(args: argparse.Namespace) -> int:
    from ..jobs.supervisor import ensure_supervisor
    from ..pipeline.spec import load
    from ..projects import get_project
    from .jobs_run import submit_and_follow

    init_db()
    if args.file in BUILT_IN:
        if args.file == "demo":
            _ensure_bundled()
        cfg = BUILT_IN[args.file](_demo_project(args.project))
    else:
        cfg = load(Path(args.file))
        if args.project:
            cfg = cfg.model_copy(update={"project_id": get_project(args.project).id})
    if args.out:
        cfg = cfg.model_copy(update={"out": str(args.out.resolve())})
    ensure_supervisor()  # the stages are ordinary jobs: the job runner takes them, also while this one waits
    job = submit_and_follow("pipeline", cfg, cfg.project_id, wait=args.wait, what=f"running {cfg.name}")
    if job is None:
        return 1 if args.wait else 0
    for name, job_id in job.result["steps"].items():
        print(f"{name}: job {job_id}" if job_id else f"{name}: done")
    if args.out:
        print(f"evaluation written to {args.out}")
    print(job.id)
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    from ..pipeline.spec import dump
    from ..projects import get_project

    init_db()
    print(dump(BUILT_IN[args.file](get_project(args.project).id)), end="")
    return 0
