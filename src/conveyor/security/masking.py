"""Replace secret values with ``***`` in logs, outputs and API answers.

A `Masker` is built once per run (from the run's secret param values) and applied to every log
batch, output and answer before it leaves the process. It matches the raw value and the forms a
step is likely to echo by accident: base64 (``echo -n $TOKEN | base64``, Basic auth headers) and
URL encoding (a token put in a query string), plus each line of a multi-line secret, because logs
are shipped line by line.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

# Values shorter than this are not masked. Masking "a" or "1" would replace every such letter or
# digit in every log and output, destroying them while hiding nothing: a secret that short can be
# guessed anyway. Definitions should not declare such secrets.
MIN_SECRET_LENGTH = 3


# A base64 fragment shorter than this is too likely to occur by chance in other base64 text.
_MIN_BASE64_FRAGMENT = 6


def _base64_fragments(raw: bytes) -> set[str]:
    """The base64 text that `raw` produces wherever it sits inside a longer encoded value.

    Base64 encodes 3 bytes as 4 characters, so the secret's characters depend on its offset
    modulo 3 (think of "user:password" in a Basic auth header). For each offset, keep only the
    characters made of the secret's own bits.
    """
    fragments = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode("ascii")
        start = -(-8 * shift // 6)  # ceil: the first character holding no prefix bits
        end = 8 * (shift + len(raw)) // 6  # floor: the last character holding no suffix bits
        for text in (encoded[start:end], encoded[start:end].replace("+", "-").replace("/", "_")):
            if len(text) >= _MIN_BASE64_FRAGMENT:
                fragments.add(text)
    return fragments


def _variants(secret: str) -> set[str]:
    """The raw secret and the encodings of it a step might print."""
    found = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    found |= _base64_fragments(secret.encode("utf-8"))
    if "\n" in secret:
        found.update(line.strip() for line in secret.splitlines())
    return {value for value in found if len(value) >= MIN_SECRET_LENGTH}


class Masker:
    """Masks a fixed set of secret values; immutable, cheap to share between threads."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        """Build one regex over every secret (and its encodings) of at least 3 characters."""
        values: set[str] = set()
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                values |= _variants(secret)
        # Longest first, so that a secret containing another one is masked whole, not in part.
        ordered = sorted(values, key=lambda value: (-len(value), value))
        self._pattern: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(value) for value in ordered)) if ordered else None
        )

    def __bool__(self) -> bool:
        """True when there is something to mask."""
        return self._pattern is not None

    def __repr__(self) -> str:
        # Never show the secrets themselves, even in a debugger or a log of reprs.
        return f"Masker({'active' if self else 'empty'})"

    def mask(self, text: str) -> str:
        """Return `text` with every secret (and its encodings) replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """Mask strings inside `value`, walking dicts (keys and values), lists and tuples.

        Other values (numbers, booleans, None) are returned unchanged.
        """
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask_value(key): self.mask_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask_value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.mask_value(item) for item in value)
        return value
