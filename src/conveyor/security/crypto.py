"""Secrets at rest: Fernet encryption under CONVEYOR_SECRET_KEY or a generated key file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from conveyor.errors import ConveyorError


class SecretKeyError(ConveyorError):
    """The secret key is missing, unreadable, or not the one that encrypted the data."""


def _fernet_key(material: str) -> bytes:
    # Any passphrase works as CONVEYOR_SECRET_KEY: derive a Fernet key from it.
    try:
        raw = base64.urlsafe_b64decode(material.encode())
        if len(raw) == 32:
            return material.encode()
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


def load_or_create_key(configured: str | None, key_file: Path) -> str:
    """The configured key, else the key file's, else a new random key written to a file only
    its owner can read. There is never a built-in default key."""
    if configured:
        return configured
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SecretKeyError(f"the secret key file {key_file} cannot be read: {exc}") from exc
    key = Fernet.generate_key().decode()
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


class SecretBox:
    """Encrypts and decrypts mappings of secret values."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(_fernet_key(key))

    def seal(self, values: dict[str, Any]) -> str | None:
        if not values:
            return None
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, sealed: str | None) -> dict[str, Any]:
        if not sealed:
            return {}
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise SecretKeyError(
                "the secrets of this run were encrypted with another CONVEYOR_SECRET_KEY"
            ) from exc
        return data
