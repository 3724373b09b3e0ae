"""Search for the best fine-tuning settings: an Optuna study whose trials are fine-tuning jobs of their own."""

from __future__ import annotations

from ..stage_api import Issue, Reporter, Stage
from ..sweep.config import SweepConfig

Config = SweepConfig


def needs(config: SweepConfig):
    """Nothing of its own: every trial asks for what it needs as its own job."""
    from ..jobs.needs import Needs

    return Needs(cpus=0.0)


def preflight(config: SweepConfig) -> list[Issue]:
    """The checks of a fine-tuning run with the first setting the search can try (data, memory, student)."""
    from ..finetune.preflight import preflight as finetune_checks

    issues = finetune_checks(config.trial_config(config.first_setting()))
    if config.objective == "eval_accuracy":
        from ..data.store import get_dataset

        if not get_dataset(config.dataset_id).info.get("labels"):
            issues.append(
                Issue(
                    title="Label accuracy needs a labelled task",
                    detail="These answers have no labels: search on the validation loss instead.",
                )
            )
    return issues


def run(config: SweepConfig, reporter: Reporter) -> dict:
    from ..sweep.runner import run_search

    return run_search(config, reporter, reporter.job_id)


STAGE = Stage(
    kind="sweep",
    title="Search for the best settings",
    config=Config,
    run=run,
    heavy=False,  # it only waits: each trial takes the machine as its own (heavy) fine-tuning job
    resumable=True,  # the study is stored: a retry follows the unfinished trial and goes on from there
    preflight=preflight,
    needs=needs,
)
