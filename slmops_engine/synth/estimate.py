"""How long a teacher run will take, from measurements only: the last finished run of the same teacher on this
machine when there is one, else the figure measured on a 2-core laptop for a teacher on this machine choosing
among labels (bench/demo_outcome.py). Where neither applies there is no estimate: the run's page shows its own
once the first answers arrive."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from ..db import session_scope
from ..models import Job, JobStatus
from ..teachers import Provider, TeacherConfig
from .config import SynthConfig

# bench/demo_outcome.py, SmolLM2-135M choosing among 4 routes with 4 examples per prompt on 2 cores: 240 prompts in
# 93.5 s including the model's load.
LOCAL_LABEL_SECONDS = 0.39
LOCAL_LOAD_SECONDS = 10.0


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: str

    def text(self) -> str:
        minutes = self.seconds / 60
        span = "under a minute" if minutes < 1 else f"about {minutes:.0f} minute{'s' if round(minutes) != 1 else ''}"
        return f"{span} on this machine ({self.basis})"


def _same_teacher(a: dict, b: TeacherConfig) -> bool:
    return (
        a.get("provider") == b.provider.value
        and a.get("model") == b.model
        and a.get("base_url") == b.base_url
        and a.get("local_path") == b.local_path
    )


def seconds_per_answer(cfg: SynthConfig, labelled: bool, project_id: int | None = None) -> float | None:
    """Seconds each newly asked answer took in the newest finished run of this teacher (same kind of task)."""
    with session_scope() as s:
        q = select(Job).where(Job.kind == "synth", Job.status == JobStatus.succeeded)
        if project_id is not None:
            q = q.where(Job.project_id == project_id)
        jobs = s.exec(q.order_by(col(Job.id).desc()).limit(50)).all()
    for job in jobs:
        result = job.result or {}
        asked = int(result.get("answered") or 0)
        if not (asked and job.started_at and job.finished_at) or bool(result.get("labels")) != labelled:
            continue
        if not _same_teacher(job.config.get("teacher", {}), cfg.teacher):
            continue
        return (job.finished_at - job.started_at).total_seconds() / asked
    return None


def run_estimate(cfg: SynthConfig, to_ask: int, labels: list[str], project_id: int | None = None) -> Estimate | None:
    if to_ask <= 0:
        return Estimate(0.0, "every answer is saved")
    per = seconds_per_answer(cfg, bool(labels), project_id)
    if per is not None:
        return Estimate(per * to_ask, "from the last run of this teacher")
    if cfg.teacher.provider == Provider.local and labels:
        return Estimate(LOCAL_LOAD_SECONDS + LOCAL_LABEL_SECONDS * to_ask, "measured on a 2-core laptop")
    return None
