"""The job rows and run folders as stored: reads and writes with no side effects (no reaping, no supervisor).
The worker, the supervisor and liveness use these; the queue's public calls (store.py) build on them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from ..db import get_engine, get_or_raise, session_scope
from ..models import ACTIVE_STATUSES, Job, JobStatus, MetricPoint, utcnow
from ..settings import get_settings

HOST = socket.gethostname()


def run_dir(job_id: int) -> Path:
    return get_settings().runs_dir / str(job_id)


def get_job_row(job_id: int) -> Job | None:
    """The job's row as stored."""
    with session_scope() as s:
        return s.get(Job, job_id)


def job_row(job_id: int) -> Job:
    """The job's row as stored; NotFoundError when there is none."""
    return get_or_raise(Job, job_id, "Job", "List jobs with `slmops jobs list`.")


def job_log(job_id: int, tail_bytes: int = 20_000) -> str:
    path = run_dir(job_id) / "worker.log"
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - tail_bytes))
        return f.read().decode("utf-8", errors="replace")


def job_state(job_id: int) -> dict:
    """The live snapshot a running stage publishes (see Reporter.state); empty when there is none."""
    path = run_dir(job_id) / "state.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def job_metrics(job_id: int) -> list[MetricPoint]:
    with session_scope() as s:
        q = select(MetricPoint).where(MetricPoint.job_id == job_id).order_by(MetricPoint.name, MetricPoint.step)
        return list(s.exec(q).all())


# -- state changes made by the supervisor and the worker -----------------------------------------------------------


def claim_job(job_id: int) -> bool:
    """Atomically move a queued job to running; False when another supervisor got it first."""
    with session_scope() as s:
        res = s.exec(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.status) == JobStatus.queued)
            .values(status=JobStatus.running, started_at=utcnow(), heartbeat_at=utcnow(), host=HOST, message="Starting")
        )
        return res.rowcount == 1


def set_job_fields(job_id: int, **fields: Any) -> None:
    with session_scope() as s:
        s.exec(update(Job).where(col(Job.id) == job_id).values(**fields))


def finish_job(job_id: int, status: JobStatus, **fields: Any) -> None:
    """Write a final state, unless the job already has one (a final state is never overwritten)."""
    fields.setdefault("finished_at", utcnow())
    with session_scope() as s:
        s.exec(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.status).in_(ACTIVE_STATUSES))
            .values(status=status, **fields)
        )


def sync_metrics_from_file(job_id: int, batch: int = 500) -> int:
    """Load runs/<job>/metrics.jsonl into the database: recovers the points a killed worker had not flushed yet.
    A torn last line (the worker died mid-write) is skipped. Returns the number of points read."""
    path = run_dir(job_id) / "metrics.jsonl"
    if not path.exists():
        return 0
    points: list[dict] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                p = json.loads(line)
                points.append({"name": str(p["name"]), "step": int(p["step"]), "value": float(p["value"])})
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    for i in range(0, len(points), batch):
        upsert_metrics(job_id, points[i : i + batch])
    return len(points)


def upsert_metrics(job_id: int, points: list[dict]) -> None:
    """Insert metric points; a point for an existing (job, name, step) replaces the old value."""
    if not points:
        return
    # One row per (name, step), the last value winning: PostgreSQL refuses a statement that would update the same
    # row twice (a stage that logs the same metric twice at one step, as the trainer does at its last step).
    latest = {(p["name"], p["step"]): p["value"] for p in points}
    rows = [
        {"job_id": job_id, "name": name, "step": step, "value": value, "ts": utcnow()}
        for (name, step), value in latest.items()
    ]
    insert = pg_insert if get_engine().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(MetricPoint).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_id", "name", "step"], set_={"value": stmt.excluded.value, "ts": stmt.excluded.ts}
    )
    with session_scope() as s:
        s.exec(stmt)
