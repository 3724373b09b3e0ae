"""Processes the test session started that are still running when it ends.

The session marks its own environment with a token; every process it starts inherits it — workers, supervisors
started by a command, model servers, browsers, Ray — also once detached into a session of its own and reparented
away from pytest. At the end, any process still carrying the token outlived the test that started it: it is listed,
ended, and the suite fails."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass

import psutil

MARK = "SLMOPS_TEST_SESSION"


def mark_session() -> str | None:
    """Give this process (and so everything it starts) the session's token. Returns it, or None inside a pytest
    that a test started (the outer session owns the token and checks at its own end)."""
    if MARK in os.environ:
        return None
    os.environ[MARK] = token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    return token


@dataclass
class Leftover:
    pid: int
    age_s: float
    command: str


def leftovers(token: str) -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for p in psutil.process_iter():
        if p.pid == me:
            continue
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue  # already ended; only its exit status waits to be collected
            if p.environ().get(MARK) == token:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def describe(p: psutil.Process) -> Leftover | None:
    try:
        return Leftover(p.pid, time.time() - p.create_time(), " ".join(p.cmdline())[:200])
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def collect(token: str, grace: float = 10.0) -> list[Leftover]:
    """The session's processes still running after `grace` seconds (time for those already told to stop); each is
    then killed, so that a failing suite still leaves the machine clean."""
    deadline = time.monotonic() + grace
    while (procs := leftovers(token)) and time.monotonic() < deadline:
        time.sleep(0.2)
    found = [d for p in procs if (d := describe(p)) is not None]
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            p.kill()
    psutil.wait_procs(procs, timeout=5)
    return found
