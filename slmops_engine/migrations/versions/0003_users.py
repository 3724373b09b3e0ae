"""The people who may sign in to a shared dashboard (users.py): a name and a bcrypt hash of the password.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studio_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("studio_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studio_user_name"), ["name"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("studio_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studio_user_name"))

    op.drop_table("studio_user")
