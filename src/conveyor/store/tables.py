"""Table definitions (SPEC section 1). Times are epoch seconds (floats) by the database clock."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


job_category = Table(
    "job_category",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text),
)

job = Table(
    "job",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("category_id", ForeignKey("job_category.id"), nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

job_version = Table(
    "job_version",
    metadata,
    _id(),
    Column("job_id", ForeignKey("job.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(200), nullable=False),
    UniqueConstraint("job_id", "version"),
)

step = Table(
    "step",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

job_step = Table(
    "job_step",
    metadata,
    _id(),
    Column("job_version_id", ForeignKey("job_version.id"), nullable=False, index=True),
    Column("step_key", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("uses", String(200)),
    Column("needs", JSON, nullable=False),
)

job_param = Table(
    "job_param",
    metadata,
    _id(),
    Column("job_version_id", ForeignKey("job_version.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("type", String(16), nullable=False),
    Column("definition", JSON, nullable=False),
)

lookup = Table(
    "lookup",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

job_run = Table(
    "job_run",
    metadata,
    _id(),
    Column("job_id", ForeignKey("job.id"), nullable=False),
    Column("job_version_id", ForeignKey("job_version.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("secret_params", Text),
    Column("submitter", String(200), nullable=False),
    Column("parent_step_run_id", Integer),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Index("ix_job_run_state_job", "state", "job_id"),
    Index("ix_job_run_parent", "parent_step_run_id"),
)

step_run = Table(
    "step_run",
    metadata,
    _id(),
    Column("run_id", ForeignKey("job_run.id"), nullable=False),
    Column("step_key", String(64), nullable=False),
    Column("item_index", Integer),
    Column("item", JSON),
    Column("attempt", Integer, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("tags_key", String(500), nullable=False, server_default=""),
    Column("agent_id", Integer),
    Column("attempt_token", String(64)),
    Column("lease_expires_at", Float),
    Column("not_before", Float, nullable=False, server_default=text("0")),
    Column("waiting_for", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("exit_code", Integer),
    Column("error", Text),
    Index("ix_step_run_run", "run_id", "step_key"),
    # Partial indexes keep claim and sweep independent of how much history the table holds.
    # The claim reads ready rows of its tags keys in id order; `not_before` is filtered after
    # (it is compared with the volatile database clock, so it cannot be an index condition).
    Index(
        "ix_step_run_ready",
        "tags_key",
        "id",
        sqlite_where=text("state = 'ready'"),
        postgresql_where=text("state = 'ready'"),
    ),
    # An agent with tags claims for several keys: then the ready rows are walked in id order.
    Index(
        "ix_step_run_ready_id",
        "id",
        sqlite_where=text("state = 'ready'"),
        postgresql_where=text("state = 'ready'"),
    ),
    Index(
        "ix_step_run_running",
        "lease_expires_at",
        sqlite_where=text("state = 'running'"),
        postgresql_where=text("state = 'running'"),
    ),
    Index("ix_step_run_agent", "agent_id", "state"),
)

step_output = Table(
    "step_output",
    metadata,
    _id(),
    Column("step_run_id", ForeignKey("step_run.id"), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("step_key", String(64), nullable=False),
    Column("item_index", Integer),
    Column("key", String(200), nullable=False),
    Column("value", Text, nullable=False),
    Index("ix_step_output_run", "run_id"),
    Index("ix_step_output_step_run", "step_run_id"),
)

step_log = Table(
    "step_log",
    metadata,
    _id(),
    Column("step_run_id", Integer, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_step_log_run", "run_id", "id"),
    Index("ix_step_log_step_run", "step_run_id", "id"),
)

agent = Table(
    "agent",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("hostname", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("slots", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
    Index("ix_agent_state", "state"),
)

lock_hold = Table(
    "lock_hold",
    metadata,
    _id(),
    Column("name", String(300), nullable=False),
    Column("lock_limit", Integer, nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("step_run_id", Integer),
    Column("acquired_at", Float, nullable=False),
    Index("ix_lock_hold_name", "name"),
    Index("ix_lock_hold_run", "run_id"),
)

approval = Table(
    "approval",
    metadata,
    _id(),
    Column("step_run_id", ForeignKey("step_run.id"), nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("reason", Text),
    Column("created_at", Float, nullable=False),
)

event = Table(
    "event",
    metadata,
    _id(),
    Column("run_id", Integer),
    Column("step_run_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_event_run", "run_id", "id"),
)

audit_event = Table(
    "audit_event",
    metadata,
    _id(),
    Column("created_at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(300), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("source", String(200), nullable=False),
)

user = Table(
    "user",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("password_hash", Text),
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", Float, nullable=False),
)

grant = Table(
    "grant",
    metadata,
    _id(),
    Column("user_id", ForeignKey("user.id"), nullable=False, index=True),
    Column("category", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    UniqueConstraint("user_id", "category", "role"),
)

api_token = Table(
    "api_token",
    metadata,
    _id(),
    Column("user_id", ForeignKey("user.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
)
