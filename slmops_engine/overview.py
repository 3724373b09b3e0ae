"""Read-only queries the dashboard shows: a project's jobs, the jobs in flight, the latest job of a kind."""

from __future__ import annotations

from sqlmodel import col, or_, select

from .db import session_scope
from .models import ACTIVE_STATUSES, Job, JobStatus


def jobs_for_project(project_id: int | None, limit: int = 50, made_by: str | None = None) -> list[Job]:
    """Newest first: the project's jobs plus jobs that belong to no project (e.g. model preparation).
    With ``project_id`` None, every job; with ``made_by``, only that person's."""
    with session_scope() as s:
        q = select(Job).order_by(col(Job.id).desc()).limit(limit)
        if project_id is not None:
            q = q.where(or_(col(Job.project_id) == project_id, col(Job.project_id).is_(None)))
        if made_by is not None:
            q = q.where(col(Job.created_by) == made_by)
        return list(s.exec(q).all())


def job_makers(project_id: int | None) -> list[str]:
    """Everyone who made a job shown for this project, by name."""
    with session_scope() as s:
        q = select(Job.created_by).distinct().where(col(Job.created_by).is_not(None))
        if project_id is not None:
            q = q.where(or_(col(Job.project_id) == project_id, col(Job.project_id).is_(None)))
        return sorted(s.exec(q).all())


def active_jobs(limit: int = 20) -> list[Job]:
    """Running jobs first, then queued ones, oldest first within each."""
    with session_scope() as s:
        q = select(Job).where(col(Job.status).in_(ACTIVE_STATUSES)).order_by(col(Job.id)).limit(limit)
        jobs = list(s.exec(q).all())
    return sorted(jobs, key=lambda j: (j.status != JobStatus.running, j.id))


def monitored_jobs(limit: int = 20) -> list[Job]:
    """Active jobs as one list of runs: a chain's steps are left out while the chain runs (its own progress and
    message already say which step it is on and how far that step is)."""
    from .pipeline.state import step_jobs

    jobs = active_jobs(limit)
    steps = {i for j in jobs if j.kind == "pipeline" for i in step_jobs(j.id)}
    return [j for j in jobs if j.id not in steps]


def latest_job(kind: str, project_id: int | None = None) -> Job | None:
    """The most recent job of this kind (for this project when given)."""
    with session_scope() as s:
        q = select(Job).where(Job.kind == kind).order_by(col(Job.id).desc()).limit(1)
        if project_id is not None:
            q = q.where(Job.project_id == project_id)
        return s.exec(q).first()
