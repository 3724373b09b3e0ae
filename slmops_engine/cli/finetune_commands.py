"""`slmops finetune`: train the student on a dataset (the same engine and settings as the Fine-tune page)."""

from __future__ import annotations

import argparse

from ..db import init_db

# Spellings older commands (and recorded runs' command lines) used, still accepted.
ALIASES = {"kd_teacher_path": ["--kd-teacher"]}


def add_parser(sub) -> None:
    from ..fields import add_options
    from ..finetune.config import DEFAULT_PRESET, PRESETS, SETTINGS, FinetuneConfig

    p = sub.add_parser("finetune", help="fine-tune the student (LoRA, DoRA, full, QLoRA)")
    add_data_and_student(p)
    p.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET, help="fills in the settings not given")
    add_options(p, FinetuneConfig, SETTINGS, aliases=ALIASES)
    p.add_argument("--wait", action="store_true", help="block until trained; print the new model variant id last")
    p.set_defaults(func=finetune_cmd)


def add_data_and_student(p) -> None:
    """The options every training command shares: the data, the project, and the student if not the project's."""
    p.add_argument("--dataset", type=int, required=True, help="id of a dataset with answers")
    p.add_argument("--project", help="project name or id (its student is used unless one is given here)")
    p.add_argument("--student-path", help="a model folder on this machine")
    p.add_argument("--student-id", help="a Hugging Face model id")


def _student(args, project):
    from ..errors import ConfigError
    from ..projects import project_student
    from ..students import StudentChoice

    if args.student_path:
        return StudentChoice(source="local", path=args.student_path)
    if args.student_id:
        return StudentChoice(source="catalog", model_id=args.student_id)
    student = project_student(project) if project else None
    if student is None:
        raise ConfigError("No student", "Pass --student-path or --student-id, or choose the project's student.")
    return student


def settings_from_args(args: argparse.Namespace) -> dict:
    """The run's settings: the preset's, then the options given."""
    from ..fields import given_options
    from ..finetune.config import SETTINGS, apply_preset

    given = given_options(args, SETTINGS)
    if given.get("kd_teacher_path"):
        given["kd"] = True  # a teacher folder is what turns logit distillation on
    return apply_preset(args.preset, **given)


def finetune_cmd(args: argparse.Namespace) -> int:
    from ..finetune.config import FinetuneConfig
    from ..finetune.views import accuracy_note
    from ..projects import get_project
    from .jobs_run import submit_and_follow

    init_db()
    project = get_project(args.project) if args.project else None
    cfg = FinetuneConfig(
        dataset_id=args.dataset,
        student=_student(args, project),
        project_id=project.id if project else None,
        **settings_from_args(args),
    )
    job = submit_and_follow("finetune", cfg, cfg.project_id, wait=args.wait, what="training")
    if job is None:
        return 1 if args.wait else 0
    r = job.result
    print(
        f"validation loss {r['eval_loss_start']:.4f} -> {r['eval_loss_end']:.4f} in {r['steps']} steps "
        f"({r['tokens_per_s']} tokens/s); model at {r['path']}"
    )
    if accuracy_note(r):
        print(accuracy_note(r).replace("→", "->"))
    print(r["variant_id"])
    return 0
