"""Distillation stage 2: fine-tune the student (LoRA, DoRA, full, QLoRA) with checkpoints and resume."""

from __future__ import annotations

from ..finetune.config import FinetuneConfig
from ..stage_api import Issue, Reporter, Stage

Config = FinetuneConfig


def estimate(config: Config):
    """Time and peak memory, from measurements (jobs/estimates.py)."""
    from ..finetune.estimate import estimate as measure

    return measure(config)


def needs(config: FinetuneConfig):
    """QLoRA's 4-bit base trains on a CUDA GPU only; the other methods run on any node."""
    from ..jobs.needs import Needs

    return Needs(cpus=1.0, gpus=1.0 if config.method == "qlora" else 0.0)


def preflight(config: FinetuneConfig) -> list[Issue]:
    from ..finetune.preflight import preflight as check

    return check(config)


def run(config: FinetuneConfig, reporter: Reporter) -> dict:
    from ..finetune.train import train

    return train(config, reporter, reporter.job_id)


STAGE = Stage(
    kind="finetune",
    title="Fine-tune the student",
    config=Config,
    run=run,
    heavy=True,
    resumable=True,
    preflight=preflight,
    estimate=estimate,
    needs=needs,
)
