"""Who is acting: the person signed in to the dashboard, the person a job was submitted by (inside its worker), or
else the operating-system user. Jobs, datasets and deployments record it as ``created_by``."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_acting: ContextVar[str | None] = ContextVar("slmops_acting_user", default=None)


def current_user() -> str:
    if name := _acting.get() or os.environ.get("SLMOPS_USER"):
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a user id with no name (some containers)
        return f"uid-{os.getuid()}"


def sign_in_as(name: str | None) -> None:
    """The dashboard's signed-in person, for the rest of this page run (its thread)."""
    _acting.set(name)


@contextmanager
def acting_as(name: str | None) -> Iterator[None]:
    """Rows made inside this block record ``name`` (nothing changes when it is None)."""
    token = _acting.set(name or _acting.get())
    try:
        yield
    finally:
        _acting.reset(token)
