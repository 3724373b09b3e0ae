"""The database schema, kept by Alembic migrations (slmops_engine/migrations) for SQLite and PostgreSQL alike.

``upgrade`` brings a database to the newest schema; it runs on start, one process at a time. A database made
before the migrations existed (its tables created directly, no version recorded) is recognised by its tables and
recorded as the first revision before the later ones are applied: nothing in it is lost."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema every database had before migrations: created from the models as they were then


def _config(conn: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def revision_of(eng: Engine) -> str | None:
    """The schema revision the database is at (None: empty, or made before migrations)."""
    with eng.connect() as conn:
        return current(conn)


def _made_before_migrations(conn: Connection) -> bool:
    tables = set(inspect(conn).get_table_names())
    return "job" in tables and "alembic_version" not in tables


def upgrade_connection(conn: Connection, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` on this connection (inside the caller's transaction)."""
    from alembic import command

    cfg = _config(conn)
    if revision == "head" and not inspect(conn).get_table_names():
        # An empty database: the tables as the models declare them are the newest schema (a test holds the
        # migrations to that), made in one step rather than replayed revision by revision.
        from sqlmodel import SQLModel

        from . import models  # noqa: F401 - registers the tables

        SQLModel.metadata.create_all(conn)
        command.stamp(cfg, "head")
        return
    if _made_before_migrations(conn):
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, revision)


def upgrade(eng: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``, one process at a time: two processes starting on a fresh home would
    otherwise both migrate. SQLite: an exclusive lock on a file next to the database; PostgreSQL: a
    transaction-scoped advisory lock."""
    if eng.dialect.name == "sqlite":
        import fcntl

        database = eng.url.database
        lock = Path(database).with_name(Path(database).name + ".schema-lock") if database else None
        if lock is None or database == ":memory:" or not lock.parent.is_dir():  # nothing to share, or no folder:
            with eng.begin() as conn:  # the database's own error says so
                upgrade_connection(conn, revision)
            return
        with open(lock, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, or by the kernel if this process dies
            with eng.begin() as conn:
                upgrade_connection(conn, revision)
        return
    from sqlalchemy import text

    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7405215)"))  # a fixed key for SLMOps Studio's schema
        upgrade_connection(conn, revision)


def pending(eng: Engine) -> list[str]:
    """Revisions not yet applied to this database, oldest first; empty when it is up to date."""
    from alembic.script import ScriptDirectory

    with eng.connect() as conn:
        now = current(conn) or (BASELINE if _made_before_migrations(conn) else None)
    script = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(script.iterate_revisions("heads", now or "base")))]
