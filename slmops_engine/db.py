"""Database engine and sessions. SQLite runs in WAL mode with a busy timeout so the UI and workers can
write at the same time; PostgreSQL serves a shared setup. The schema is kept by migrations (schema.py), applied
when a process first opens the database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from .settings import get_settings

T = TypeVar("T")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process; the schema is brought up to date on first use."""
    url = url or get_settings().db_url
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            if url.startswith("sqlite"):
                eng = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
                )
                event.listen(eng, "connect", _configure_sqlite)
            else:
                eng = create_engine(url, pool_pre_ping=True)
            _create_tables(eng)
            _engines[url] = eng
    return eng


def _create_tables(eng: Engine) -> None:
    """Bring the schema up to date: the migrations in slmops_engine/migrations, one process at a time."""
    from .schema import upgrade

    upgrade(eng)


def init_db(url: str | None = None) -> Engine:
    return get_engine(url)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error. Objects are detached-safe after commit."""
    with Session(get_engine(url), expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


def dispose_engines() -> None:
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


def get_or_raise(model: type[T], row_id: int, what: str, hint: str) -> T:
    """The row with this id, or a NotFoundError that says what is missing and where to look."""
    from .errors import NotFoundError

    with session_scope() as s:
        row = s.get(model, row_id)
    if row is None:
        raise NotFoundError(f"{what} {row_id} does not exist", hint)
    return row
