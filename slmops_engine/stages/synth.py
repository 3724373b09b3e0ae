"""Distillation stage 1: the teacher answers a dataset's prompts (cached, resumable) into a new dataset."""

from __future__ import annotations

from ..synth.config import SynthConfig
from .base import Issue, Reporter

KIND = "synth"
TITLE = "Teacher writes the answers"
HEAVY = False
RESUMABLE = True

Config = SynthConfig


def is_heavy(config: SynthConfig) -> bool:
    """A remote teacher mostly waits on the network; a teacher on this machine takes its CPU."""
    from ..teachers import Provider

    return config.teacher.provider == Provider.local


def preflight(config: SynthConfig) -> list[Issue]:
    from ..data.store import get_dataset
    from ..errors import SlmopsError
    from ..teachers import Provider, api_key

    issues: list[Issue] = []
    try:
        ds = get_dataset(config.dataset_id)
        missing = [s for s in config.splits if s not in ds.info.get("splits", {})]
        if len(missing) == len(config.splits):
            issues.append(
                Issue(
                    title=f"The dataset has no {', '.join(missing)} part",
                    detail=f"It has: {', '.join(ds.info.get('splits', {}))}.",
                )
            )
    except SlmopsError as exc:
        issues.append(Issue(title=exc.message, detail=exc.hint))
    if config.teacher.provider == Provider.local:
        from ..model_folder import inspect_model_folder

        try:
            inspect_model_folder(config.teacher.local_path or "")
        except SlmopsError as exc:
            issues.append(Issue(title=exc.message, detail=exc.hint))
    else:
        try:
            api_key(config.teacher)
        except SlmopsError as exc:
            issues.append(Issue(title=exc.message, detail=exc.hint))
    if config.concurrency > 32 and config.requests_per_minute == 0:
        issues.append(
            Issue(
                level="warning",
                title=f"{config.concurrency} requests at once with no rate limit",
                detail="Many endpoints answer 429 to this; the job retries, but a limit is kinder.",
            )
        )
    return issues


def run(config: SynthConfig, reporter: Reporter) -> dict:
    from ..synth.cache import cached
    from ..synth.output import build_answered
    from ..synth.runner import ask_teacher, check_success, load_items

    job_id = getattr(reporter, "job_id", None)
    config, dd, items, labels = load_items(config)  # with the answer length decided
    tracker = ask_teacher(config, items, reporter, job_id, labels)
    check_success(config, tracker, len(cached([it.key for it in items])))
    reporter.progress(0.99, "Writing the answered dataset")
    ds = build_answered(config, dd, items, tracker, job_id, labels)
    summary = {k: v for k, v in tracker.snapshot().items() if k != "recent"}
    return {"dataset_id": ds.id, "labels": labels, "max_tokens": config.max_tokens, **summary}
