"""Optimize: convert a model variant to ONNX (fp32 / int8 / int4), verified before it is recorded."""

from __future__ import annotations

from ..optimize.config import ConvertConfig
from .base import Issue, Reporter

KIND = "convert"
TITLE = "Convert to ONNX"
HEAVY = True
RESUMABLE = False

Config = ConvertConfig


def estimate(config: Config):
    """Time and peak memory, from measurements (jobs/estimates.py)."""
    from ..optimize.estimate import estimate as measure

    return measure(config)


def preflight(config: ConvertConfig) -> list[Issue]:
    from ..optimize.convert import preflight as check

    return check(config)


def run(config: ConvertConfig, reporter: Reporter) -> dict:
    from ..optimize.convert import convert

    return convert(config, reporter, getattr(reporter, "job_id", None))
