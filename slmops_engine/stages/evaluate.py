"""Evaluate: every chosen variant answers the same held-out rows; quality, speed, memory and size compared."""

from __future__ import annotations

from ..evaluate.config import EvalConfig
from ..stage_api import Issue, Reporter, Stage

Config = EvalConfig


def is_heavy(config: EvalConfig) -> bool:
    """Deployments answer in their own server; anything else may load a model here."""
    return not all(ref.startswith("deployment:") for ref in config.variants)


def preflight(config: EvalConfig) -> list[Issue]:
    from ..errors import SlmopsError
    from ..evaluate.runner import load_rows
    from ..evaluate.targets import resolve

    issues: list[Issue] = []
    try:
        rows = load_rows(config)
        if len(rows) < 20:
            issues.append(
                Issue(
                    level="warning",
                    title=f"Only {len(rows)} rows to evaluate on",
                    detail="Differences between variants on so few rows are mostly chance.",
                )
            )
    except SlmopsError as exc:
        issues.append(Issue(title=exc.message, detail=exc.hint))
    for ref in config.variants:
        try:
            resolve(ref, config.project_id)
        except SlmopsError as exc:
            issues.append(Issue(title=exc.message, detail=exc.hint))
    if config.judge:
        try:
            resolve("teacher", config.project_id)
        except SlmopsError as exc:
            issues.append(Issue(title=f"The judge needs the teacher: {exc.message}", detail=exc.hint))
    return issues


def run(config: EvalConfig, reporter: Reporter) -> dict:
    from ..evaluate.runner import evaluate

    return evaluate(config, reporter, reporter.job_id)


STAGE = Stage(
    kind="evaluate",
    title="Evaluate and compare",
    config=Config,
    run=run,
    heavy=True,
    resumable=True,  # answers are stored as they are made; a retry asks only for the missing ones
    preflight=preflight,
    is_heavy=is_heavy,
)
