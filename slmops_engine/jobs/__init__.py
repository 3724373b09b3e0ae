"""Background jobs: the queue lives in the database; a supervisor starts one worker process per job."""

from .rows import job_log, job_metrics, job_state, run_dir
from .store import cancel_job, get_job, list_jobs, retry_job, submit_job, wait_for_job

__all__ = [
    "cancel_job",
    "get_job",
    "job_log",
    "job_metrics",
    "job_state",
    "list_jobs",
    "retry_job",
    "run_dir",
    "submit_job",
    "wait_for_job",
]
