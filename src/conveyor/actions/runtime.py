"""What every action needs: the store, the secret box and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.config import Settings
from conveyor.security.crypto import SecretBox, load_or_create_key
from conveyor.store.db import Database
from conveyor.store.migrate import upgrade


@dataclass(frozen=True)
class Runtime:
    db: Database
    box: SecretBox
    settings: Settings

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Connect to the store, bring its schema to head and load the secret key."""
        db = Database(settings.db_url)
        if migrate:
            upgrade(db)
        key = load_or_create_key(settings.secret_key, settings.key_file)
        return cls(db=db, box=SecretBox(key), settings=settings)

    def close(self) -> None:
        self.db.dispose()
