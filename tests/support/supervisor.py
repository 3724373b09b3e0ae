"""A real supervisor running in a thread of the test process; it starts real worker processes and holds the home's
supervisor lock, as the supervisor process does (commands and pages see that a supervisor runs)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running_supervisor() -> Iterator:
    from slmops_engine.jobs.supervisor import Supervisor
    from slmops_engine.proclock import HomeLock

    lock = HomeLock("supervisor")
    assert lock.acquire(wait=10), "another supervisor holds this home"
    sup = Supervisor()
    stop = threading.Event()
    t = threading.Thread(target=sup.run, args=(stop,), daemon=True)
    t.start()
    try:
        yield sup
    finally:
        stop.set()
        t.join(timeout=10)
        for handle in list(sup.handles.values()):
            sup.executor.kill(handle)
        lock.release()


def stop_background_supervisor(timeout: float = 30) -> None:
    """Stop the supervisor a command started in the background for this home (if any) and wait until it is gone."""
    import os
    import signal
    import time

    from slmops_engine.jobs.supervisor import supervisor_pid

    pid = supervisor_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while supervisor_pid() is not None:
        assert time.monotonic() < deadline, "the background supervisor did not stop"
        time.sleep(0.05)
