"""Checks before a fine-tuning run starts: memory, disk, data, tokenizer and hardware."""

from __future__ import annotations

import shutil

from ..errors import SlmopsError
from ..stage_api import Issue
from .config import FinetuneConfig
from .workload import memory_need

GiB = 1024**3


def preflight(cfg: FinetuneConfig) -> list[Issue]:
    from ..model_folder import inspect_model_folder
    from ..settings import get_settings
    from ..students import resolve_student
    from ..sysinfo import system_info

    issues: list[Issue] = []
    sysi = system_info()
    # On a Ray cluster the run goes to a node that has what it needs (the executor refuses it when none has):
    # this machine's GPU and memory do not decide.
    here = get_settings().executor == "local"
    if cfg.method == "qlora" and not sysi.has_cuda and here:
        issues.append(
            Issue(
                title="QLoRA needs a CUDA GPU",
                detail="This machine has none: choose LoRA (same adapters, full-precision base).",
            )
        )
    try:
        path = resolve_student(cfg.student)
        info = inspect_model_folder(path)
    except SlmopsError as exc:
        return issues + [Issue(title=exc.message, detail=exc.hint)]
    if not info.has_chat_template:
        issues.append(
            Issue(
                level="warning",
                title="The student has no chat template",
                detail="Examples are formatted with a plain fallback; an instruct model is better.",
            )
        )
    try:
        from ..data.store import get_dataset

        ds = get_dataset(cfg.dataset_id)
        if "train" not in ds.info.get("splits", {}):
            issues.append(Issue(title="The dataset has no training part", detail="Split it on the Data page."))
        if not ds.info.get("has_responses", False):
            issues.append(
                Issue(
                    title="The dataset has prompts but no answers",
                    detail="Let the teacher answer them on the Distill page first.",
                )
            )
        if "validation" not in ds.info.get("splits", {}):
            issues.append(
                Issue(
                    level="info",
                    title="No validation part",
                    detail="10% of the training rows are held out to measure validation loss.",
                )
            )
    except SlmopsError as exc:
        issues.append(Issue(title=exc.message, detail=exc.hint))
    need = _need(cfg, info, sysi.has_cuda)
    budget = sysi.train_memory_budget
    where = "GPU memory" if sysi.has_cuda else "RAM"
    if not here:
        issues.append(
            Issue(
                level="info",
                title=f"Needs about {need / GiB:.1f} GB of memory",
                detail="The Ray cluster runs it on a node that has it.",
            )
        )
    elif need > 0.9 * budget:
        issues.append(
            Issue(
                title=f"Needs about {need / GiB:.1f} GB of {where}; {budget / GiB:.1f} GB is free",
                detail="Lower the maximum length or batch size (raise gradient accumulation to keep "
                "the effective batch), choose LoRA, or a smaller model.",
            )
        )
    elif need > 0.6 * budget:
        issues.append(
            Issue(
                level="warning",
                title=f"Tight on memory: about {need / GiB:.1f} GB of {budget / GiB:.1f} GB free {where}",
                detail="Close other programs, or lower batch size / maximum length.",
            )
        )
    free = shutil.disk_usage(get_settings().models_dir).free
    disk = info.size_bytes * (6 if cfg.method == "full" else 3)
    if free < disk:
        issues.append(
            Issue(
                title=f"Only {free / GiB:.1f} GB of disk free; checkpoints need about {disk / GiB:.1f} GB",
                detail="Free disk space (old runs under storage/runs).",
            )
        )
    if cfg.kd:
        issues += _kd_issues(cfg, path)
    return issues


def _need(cfg: FinetuneConfig, info, gpu: bool) -> int:
    """The estimate's peak (a measured run of the same student, or the rule of thumb for the data's longest
    example); the rule of thumb at the maximum length when the data cannot be read."""
    from .estimate import estimate

    try:
        return estimate(cfg).peak_bytes or memory_need(cfg, info, gpu)
    except (SlmopsError, OSError, ValueError):
        return memory_need(cfg, info, gpu)


def _kd_issues(cfg: FinetuneConfig, student_path) -> list[Issue]:
    import json
    from pathlib import Path

    from ..model_folder import inspect_model_folder

    try:
        inspect_model_folder(cfg.kd_teacher_path or "")
    except SlmopsError as exc:
        return [Issue(title=f"Distillation teacher: {exc.message}", detail=exc.hint)]

    def vocab(p) -> dict:
        return json.loads((Path(p) / "tokenizer.json").read_text()).get("model", {}).get("vocab", {})

    try:
        same = vocab(student_path) == vocab(cfg.kd_teacher_path)
    except (OSError, json.JSONDecodeError):
        same = False
    if not same:
        return [
            Issue(
                title="The distillation teacher does not share the student's tokenizer",
                detail="Logit distillation compares token by token: use a teacher of the same family.",
            )
        ]
    return []
