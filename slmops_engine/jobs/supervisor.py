"""The supervisor: starts queued jobs within the concurrency limits, escalates Cancel to SIGTERM/SIGKILL and
marks jobs whose worker died as failed. One per SLMOPS_HOME (a lock file in the home).

Its lifetime: one started on demand (`ensure_supervisor`: the dashboard, a command that queues a job) runs in the
background and exits once nothing was queued or running, and nobody asked for it, for `supervisor_idle_seconds`; the
next one that is needed is started again. One run with `slmops worker` was asked for explicitly and runs until it is
stopped (`slmops worker stop`, Ctrl-C). Deployments are not its business: the model server is a process of its own
(serving/server.py) with its own idle exit. ``python -m slmops_engine.jobs.supervisor --background``"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import timedelta

import psutil
from sqlmodel import col, select

from ..db import session_scope
from ..errors import SlmopsError
from ..models import Job, JobStatus, utcnow
from ..proclock import SUPERVISOR, HomeLock, holder_pid, recorded, start_background, stop_holder
from ..settings import get_settings
from .executors import Executor, Handle, make_executor
from .liveness import died_hint, owner_alive
from .rows import HOST, claim_job, finish_job, set_job_fields, sync_metrics_from_file

log = logging.getLogger("slmops.supervisor")
LOCK = SUPERVISOR


def supervisor_pid() -> int | None:
    """The pid of the running supervisor, or None when there is none."""
    return holder_pid(LOCK)


def supervisor_mode() -> dict | None:
    """How the running supervisor was started: {"background": bool, "idle_seconds": float}; None when unknown."""
    return recorded(LOCK)


def stop_supervisor(timeout: float = 30.0) -> tuple[int | None, bool]:
    """SIGTERM this home's supervisor and wait for it. Returns (its pid, None when none ran; whether it is gone).
    Its running jobs go on in their own processes; the next supervisor adopts them."""
    return stop_holder(LOCK, timeout)


def _wanted_path():
    return get_settings().home / "supervisor.wanted"


def wanted_at() -> float:
    """When a supervisor was last asked for (`ensure_supervisor`), as a time.time(); 0 when never."""
    try:
        return _wanted_path().stat().st_mtime
    except OSError:
        return 0.0


def is_worker_process(pid: int | None, job_id: int) -> bool:
    """True when pid is alive and is the worker of this job (guards against pid reuse)."""
    if not pid:
        return False
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "slmops_engine.jobs.worker" in cmd and str(job_id) in cmd


class Supervisor:
    def __init__(self, executor: Executor | None = None, own_process: bool = False) -> None:
        """``own_process``: this is the supervisor process (`slmops worker`), so every child that ends is its to
        collect; a supervisor running in a thread of some other program leaves that program's children alone."""
        self.own_process = own_process
        self.settings = get_settings()
        self.executor = executor or make_executor()
        self.handles: dict[int, Handle] = {}
        self._signalled: dict[int, int] = {}
        self._heavy: dict[int, bool] = {}

    # -- one pass -----------------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._reap()
        if self.own_process:
            self.executor.reap_strays()
        self._escalate_cancels()
        self._start_queued()

    def recover(self) -> None:
        """On start: adopt live workers of this host, mark jobs whose worker is gone as failed."""
        with session_scope() as s:
            running = s.exec(select(Job).where(Job.status == JobStatus.running, Job.host == HOST)).all()
        for job in running:
            if is_worker_process(job.pid, job.id):
                log.info("Adopting running job %s (pid %s)", job.id, job.pid)
                self.handles[job.id] = Handle(job.id, pid=job.pid)
            elif not owner_alive(job) or not job.pid:
                self._mark_died(job, None)
            # else: a command runs it in its own process (`--wait`); it ends the job, or readers notice it gone

    def _reap(self) -> None:
        for job_id, handle in list(self.handles.items()):
            rc = self.executor.poll(handle)
            if rc is None and not self.executor.started(handle) and not is_worker_process(handle.pid, job_id):
                rc = -1  # an adopted process that is gone (one we started is collected by poll, or stays a zombie)
            if rc is None:
                continue
            del self.handles[job_id]
            self._signalled.pop(job_id, None)
            self._heavy.pop(job_id, None)
            self._fetch_artifacts(job_id)
            with session_scope() as s:
                job = s.get(Job, job_id)
            if job is not None and job.status == JobStatus.running:
                self._mark_died(job, rc)

    def _fetch_artifacts(self, job_id: int) -> None:
        """What a job on another node made, from the object store (when one is set), before anyone reads it."""
        from .. import artifacts

        try:
            artifacts.pull(artifacts.job_folders(job_id))
        except Exception:  # noqa: BLE001 - the job's own state stands; the pages say what is missing
            log.exception("Could not fetch the artifacts of job %s from %s", job_id, self.settings.storage_url)

    def _mark_died(self, job: Job, rc: int | None) -> None:
        sync_metrics_from_file(job.id)  # points the worker logged but had not flushed to the database
        if job.cancel_requested_at is not None:
            finish_job(job.id, JobStatus.cancelled, message="Cancelled (worker terminated)")
            return
        how = "was killed" if rc is not None and rc < 0 else f"exited with code {rc}" if rc else "is gone"
        finish_job(
            job.id,
            JobStatus.failed,
            error_label=f"The worker process {how}",
            error_hint=died_hint(job.kind, job.resumable),
            message=f"The worker process {how}",
        )
        log.warning("Job %s: worker %s", job.id, how)

    def _escalate_cancels(self) -> None:
        grace = timedelta(seconds=self.settings.cancel_grace_seconds)
        now = utcnow()
        with session_scope() as s:
            jobs = s.exec(
                select(Job).where(Job.status == JobStatus.running, col(Job.cancel_requested_at).is_not(None))
            ).all()
        for job in jobs:
            handle = self.handles.get(job.id)
            if handle is None:
                continue
            waited = now - job.cancel_requested_at
            sent = self._signalled.get(job.id, 0)
            if waited > 2 * grace and sent < 2:
                log.warning("Job %s did not stop after SIGTERM: killing it", job.id)
                self.executor.kill(handle)
                self._signalled[job.id] = 2
            elif waited > grace and sent < 1:
                log.info("Job %s did not stop in %ss: sending SIGTERM", job.id, grace.total_seconds())
                self.executor.terminate(handle)
                self._signalled[job.id] = 1

    def busy(self) -> bool:
        """Work in sight: a job of ours in flight, a job queued, or one a live process runs on this host (e.g. a
        sweep that a command runs with --wait: its trials will be queued here)."""
        if self.handles:
            return True
        with session_scope() as s:
            if s.exec(select(Job.id).where(Job.status == JobStatus.queued).limit(1)).first() is not None:
                return True
            running = s.exec(select(Job).where(Job.status == JobStatus.running, Job.host == HOST)).all()
        return any(owner_alive(j) for j in running)  # a killed command's job does not keep us (readers mark it)

    def _start_queued(self) -> None:
        active = [self._heavy.get(j, True) for j in self.handles]
        if len(active) >= self.settings.max_jobs:
            return
        with session_scope() as s:
            queued = s.exec(select(Job).where(Job.status == JobStatus.queued).order_by(Job.id)).all()
        heavy_running = sum(active)
        for job in queued:
            if len(self.handles) >= self.settings.max_jobs:
                break
            if job.heavy and heavy_running >= self.settings.max_heavy_jobs:
                continue
            if not claim_job(job.id):
                continue
            try:
                handle = self.executor.start(job.id)
            except Exception as exc:  # noqa: BLE001 - a job that cannot start is failed, not retried forever
                label, hint = (exc.message, exc.hint) if isinstance(exc, SlmopsError) else ("", str(exc))
                label = label or "The worker could not be started"
                fields = {"error_label": label[:500], "error_hint": hint[:1000], "message": label[:500]}
                finish_job(job.id, JobStatus.failed, **fields)
                continue
            self.handles[job.id] = handle
            self._heavy[job.id] = job.heavy
            heavy_running += job.heavy
            if handle.pid:
                set_job_fields(job.id, pid=handle.pid)
            log.info("Started job %s (%s) pid %s", job.id, job.kind, handle.pid)

    # -- loop -----------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, idle_seconds: float = 0) -> float:
        """Pass after pass until `stop` is set or, with idle_seconds > 0, until there was no work in sight and no
        call for a supervisor for that long. Returns the time (time.time()) of the last work or call seen."""
        stop = stop or threading.Event()
        self.recover()
        last_busy = time.time()
        while not stop.is_set():
            try:
                self.tick()
                if idle_seconds and self.busy():
                    last_busy = time.time()
            except Exception:  # noqa: BLE001 - a transient DB error must not kill the supervisor
                log.exception("Supervisor pass failed; retrying")
                last_busy = time.time()  # an unreadable queue is no proof that it is empty
            if idle_seconds:
                last_busy = max(last_busy, wanted_at())
                if time.time() - last_busy >= idle_seconds:
                    break
            stop.wait(self.settings.poll_seconds)
        return last_busy


