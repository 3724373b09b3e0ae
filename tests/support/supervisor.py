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
    from slmops_engine.jobs.supervisor import stop_supervisor

    _, gone = stop_supervisor(timeout)
    assert gone, "the background supervisor did not stop"


def stop_home_processes(timeout: float = 30) -> None:
    """End the background processes of the current home — a supervisor a command started, the model server — so
    that no test leaves them running (a supervisor in a thread of this process is its fixture's to stop)."""
    import os

    from slmops_engine.jobs.supervisor import LOCK as SUPERVISOR
    from slmops_engine.proclock import holder_pid, stop_holder
    from slmops_engine.serving.server import LOCK as MODEL_SERVER

    for name in (SUPERVISOR, MODEL_SERVER):
        pid = holder_pid(name)
        if pid and pid != os.getpid():
            stop_holder(name, timeout)
