"""claim indexes: ready step runs by (tags_key, id) and by id

Revision ID: 0002
Revises: 0001

The claim takes ready step runs in id order. The old index led with `not_before`, which the
claim compares with the (volatile) database clock, so PostgreSQL could use it neither for the
order nor as an index condition and walked the primary key through every finished row. An
agent with tags claims for several keys at once: then the ready rows are walked by id alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_READY = sa.text("state = 'ready'")


def upgrade() -> None:
    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.drop_index("ix_step_run_ready", sqlite_where=_READY, postgresql_where=_READY)
        batch_op.create_index(
            "ix_step_run_ready",
            ["tags_key", "id"],
            unique=False,
            sqlite_where=_READY,
            postgresql_where=_READY,
        )
        batch_op.create_index(
            "ix_step_run_ready_id",
            ["id"],
            unique=False,
            sqlite_where=_READY,
            postgresql_where=_READY,
        )


def downgrade() -> None:
    with op.batch_alter_table("step_run", schema=None) as batch_op:
        batch_op.drop_index("ix_step_run_ready_id", sqlite_where=_READY, postgresql_where=_READY)
        batch_op.drop_index("ix_step_run_ready", sqlite_where=_READY, postgresql_where=_READY)
        batch_op.create_index(
            "ix_step_run_ready",
            ["tags_key", "not_before", "id"],
            unique=False,
            sqlite_where=_READY,
            postgresql_where=_READY,
        )
