"""Where a claimed job's worker runs: a local process (default) or a Ray task (scale-out, `pip install .[ray]`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConfigError
from ..settings import get_settings, worker_env
from .rows import run_dir


@dataclass
class Handle:
    job_id: int
    pid: int | None = None
    ref: Any = field(default=None, repr=False)


class Executor(Protocol):
    def start(self, job_id: int) -> Handle: ...
    def poll(self, handle: Handle) -> int | None: ...
    def terminate(self, handle: Handle) -> None: ...
    def kill(self, handle: Handle) -> None: ...
    def started(self, handle: Handle) -> bool: ...
    def reap_strays(self) -> int: ...


class LocalExecutor:
    """One `python -m slmops_engine.jobs.worker ID` process per job, in its own session so that a dashboard
    restart does not take running jobs with it."""

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen] = {}

    def start(self, job_id: int) -> Handle:
        d = run_dir(job_id)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "worker.log", "ab") as logf:
            proc = subprocess.Popen(
                [sys.executable, "-m", "slmops_engine.jobs.worker", str(job_id)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=worker_env(),
                start_new_session=True,
            )
        self._procs[job_id] = proc
        return Handle(job_id, pid=proc.pid)

    def poll(self, handle: Handle) -> int | None:
        proc = self._procs.get(handle.job_id)
        if proc is None:
            return None
        rc = proc.poll()
        if rc is not None:
            self._procs.pop(handle.job_id, None)
        return rc

    def started(self, handle: Handle) -> bool:
        """Whether this executor started the handle's process (and so collects its exit status)."""
        return handle.job_id in self._procs

    def reap_strays(self) -> int:
        """Collect the exit status of any other child process that has ended (a process started by a stage run in
        this process, a background server it started), so none is left a zombie; the workers' own statuses are
        left to poll(). Returns how many were collected."""
        import psutil

        tracked = {p.pid for p in self._procs.values()}
        reaped = 0
        for child in psutil.Process().children():
            if child.pid in tracked:
                continue
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE and os.waitpid(child.pid, os.WNOHANG)[0]:
                    reaped += 1
        return reaped

    def _signal(self, handle: Handle, sig: int) -> None:
        if handle.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(handle.pid, sig)

    def terminate(self, handle: Handle) -> None:
        self._signal(handle, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        self._signal(handle, signal.SIGKILL)


class RayExecutor:
    """Runs each job as a Ray task on the cluster (workers must share the database: use Postgres)."""

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("Ray is not installed", "Install the extra: pip install 'slmops-studio[ray]'.") from exc
        if get_settings().db_url.startswith("sqlite") and address not in (None, "local"):
            raise ConfigError(
                "A Ray cluster needs a shared database",
                "Set SLMOPS_DATABASE_URL to a Postgres URL reachable from every node.",
            )
        self._ray = ray
        if not ray.is_initialized():
            ray.init(
                address=None if address in (None, "local") else address,
                ignore_reinit_error=True,
                runtime_env={"env_vars": {k: v for k, v in worker_env().items() if k.startswith("SLMOPS_")}},
            )
        self._task = ray.remote(max_retries=0)(_ray_run_job)

    def start(self, job_id: int) -> Handle:
        """Ask Ray for what the job needs, so it lands on a node that has it; refuse one no node can run."""
        from .needs import needs_of, unplaceable
        from .rows import job_row

        needs = needs_of(job_row(job_id))
        problem = unplaceable(needs, self._ray.nodes())
        if problem:
            raise ConfigError(problem, "Add a node that has it to the cluster, or change the job's settings.")
        options = {"num_cpus": needs.cpus, "num_gpus": needs.gpus}
        if needs.memory_bytes:
            options["memory"] = needs.memory_bytes
        return Handle(job_id, ref=self._task.options(**options).remote(job_id))

    def poll(self, handle: Handle) -> int | None:
        ready, _ = self._ray.wait([handle.ref], timeout=0)
        if not ready:
            return None
        try:
            return int(self._ray.get(handle.ref))
        except Exception:  # noqa: BLE001 - a lost node or killed task: the supervisor marks the job failed
            return -9

    def terminate(self, handle: Handle) -> None:
        self._ray.cancel(handle.ref, force=False)

    def kill(self, handle: Handle) -> None:
        self._ray.cancel(handle.ref, force=True)

    def started(self, handle: Handle) -> bool:
        return handle.ref is not None  # a task of ours; poll() reports its end

    def reap_strays(self) -> int:
        return 0  # the tasks run in Ray's worker processes, not as children of this one


def _ray_run_job(job_id: int) -> int:
    """On a Ray node: fetch what the job may read from the object store (when one is set), run it, send back what
    it made — whatever the outcome, so a failed run's log and checkpoints reach the dashboard and a retry."""
    from .. import artifacts
    from ..models import JobStatus
    from .worker import run_job

    artifacts.pull(artifacts.job_folders(job_id))
    try:
        return 0 if run_job(job_id) == JobStatus.succeeded else 1
    finally:
        artifacts.push(artifacts.job_folders(job_id))


def make_executor() -> Executor:
    s = get_settings()
    if s.executor == "ray":
        return RayExecutor(s.ray_address)
    if s.executor != "local":
        raise ConfigError(f"Unknown executor '{s.executor}'", "Use SLMOPS_EXECUTOR=local or ray.")
    return LocalExecutor()
