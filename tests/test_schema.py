"""The schema is kept by migrations: a database made before they existed (a real one, with data, in
tests/fixtures) is upgraded on start without losing a row, on SQLite and on PostgreSQL; the migrations build exactly
the tables the models declare; `slmops db` reports and applies them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from slmops_engine.db import init_db, session_scope
from slmops_engine.schema import BASELINE, head, pending, revision_of, upgrade

FIXTURE = Path(__file__).parent / "fixtures" / "schema_before_migrations.sqlite"
TABLES = ("project", "dataset", "job", "metricpoint", "modelvariant", "deployment", "teacheranswer")


def _rows(conn, table: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()]


def _fixture_rows() -> dict[str, list[tuple]]:
    eng = create_engine(f"sqlite:///{FIXTURE}")
    try:
        with eng.connect() as conn:
            return {t: _rows(conn, t) for t in TABLES}
    finally:
        eng.dispose()


def _check_upgraded(eng, before: dict[str, list[tuple]]) -> None:
    """Every row is still there with its values, the new columns came in empty, and the app reads the rows."""
    assert revision_of(eng) == head() and pending(eng) == []
    with eng.connect() as conn:
        for table, rows in before.items():
            after = _rows(conn, table)
            assert len(after) == len(rows) > 0, table
            names = [c["name"] for c in inspect(conn).get_columns(table)]
            old = [dict(zip(names, r, strict=True)) for r in after]
            assert [o["id"] for o in old] == [r[0] for r in rows]
        for table in ("job", "dataset", "deployment"):
            assert conn.execute(text(f"SELECT created_by FROM {table}")).scalars().all() == [None]
    from slmops_engine.jobs import get_job, job_metrics
    from slmops_engine.projects import list_projects

    [project] = list_projects()
    job = get_job(1)
    assert project.name == "brightwave" and job.status.value == "succeeded" and job.result["steps"] == 3
    assert sorted(p.value for p in job_metrics(1)) == sorted(r[4] for r in before["metricpoint"])


def test_a_sqlite_database_made_before_migrations_is_upgraded_on_start_and_keeps_every_row(slmops_home):
    from slmops_engine.db import dispose_engines

    dispose_engines()
    db = slmops_home / "slmops.db"
    db.unlink()
    shutil.copy(FIXTURE, db)
    before = _fixture_rows()
    with sqlite3.connect(db) as raw:
        assert "alembic_version" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    eng = init_db()  # what every process does when it first opens the database
    _check_upgraded(eng, before)
    # What is made from now on records who made it.
    from slmops_engine.identity import acting_as, current_user
    from slmops_engine.jobs import submit_job

    assert submit_job("test_steps", {"steps": 1}).created_by == current_user()
    with acting_as("ada"):
        assert submit_job("test_steps", {"steps": 1}).created_by == "ada"


def test_a_postgresql_database_made_before_migrations_is_upgraded_and_keeps_every_row(
    slmops_home, postgres_url, monkeypatch
):
    """The fixture's rows in a PostgreSQL database with the schema as it was before migrations (no version
    recorded), then the app starts on it."""
    from slmops_engine.db import dispose_engines
    from slmops_engine.settings import reset_settings
    from tests.support.postgres import fresh_database

    url = fresh_database(postgres_url)
    eng = create_engine(url)
    upgrade(eng, BASELINE)
    before = _fixture_rows()
    with eng.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # as create_all left it: tables, no version
        for table in TABLES:  # parents first: the fixture's rows keep their ids and links
            cols = [c["name"] for c in inspect(conn).get_columns(table)]
            rows = [dict(zip(cols, _typed(table, cols, row), strict=True)) for row in before[table]]
            conn.execute(_old_table(table, cols).insert(), rows)
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    eng.dispose()
    monkeypatch.setenv("SLMOPS_DATABASE_URL", url)
    dispose_engines()
    reset_settings()
    _check_upgraded(init_db(), before)
    from slmops_engine.jobs import submit_job

    assert submit_job("test_steps", {"steps": 1}).id == 2  # new rows continue after the old ones


def _table(name: str):
    from sqlmodel import SQLModel

    from slmops_engine import models  # noqa: F401

    return SQLModel.metadata.tables[name]


def _old_table(name: str, cols: list[str]):
    """The table as it was: only the columns it had (no default of a later column fills in), typed as now."""
    from sqlalchemy import Column, MetaData, Table

    return Table(name, MetaData(), *[Column(c, _table(name).c[c].type) for c in cols])


def _typed(table: str, cols: list[str], row: tuple) -> list:
    """SQLite keeps booleans as 0/1 and JSON as text: PostgreSQL wants them typed."""
    import json
    from datetime import datetime, timezone

    out = []
    for name, value in zip(cols, row, strict=True):
        kind = type(_table(table).c[name].type).__name__
        if kind == "Boolean" and value is not None:
            value = bool(value)
        elif kind == "JSON" and isinstance(value, str):
            value = json.loads(value)
        elif "DateTime" in kind and isinstance(value, str):
            value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)  # SQLite keeps UTC without a zone
        out.append(value)
    return out


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migrations_build_exactly_what_the_models_declare(dialect, tmp_path, request):
    """Replayed revision by revision, the migrations leave nothing for autogenerate to add: a change to the models
    without its migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'replayed.db'}"
    else:
        from tests.support.postgres import fresh_database

        url = fresh_database(request.getfixturevalue("postgres_url"))
    eng = create_engine(url)
    try:
        upgrade(eng, head())  # by revision, not the empty database's one step
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, SQLModel.metadata) == []
    finally:
        eng.dispose()


def test_slmops_db_status_and_upgrade(slmops_home):
    from slmops_engine.db import dispose_engines
    from tests.test_cli import slmops

    dispose_engines()
    db = slmops_home / "slmops.db"
    db.unlink()
    shutil.copy(FIXTURE, db)
    r = slmops("db", "status")
    assert r.returncode == 0 and f"schema: {BASELINE} (made before migrations)" in r.stdout
    assert f"to apply: {', '.join(pending(create_engine(f'sqlite:///{db}')))}" in r.stdout
    r = slmops("db", "upgrade")
    assert r.returncode == 0 and f"the schema is at {head()}" in r.stdout
    r = slmops("db", "status")
    assert f"schema: {head()} · newest: {head()}" in r.stdout and "to apply" not in r.stdout
    with session_scope() as s:  # the app opens it as it is
        assert s.connection().execute(text("SELECT count(*) FROM job")).scalar() == 1