def ensure_supervisor() -> int | None:
    """Start a background supervisor for this SLMOPS_HOME unless one runs. Returns its pid (None if unknown).

    Call it after queueing the job it is for. It first marks the supervisor as wanted, then looks for one: a
    supervisor that is leaving looks at the mark and the queue after letting go of its lock, so either it sees this
    call and stays, or this call finds the lock free and starts a new one."""
    _wanted_path().touch()
    home = get_settings().home
    return start_background("slmops_engine.jobs.supervisor", LOCK, home / "supervisor.log", ("--background",))


def _serve(sup: Supervisor, lock: HomeLock, stop: threading.Event, idle_seconds: float) -> None:
    while True:
        last_busy = sup.run(stop, idle_seconds)
        if stop.is_set():
            return
        # Idle: let go of the home, then look once more (see ensure_supervisor for why this order is safe).
        lock.release()
        if not (sup.busy() or wanted_at() > last_busy) or not lock.acquire():
            log.info("Nothing to do for %.0f s: exiting", idle_seconds)
            return
        lock.record(background=True, idle_seconds=idle_seconds)
        log.info("Work arrived while leaving: staying")


def main(background: bool = False) -> int:
    """Run the supervisor of this home until stopped; `background` (started by ensure_supervisor): until idle."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = HomeLock(LOCK)
    if not lock.acquire():
        print(f"A supervisor already runs for {get_settings().home} (pid {supervisor_pid()}).", file=sys.stderr)
        return 0
    idle_seconds = get_settings().supervisor_idle_seconds if background else 0.0
    lock.record(background=background, idle_seconds=idle_seconds)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("Supervisor %s for %s", os.getpid(), get_settings().home)
    from ..data.store import cleanup_tmp
    from ..db import init_db

    try:
        init_db()
        cleanup_tmp()
        _serve(Supervisor(own_process=True), lock, stop, idle_seconds)
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(background="--background" in sys.argv[1:]))
