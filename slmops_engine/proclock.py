"""One background process of a kind per SLMOPS_HOME (the job supervisor, the model server): an exclusive flock
on a file in the home, released by the kernel when the process dies, so a killed process never blocks the next.
Beside the lock, `<name>.json` holds what the holder wants others to know (the model server's endpoint, how the
supervisor was started); it is trusted only while its pid still holds the lock."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from .settings import get_settings, worker_env

START_SECONDS = 120.0  # how long start_background waits for the process it started to take its lock
SUPERVISOR = "supervisor"  # the job supervisor's lock: jobs/supervisor.py holds it, readers of jobs probe it


def lock_path(name: str) -> Path:
    return get_settings().home / f"{name}.lock"


def facts_path(name: str) -> Path:
    return get_settings().home / f"{name}.json"


class HomeLock:
    """An exclusive, non-blocking flock on SLMOPS_HOME/<name>.lock holding the owner's pid."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fd: int | None = None

    def acquire(self, wait: float = 1.0) -> bool:
        """Take the lock, retrying for `wait` seconds: another process may be probing it (holder_pid) just now."""
        fd = os.open(lock_path(self.name), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def record(self, **facts) -> None:
        """Tell other processes something about this holder (read with `recorded`); written whole or not at all."""
        path = facts_path(self.name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"pid": os.getpid(), **facts}))
        os.replace(tmp, path)

    def release(self) -> None:
        if self._fd is not None:
            # Removed while still holding the lock, so it is never the next holder's file that goes.
            if recorded_by(self.name) == os.getpid():
                facts_path(self.name).unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def holder_pid(name: str) -> int | None:
    """The pid of the process holding this lock, or None when no process holds it. Probes without writing."""
    fd = os.open(lock_path(name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            for _ in range(50):  # the holder writes its pid right after locking: give it a moment
                text = lock_path(name).read_text().strip()
                if text.isdigit():
                    return int(text)
                time.sleep(0.01)
            return None  # held without a pid after 0.5 s: a starting process; a second one would just exit
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_facts(name: str) -> dict:
    try:
        facts = json.loads(facts_path(name).read_text())
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def recorded_by(name: str) -> int | None:
    """The pid that wrote `<name>.json` (whether or not it still runs)."""
    pid = _read_facts(name).get("pid")
    return pid if isinstance(pid, int) else None


def recorded(name: str) -> dict | None:
    """What the running holder of lock `name` recorded; None when none runs, or it has recorded nothing yet (a file
    left by a killed holder is not believed)."""
    pid = holder_pid(name)
    facts = _read_facts(name)
    return facts if pid and facts.get("pid") == pid else None


def running_for(pid: int) -> str | None:
    """How long a process has been running, in words ('3 min 20 s'); None when it is gone."""
    import psutil

    from .sysinfo import human_duration

    try:
        return human_duration(max(0.0, time.time() - psutil.Process(pid).create_time()))
    except psutil.Error:
        return None


def stop_holder(name: str, timeout: float = 30.0) -> tuple[int | None, bool]:
    """SIGTERM the process holding lock `name` and wait until the lock is free. Returns (its pid or None when none
    ran, whether it is gone now)."""
    import contextlib
    import signal

    pid = holder_pid(name)
    if not pid:
        return None, True
    with contextlib.suppress(ProcessLookupError):  # it ended on its own just now
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while holder_pid(name) == pid:
        if time.monotonic() >= deadline:
            return pid, False
        time.sleep(0.1)
    return pid, True


def start_background(module: str, name: str, log_path: Path, args: tuple[str, ...] = ()) -> int | None:
    """Start `python -m module *args` detached (its own session, our environment) unless a process holds lock
    `name`; wait until it holds the lock, so a second caller does not start another. Returns its pid (None if it
    died)."""
    import subprocess
    import sys

    pid = holder_pid(name)
    if pid:
        return pid
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=worker_env(),
            start_new_session=True,
        )
    # Until it holds the lock (a moment, normally); a stalled machine may take a while to start Python and import.
    deadline = time.monotonic() + START_SECONDS
    while not holder_pid(name) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return holder_pid(name)
