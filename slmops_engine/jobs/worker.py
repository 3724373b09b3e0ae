"""Runs one job in this process: ``python -m slmops_engine.jobs.worker JOB_ID``.

The database is the source of truth: the worker marks the job running, streams progress through a JobReporter
and writes exactly one final state (succeeded, failed with a label and hint, or cancelled)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback

from ..errors import JobCancelled, JobStopped, describe_exception
from ..identity import acting_as
from ..models import JobStatus
from ..secrets import key_names, redact, redact_logs
from ..stages import get_stage
from .estimates import own_peak_rss
from .reporter import JobReporter
from .rows import HOST, claim_job, finish_job, job_row, set_job_fields

log = logging.getLogger("slmops.worker")


def _raise_cancel(signum, _frame):
    raise JobCancelled(f"signal {signum}")


def _shield_final_write() -> None:
    """The job is ending: a further SIGTERM (the supervisor escalating a Cancel that is being honoured right now)
    must not cut its final state short. SIGKILL still ends a worker that hangs here."""
    if signal.getsignal(signal.SIGTERM) is _raise_cancel:  # only the worker process installs it (main thread)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run_job(job_id: int) -> JobStatus:
    job = job_row(job_id)
    # The supervisor claims a job before starting us; a direct call claims it here.
    if job.status != JobStatus.running and not claim_job(job_id):
        log.warning("Job %s is %s; nothing to do", job_id, job.status.value)
        return job.status
    set_job_fields(job_id, pid=os.getpid(), host=HOST, message="Running")
    reporter = JobReporter(job_id, resuming=job.attempt > 1 and job.resumable)
    log.info("Job %s (%s) attempt %s started, pid %s", job_id, job.kind, job.attempt, os.getpid())
    try:
        stage = get_stage(job.kind)
        config = stage.config.model_validate(job.config)
        with acting_as(job.created_by):  # what the job makes is recorded as made by whoever submitted it
            result = stage.run(config, reporter)
        _shield_final_write()
        reporter.progress(1.0, "Done")
        reporter.flush()
        result = _jsonable(result)
        if isinstance(result, dict):  # what later estimates of the same work learn from
            result.setdefault("peak_rss_bytes", own_peak_rss())
        finish_job(job_id, JobStatus.succeeded, result=result, progress=1.0, message="Done", eta_seconds=0.0)
        log.info("Job %s succeeded", job_id)
        return JobStatus.succeeded
    except JobStopped as stop:
        _shield_final_write()
        _safe_flush(reporter)
        finish_job(job_id, JobStatus.cancelled, message=stop.message[:500], result=stop.result, eta_seconds=None)
        log.info("Job %s stopped early: %s", job_id, stop.message)
        return JobStatus.cancelled
    except JobCancelled:
        _shield_final_write()
        _safe_flush(reporter)
        finish_job(job_id, JobStatus.cancelled, message="Cancelled by the operator", eta_seconds=None)
        log.info("Job %s cancelled", job_id)
        return JobStatus.cancelled
    except BaseException as exc:  # noqa: BLE001 - every failure must end as a labelled job state
        _shield_final_write()
        label, hint = describe_exception(exc)
        names = key_names(job.config)
        label, hint = redact(label, names) or "", redact(hint, names) or ""
        detail = redact(traceback.format_exc(), names)
        log.error("Job %s failed: %s", job_id, label)
        log.debug("%s", detail)  # the worker's own log keeps the traceback (it runs at DEBUG); the CLI does not
        _safe_flush(reporter)
        finish_job(
            job_id,
            JobStatus.failed,
            error_label=label[:500],
            error_hint=hint[:1000],
            error_detail=detail,
            message=label[:500],
            eta_seconds=None,
        )
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return JobStatus.failed


def _safe_flush(reporter: JobReporter) -> None:
    try:
        reporter.flush()
    except Exception:  # noqa: BLE001 - the final state matters more than the last metric points
        log.exception("Could not flush the last progress")


def _jsonable(result):
    if result is None:
        return {}
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    return dict(result)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m slmops_engine.jobs.worker JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    log.setLevel(logging.DEBUG)
    for noisy in ("httpx", "httpx2", "httpcore", "openai"):  # one line per HTTP request drowns the job's log
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _raise_cancel)
    redact_logs(key_names(job_row(int(argv[0])).config))
    status = run_job(int(argv[0]))
    return 0 if status == JobStatus.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
