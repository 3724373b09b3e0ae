"""Alembic's environment: the migrations run on the connection schema.py hands over (never a URL of their own)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from slmops_engine import models  # noqa: F401 - registers the tables

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite changes a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
