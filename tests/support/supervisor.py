"""A real supervisor running in a thread of the test process; it starts real worker processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running_supervisor() -> Iterator:
    from slmops_engine.jobs.supervisor import Supervisor

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
