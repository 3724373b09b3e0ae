"""Optimize: convert a model variant to ONNX (fp32 / int8 / int4), verified before it is recorded."""

from __future__ import annotations

from ..optimize.config import ConvertConfig
from ..stage_api import Issue, Reporter, Stage

Config = ConvertConfig


def estimate(config: Config):
    """Time and peak memory, from measurements (jobs/estimates.py)."""
    from ..optimize.estimate import estimate as measure

    return measure(config)


def needs(config: ConvertConfig):
    """A build for CUDA (or in fp16 / bf16, which only generate there) is verified on a GPU."""
    from ..jobs.needs import Needs
    from ..optimize.config import GPU_ONLY

    gpu = config.execution_provider == "cuda" or config.precision in GPU_ONLY
    return Needs(cpus=1.0, gpus=1.0 if gpu else 0.0)


def preflight(config: ConvertConfig) -> list[Issue]:
    from ..optimize.convert import preflight as check

    return check(config)


def run(config: ConvertConfig, reporter: Reporter) -> dict:
    from ..optimize.convert import convert

    return convert(config, reporter, reporter.job_id)


STAGE = Stage(
    kind="convert",
    title="Convert to ONNX",
    config=Config,
    run=run,
    heavy=True,
    resumable=False,
    preflight=preflight,
    estimate=estimate,
    needs=needs,
)
