"""One background process of a kind per SLMOPS_HOME (the job supervisor, the model server): an exclusive flock
on a file in the home, released by the kernel when the process dies, so a killed process never blocks the next."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .settings import get_settings


def lock_path(name: str) -> Path:
    return get_settings().home / f"{name}.lock"


class HomeLock:
    """An exclusive, non-blocking flock on SLMOPS_HOME/<name>.lock holding the owner's pid."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fd: int | None = None

    def acquire(self, wait: float = 1.0) -> bool:
        """Take the lock, retrying for `wait` seconds: another process may be probing it (holder_pid) just now."""
        import time

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

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def holder_pid(name: str) -> int | None:
    """The pid of the process holding this lock, or None when no process holds it. Probes without writing."""
    import time

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


def start_background(module: str, name: str, log_path: Path) -> int | None:
    """Start `python -m module` detached (its own session, our environment) unless a process holds lock `name`;
    wait until it holds the lock, so a second caller does not start another. Returns its pid (None if it died)."""
    import subprocess
    import sys
    import time

    from .jobs.executors import worker_env

    pid = holder_pid(name)
    if pid:
        return pid
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=worker_env(),
            start_new_session=True,
        )
    for _ in range(100):
        if holder_pid(name) or proc.poll() is not None:
            break
        time.sleep(0.1)
    return holder_pid(name)
