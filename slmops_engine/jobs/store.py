"""The queue's public calls: submit, read (a job whose process is gone is marked failed first), cancel, retry and
wait. Plain row access without those side effects is in rows.py."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import col, select

from ..db import session_scope
from ..errors import ConfigError, NotFoundError
from ..models import ACTIVE_STATUSES, Job, JobStatus, utcnow
from ..stage_api import has_blocking
from ..stages import get_stage
from .estimates import estimate_for, record
from .liveness import reap_gone
from .rows import job_row, run_dir


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
    cfg = config if isinstance(config, stage.config) else stage.config.model_validate(config)
    if check:
        issues = stage.preflight(cfg)
        if has_blocking(issues):
            first = next(i for i in issues if i.blocking)
            raise ConfigError(first.title, first.detail)
    est = estimate_for(kind, cfg)  # before the row exists: a supervisor may take the job the moment it is queued
    job = Job(
        kind=kind,
        project_id=project_id,
        title=title or stage.title,
        heavy=stage.heavy_for(cfg),
        resumable=stage.resumable,
        config=cfg.model_dump(mode="json"),
        message="Waiting for a worker",
    )
    with session_scope() as s:
        s.add(job)
    run_dir(job.id).mkdir(parents=True, exist_ok=True)
    if est is not None:
        record(job.id, est)
    return job


def get_job(job_id: int) -> Job:
    """The job; one whose process is gone is marked failed first (see liveness.py)."""
    return reap_gone([job_row(job_id)])[0]


def active_twin(kind: str, config: dict, *, before: int | None = None) -> Job | None:
    """A queued or running job of this kind with the very same settings (the oldest; with ``before``, only one
    with a smaller id): a second run of the same work would do it — and pay for it — twice."""
    with session_scope() as s:
        q = select(Job).where(Job.kind == kind, col(Job.status).in_(ACTIVE_STATUSES)).order_by(col(Job.id))
        if before is not None:
            q = q.where(col(Job.id) < before)
        jobs = list(s.exec(q).all())
    return next((j for j in reap_gone(jobs) if j.status in ACTIVE_STATUSES and j.config == config), None)


def list_jobs(
    project_id: int | None = None, statuses: tuple[JobStatus, ...] | None = None, limit: int = 200
) -> list[Job]:
    """Newest first; jobs whose process is gone are marked failed first (see liveness.py)."""
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
