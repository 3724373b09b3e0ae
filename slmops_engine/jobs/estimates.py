"""What a job is expected to take — time and peak memory — and what it took.

Every estimate comes from a measurement: the newest finished job of the same work on this machine (scaled by the
amount of work), else a figure measured on a 2-core laptop and kept honest by ``bench/estimates.py``. A stage
module may define ``estimate(config) -> Estimate | None``; the estimate is written beside the job's run folder
when the job is submitted, so the pages can show "estimated … · took …" once it ends."""

from __future__ import annotations

import json
import resource
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from sqlmodel import col, select

from ..db import session_scope
from ..models import Job, JobStatus
from ..sysinfo import human_bytes, human_duration

FILE = "estimate.json"
LAPTOP = "measured on a 2-core laptop"


@dataclass(frozen=True)
class Estimate:
    seconds: float | None
    basis: str  # where the figure comes from, in words: "from run #12 of this model", LAPTOP
    peak_bytes: int | None = None


def recent_jobs(kind: str, *, limit: int = 50) -> Iterator[Job]:
    """Finished jobs of a kind that succeeded, newest first (what later estimates learn from)."""
    with session_scope() as s:
        q = select(Job).where(Job.kind == kind, Job.status == JobStatus.succeeded, col(Job.finished_at).is_not(None))
        jobs = s.exec(q.order_by(col(Job.id).desc()).limit(limit)).all()
    yield from (j for j in jobs if j.started_at is not None)


def newest(kind: str, same: Callable[[Job], bool]) -> Job | None:
    return next((j for j in recent_jobs(kind) if same(j)), None)


def took(job: Job) -> float | None:
    """Seconds the job's last attempt ran."""
    if job.started_at is None or job.finished_at is None:
        return None
    return (job.finished_at - job.started_at).total_seconds()


def peak_of(job: Job) -> int | None:
    return int(v) if (v := (job.result or {}).get("peak_rss_bytes")) else None


def own_peak_rss() -> int:
    """Peak resident memory of this process and the children it waited for (bytes; Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024


def record(job_id: int, estimate: Estimate) -> None:
    from .rows import run_dir

    folder = run_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILE).write_text(json.dumps(asdict(estimate)))


def recorded(job_id: int) -> Estimate | None:
    """The estimate made when the job was submitted (None when there was none)."""
    from .rows import run_dir

    try:
        data = json.loads((run_dir(job_id) / FILE).read_text())
        return Estimate(**data)
    except (OSError, ValueError, TypeError):
        return None


def estimate_for(kind: str, config) -> Estimate | None:
    """The stage's own estimate for a validated config; None when the stage has none or cannot tell."""
    from ..stages import get_stage

    try:
        return get_stage(kind).estimate(config)
    except Exception:  # noqa: BLE001 - an estimate never stands in the way of the job itself
        import logging

        logging.getLogger("slmops.estimates").debug("no estimate for %s", kind, exc_info=True)
        return None


def span(seconds: float) -> str:
    """'under a minute', 'about 1 minute', 'about 7 minutes', 'about 1.5 hours'."""
    if seconds < 50:
        return "under a minute"
    if seconds < 90 * 60:
        n = max(1, round(seconds / 60))
        return f"about {n} minute{'s' if n != 1 else ''}"
    return f"about {seconds / 3600:.1f} hours"


def describe(est: Estimate) -> str:
    """'about 3 minutes and 2.8 GB of memory (from run #12 of this model)'."""
    parts = [span(est.seconds)] if est.seconds is not None else []
    if est.peak_bytes:
        parts.append(f"{human_bytes(est.peak_bytes)} of memory")
    return f"{' and '.join(parts)} ({est.basis})" if parts else ""


def outcome(job: Job) -> str | None:
    """A finished job's estimate beside what it took: 'Estimated about 3 minutes · took 2 min 12 s …'."""
    est = recorded(job.id)
    seconds, peak = took(job), peak_of(job)
    if est is None or job.status != JobStatus.succeeded or seconds is None or est.seconds is None:
        return None
    text = f"Estimated {span(est.seconds)} ({est.basis}); took {human_duration(seconds)}"
    if est.peak_bytes and peak:
        text += f". Memory: estimated {human_bytes(est.peak_bytes)}, peaked at {human_bytes(peak)}"
    return text + "."
