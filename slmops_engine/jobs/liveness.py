"""Whether the process that runs a job is still there, and what to say when it is not.

A job runs in a worker the supervisor starts, or inside the command that submitted it (`--wait` with no supervisor
running). Either process can be killed. The supervisor notices its own workers dying; a job whose process is gone
otherwise is noticed by whoever reads the job next (the command line, the dashboard): it is marked failed, so that
it can be retried, instead of showing "running" for ever."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psutil

from ..models import Job, JobStatus, utcnow

GONE_LABEL = "The process running this job is gone"
# Time for a supervisor to notice its own worker's death (it checks every second or so): readers leave such a job
# to it, so that the supervisor's exit code and label are the ones kept.
SUPERVISOR_GRACE = timedelta(seconds=30)
# A process that runs a job either ran the command that claimed it (created before the claim) or is the worker the
# supervisor started right after the claim; one created later with the same pid is a stranger.
STARTED_WITHIN = timedelta(seconds=60)

_RETRY = "Retry the job{resume}."
DIED_HINTS = {
    "finetune": _RETRY + " If it happens again, lower the batch size or the sequence length, or free memory.",
    "synth": "Retry the job{resume}: the answers that arrived are kept and are not asked for (or paid for) again. A "
    "local teacher needs memory for its model: if it happens again, close other programs or choose a smaller one.",
    "convert": _RETRY + " The conversion holds the whole model in memory: if it happens again, close other programs.",
    "evaluate": _RETRY + " Each variant is loaded in turn: if it happens again, evaluate fewer variants at once.",
    "prepare_model": _RETRY + " The bundled model is unpacked again from its package.",
    "pipeline": _RETRY + " Steps that finished are kept and are not run again.",
}
GENERIC_HINT = _RETRY + " If it happens again, check the job's log and free memory."
CAUSE = "The process stopped without finishing (killed, out of memory, or the machine restarted). "


def died_hint(kind: str, resumable: bool) -> str:
    resume = " — it will continue from its last checkpoint" if resumable else ""
    return CAUSE + DIED_HINTS.get(kind, GENERIC_HINT).format(resume=resume)


def _aware(t: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def owner_alive(job: Job) -> bool:
    """True while the job's process (pid on this host) exists and is the one that took the job."""
    if not job.pid:
        return True  # claimed, its worker not started yet: the supervisor's business
    try:
        p = psutil.Process(job.pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        created = p.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    started = job.started_at
    return started is None or created <= _aware(started).timestamp() + STARTED_WITHIN.total_seconds()


def reap_gone(jobs: list[Job]) -> list[Job]:
    """Mark the running jobs of this host whose process is gone as failed; returns the jobs, updated."""
    from ..proclock import SUPERVISOR, holder_pid
    from .rows import HOST, finish_job, get_job_row, sync_metrics_from_file

    out = []
    supervised = None
    for job in jobs:
        if job.status == JobStatus.running and job.host == HOST and not owner_alive(job):
            if supervised is None:
                supervised = holder_pid(SUPERVISOR) is not None
            beat = job.heartbeat_at or job.started_at
            if not supervised or beat is None or utcnow() - _aware(beat) > SUPERVISOR_GRACE:
                sync_metrics_from_file(job.id)
                if job.cancel_requested_at is not None:
                    finish_job(job.id, JobStatus.cancelled, message="Cancelled (its process is gone)")
                else:
                    hint = died_hint(job.kind, job.resumable)
                    finish_job(job.id, JobStatus.failed, error_label=GONE_LABEL, error_hint=hint, message=GONE_LABEL)
                job = get_job_row(job.id) or job
        out.append(job)
    return out
