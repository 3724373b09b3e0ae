"""Who made each job, dataset and deployment (identity.py). Rows made before this revision keep no name.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_dataset_created_by"), ["created_by"], unique=False)

    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_deployment_created_by"), ["created_by"], unique=False)

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_created_by"), ["created_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_created_by"))
        batch_op.drop_column("created_by")

    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_created_by"))
        batch_op.drop_column("created_by")

    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_created_by"))
        batch_op.drop_column("created_by")
