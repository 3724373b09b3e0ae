"""Job rows: submit, read, cancel, retry, and the state changes workers and the supervisor make."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from ..db import get_engine, get_or_raise, session_scope
from ..errors import ConfigError, NotFoundError
from ..models import ACTIVE_STATUSES, Job, JobStatus, MetricPoint, utcnow
from ..settings import get_settings
from ..stages import get_stage
from ..stages.base import has_blocking

HOST = socket.gethostname()


def run_dir(job_id: int) -> Path:
    return get_settings().runs_dir / str(job_id)


def submit_job(
    kind: str,
    config: dict[str, Any] | Any,
    *,
    project_id: int | None = None,
    title: str | None = None,
    check: bool = True,
) -> Job:
    """Validate the config with the stage's own model, run its preflight (errors refuse the job) and queue it."""
    stage = get_stage(kind)
    cfg = config if isinstance(config, stage.Config) else stage.Config.model_validate(config)
    if check:
        issues = stage.preflight(cfg)
        if has_blocking(issues):
            first = next(i for i in issues if i.blocking)
            raise ConfigError(first.title, first.detail)
    job = Job(
        kind=kind,
        project_id=project_id,
        title=title or stage.TITLE,
        heavy=stage.is_heavy(cfg) if hasattr(stage, "is_heavy") else stage.HEAVY,
        resumable=stage.RESUMABLE,
        config=cfg.model_dump(mode="json"),
        message="Waiting for a worker",
    )
    with session_scope() as s:
        s.add(job)
    run_dir(job.id).mkdir(parents=True, exist_ok=True)
    from .estimates import estimate_for, record

    if (est := estimate_for(kind, cfg)) is not None:
        record(job.id, est)
    return job


def get_job(job_id: int) -> Job:
    """The job; one whose process is gone is marked failed first (see liveness.py)."""
    from .liveness import reap_gone

    return reap_gone([get_or_raise(Job, job_id, "Job", "List jobs with `slmops jobs list`.")])[0]


def active_twin(kind: str, config: dict, *, before: int | None = None) -> Job | None:
    """A queued or running job of this kind with the very same settings (the oldest; with ``before``, only one
    with a smaller id): a second run of the same work would do it — and pay for it — twice."""
    with session_scope() as s:
        q = select(Job).where(Job.kind == kind, col(Job.status).in_(ACTIVE_STATUSES)).order_by(col(Job.id))
        if before is not None:
            q = q.where(col(Job.id) < before)
        jobs = list(s.exec(q).all())
    from .liveness import reap_gone

    return next((j for j in reap_gone(jobs) if j.status in ACTIVE_STATUSES and j.config == config), None)


def get_job_row(job_id: int) -> Job | None:
    """The job's row as stored."""
    with session_scope() as s:
        return s.get(Job, job_id)


def list_jobs(
    project_id: int | None = None, statuses: tuple[JobStatus, ...] | None = None, limit: int = 200
) -> list[Job]:
    """Newest first; jobs whose process is gone are marked failed first (see liveness.py)."""
    from .liveness import reap_gone

    with session_scope() as s:
        q = select(Job).order_by(col(Job.id).desc()).limit(limit)
        if project_id is not None:
            q = q.where(Job.project_id == project_id)
        if statuses:
            q = q.where(col(Job.status).in_(statuses))
        jobs = list(s.exec(q).all())
    reaped = reap_gone(jobs)
    return [j for j in reaped if not statuses or j.status in statuses]


def cancel_job(job_id: int) -> Job:
    """Queued jobs stop at once; a running job is asked to stop (it checks between steps) and the supervisor
    terminates it if it has not stopped after the grace period."""
    get_job(job_id)  # a job whose process is gone is failed first: nothing is left to stop
    with session_scope() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"Job {job_id} does not exist")
        if job.status == JobStatus.queued:
            job.status = JobStatus.cancelled
            job.finished_at = utcnow()
            job.message = "Cancelled before it started"
        elif job.status == JobStatus.running and job.cancel_requested_at is None:
            job.cancel_requested_at = utcnow()
            job.message = "Stopping…"
        s.add(job)
        return job


def retry_job(job_id: int) -> Job:
    """Queue a finished job again. A resumable stage continues from its last checkpoint in the same run folder."""
    get_job(job_id)  # a job whose process is gone is failed first, so it can be retried
    with session_scope() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"Job {job_id} does not exist")
        if not job.status.finished:
            raise ConfigError(f"Job {job_id} is still {job.status.value}", "Cancel it first, or wait for it to end.")
        job.status = JobStatus.queued
        job.attempt += 1
        job.error_label = job.error_hint = job.error_detail = None
        job.cancel_requested_at = job.finished_at = job.started_at = None
        job.pid = None
        job.message = "Waiting for a worker (resume)" if job.resumable else "Waiting for a worker"
        if not job.resumable:
            job.progress = 0.0
        s.add(job)
        return job


def wait_for_job(job_id: int, timeout: float | None = None, poll: float = 0.5) -> Job:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get_job(job_id)
        if job.status.finished:
            return job
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(poll)


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
