"""Settings read once from the environment and flags, then frozen and passed down."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DB = "sqlite:///conveyor.db"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Settings:
    """Where the store is, who acts, and the knobs of agents and servers."""

    db_url: str = DEFAULT_DB
    server_url: str | None = None
    token: str | None = None
    user: str = "unknown"
    secret_key: str | None = None
    key_file: Path = Path.home() / ".conveyor" / "secret.key"
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 2.0  # also how soon a cancelled step is killed
    poll_seconds: float = 1.0
    log_limit_bytes: int = 64 * 1024 * 1024
    verbose: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read CONVEYOR_* variables; flags override them later with `with_overrides`."""
        env = dict(os.environ) if env is None else env
        key_file = env.get("CONVEYOR_KEY_FILE")
        return cls(
            db_url=env.get("CONVEYOR_DB") or DEFAULT_DB,
            server_url=env.get("CONVEYOR_URL") or None,
            token=env.get("CONVEYOR_TOKEN") or None,
            user=env.get("CONVEYOR_USER") or _login_name(),
            secret_key=env.get("CONVEYOR_SECRET_KEY") or None,
            key_file=Path(key_file) if key_file else cls.key_file,
            lease_seconds=float(env.get("CONVEYOR_LEASE_SECONDS") or cls.lease_seconds),
            heartbeat_seconds=float(env.get("CONVEYOR_HEARTBEAT_SECONDS") or cls.heartbeat_seconds),
            log_limit_bytes=int(env.get("CONVEYOR_LOG_LIMIT_BYTES") or cls.log_limit_bytes),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given non-None values replaced (flags win over the environment)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **kept)  # type: ignore[arg-type]
