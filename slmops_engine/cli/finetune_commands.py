"""`slmops finetune`: train the student on a dataset (the same engine and settings as the Fine-tune page)."""

from __future__ import annotations

import argparse

from ..db import init_db

NUMERIC = {
    "learning_rate": float,
    "epochs": float,
    "max_steps": int,
    "batch_size": int,
    "grad_accum": int,
    "max_length": int,
    "lora_r": int,
    "lora_alpha": int,
    "lora_dropout": float,
    "warmup_ratio": float,
    "weight_decay": float,
    "seed": int,
    "eval_steps": int,
    "early_stopping_patience": int,
    "save_steps": int,
}


def add_parser(sub) -> None:
    from ..finetune.config import PRESETS, FinetuneConfig

    p = sub.add_parser("finetune", help="fine-tune the student (LoRA, DoRA, full, QLoRA)")
    add_data_and_student(p)
    p.add_argument("--method", choices=["lora", "dora", "full", "qlora"], default="lora")
    p.add_argument("--preset", choices=list(PRESETS), default="balanced")
    for name, kind in NUMERIC.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, help=FinetuneConfig.model_fields[name].description)
    p.add_argument("--scheduler", choices=["linear", "cosine", "constant", "constant_with_warmup"])
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    p.add_argument("--adapter-name")
    p.add_argument("--kd-teacher", help="local teacher folder for logit distillation")
    p.add_argument("--kd-temperature", type=float)
    p.add_argument("--kd-alpha", type=float)
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


def finetune_cmd(args: argparse.Namespace) -> int:
    from ..finetune.config import FinetuneConfig, apply_preset
    from ..finetune.views import accuracy_note
    from ..projects import get_project
    from .jobs_run import submit_and_follow

    init_db()
    project = get_project(args.project) if args.project else None
    given = {
        k: getattr(args, k)
        for k in (*NUMERIC, "scheduler", "precision", "adapter_name")
        if getattr(args, k) is not None
    }
    if args.kd_teacher:
        given |= {"kd": True, "kd_teacher_path": args.kd_teacher}
        given |= {k: getattr(args, k) for k in ("kd_temperature", "kd_alpha") if getattr(args, k) is not None}
    values = apply_preset(args.preset, method=args.method, **given)
    cfg = FinetuneConfig(
        dataset_id=args.dataset, student=_student(args, project), project_id=project.id if project else None, **values
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
