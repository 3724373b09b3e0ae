"""`slmops sweep`: search for the best fine-tuning settings (the same engine as the Fine-tune page's search)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..db import init_db

# The search's own settings that are options (its space is a name or a file, read below).
SWEEP_SETTINGS = ("trials", "time_limit_minutes", "objective", "parallel", "prune", "seed")
# The fine-tuning settings every trial shares that the command line sets (the searched ones vary by trial).
BASE_SETTINGS = ("method", "max_steps")


def add_parser(sub) -> None:
    from ..fields import add_options
    from ..finetune.config import FinetuneConfig
    from ..sweep.config import SPACES, SweepConfig
    from .finetune_commands import add_data_and_student

    p = sub.add_parser("sweep", help="search for the best fine-tuning settings (an Optuna study)")
    add_data_and_student(p)
    shape = "{setting: [choices] or {low, high}}"
    p.add_argument("--space", default="quick", help=f"{' or '.join(SPACES)}, or a JSON file {shape}")
    add_options(p, SweepConfig, SWEEP_SETTINGS, aliases={"time_limit_minutes": ["--time-limit"]})
    add_options(p, FinetuneConfig, BASE_SETTINGS)
    p.add_argument("--wait", action="store_true", help="block until done; print the best model variant id last")
    p.set_defaults(func=sweep_cmd)


def _space_file(path: Path) -> dict:
    from ..errors import ConfigError

    example = '{"learning_rate": {"low": 1e-4, "high": 3e-3, "log": true}, "lora_r": [8, 16]}'
    hint = f"Use quick, thorough, or a JSON file such as {example}."
    if not path.is_file():
        raise ConfigError(f"No search space named or saved as '{path}'", hint)
    try:
        space = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}", hint) from exc
    if not isinstance(space, dict):
        raise ConfigError(f"{path} holds no settings to search", hint)
    return space


def sweep_cmd(args: argparse.Namespace) -> int:
    from ..fields import given_options
    from ..jobs.supervisor import ensure_supervisor
    from ..projects import get_project
    from ..sweep.config import SPACES, SweepConfig
    from .finetune_commands import _student
    from .jobs_run import submit_and_follow

    init_db()
    project = get_project(args.project) if args.project else None
    space = args.space if args.space in SPACES else _space_file(Path(args.space))
    cfg = SweepConfig(
        dataset_id=args.dataset,
        student=_student(args, project),
        project_id=project.id if project else None,
        space=space,
        base=given_options(args, BASE_SETTINGS),
        **given_options(args, SWEEP_SETTINGS),
    )
    ensure_supervisor()  # the trials are ordinary jobs: the job runner takes them, also while this one waits
    job = submit_and_follow("sweep", cfg, cfg.project_id, wait=args.wait, what="searching")
    if job is None:
        return 1 if args.wait else 0
    r = job.result
    for t in r["trials"]:
        value = f"{t['value']:.4f}" if t["value"] is not None else "—"
        print(f"trial {t['trial']:>3}  {t['state']:<8}  {value:>8}  {json.dumps(t['params'])}")
    if r.get("best_variant_id") is None:
        print("no trial finished: nothing to promote")
        return 1
    print(f"best: trial {r['best_trial']} ({r['objective']} {r['best_value']:.4f}) {json.dumps(r['best_params'])}")
    print(r["best_variant_id"])
    return 0
