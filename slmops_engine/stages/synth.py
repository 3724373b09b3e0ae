"""Distillation stage 1: the teacher answers a dataset's prompts (cached, resumable) into a new dataset."""

from __future__ import annotations

from ..stage_api import Issue, Reporter, Stage
from ..synth.config import SynthConfig

Config = SynthConfig


def is_heavy(config: SynthConfig) -> bool:
    """A remote teacher mostly waits on the network; a teacher on this machine takes its CPU."""
    from ..teachers import Provider

    return config.teacher.provider == Provider.local


def estimate(config: Config):
    """Time and peak memory, from measurements (jobs/estimates.py)."""
    from ..synth.estimate import estimate as measure

    return measure(config)


def needs(config: SynthConfig):
    """A teacher on this machine takes a CPU and its memory; a remote one only waits on the network (no GPU)."""
    from ..jobs.needs import Needs
    from ..teachers import Provider

    return Needs(cpus=1.0 if config.teacher.provider == Provider.local else 0.25)


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
    if twin := _twin(config):
        issues.append(_twin_issue(twin.id))
    if config.concurrency > 32 and config.requests_per_minute == 0:
        issues.append(
            Issue(
                level="warning",
                title=f"{config.concurrency} requests at once with no rate limit",
                detail="Many endpoints answer 429 to this; the job retries, but a limit is kinder.",
            )
        )
    return issues


def _twin(config: SynthConfig, before: int | None = None):
    from ..jobs.store import active_twin

    return active_twin(STAGE.kind, config.model_dump(mode="json"), before=before)


def _twin_issue(job_id: int) -> Issue:
    return Issue(
        title=f"This teacher run is already running as job {job_id}",
        detail="The same teacher on the same prompts with the same settings would ask (and pay) twice. Wait for "
        "it: a run started afterwards reuses its answers for free.",
    )


def run(config: SynthConfig, reporter: Reporter) -> dict:
    from ..errors import ConfigError
    from ..synth.cache import cached
    from ..synth.output import build_answered
    from ..synth.runner import ask_teacher, check_success, load_items

    job_id = reporter.job_id
    if job_id is not None and (twin := _twin(config, before=job_id)):  # both submitted at once: the older one asks
        issue = _twin_issue(twin.id)
        raise ConfigError(issue.title, issue.detail)
    config, dd, items, labels = load_items(config)  # with the answer length decided
    tracker = ask_teacher(config, items, reporter, job_id, labels)
    check_success(config, tracker, len(cached([it.key for it in items])))
    reporter.progress(0.99, "Writing the answered dataset")
    ds = build_answered(config, dd, items, tracker, job_id, labels)
    summary = {k: v for k, v in tracker.snapshot().items() if k != "recent"}
    return {"dataset_id": ds.id, "labels": labels, "max_tokens": config.max_tokens, **summary}


STAGE = Stage(
    kind="synth",
    title="Teacher writes the answers",
    config=Config,
    run=run,
    heavy=False,
    resumable=True,
    preflight=preflight,
    is_heavy=is_heavy,
    estimate=estimate,
    needs=needs,
)
