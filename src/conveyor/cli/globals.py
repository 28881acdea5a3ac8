"""Global flags (`--db`, `--url`, `--token`, `--user`, `-v`) are accepted anywhere on the line,
before the command name or after it, so they are taken out of argv before Typer parses it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

GLOBAL_VALUE_FLAGS = {"--db": "db_url", "--url": "server_url", "--token": "token", "--user": "user"}
GLOBAL_SWITCHES = {"-v": "verbose", "--verbose": "verbose"}
# Options of commands whose next word is a value, which must never be read as a global flag.
VALUE_OPTIONS = frozenset(
    {
        "-p", "--param", "-o", "--output", "-f", "--file", "--reason", "--step", "--tags",
        "--slots", "--name", "--grant", "--timeout", "--host", "--port", "--job", "--state",
        "--limit", "--force", "--after", "--password",
    }
)  # fmt: skip


@dataclass
class GlobalFlags:
    values: dict[str, object] = field(default_factory=dict)
    rest: list[str] = field(default_factory=list)


def split_globals(argv: Sequence[str]) -> GlobalFlags:
    """Separate global flags from the rest of the command line."""
    found = GlobalFlags()
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            found.rest.extend(words[i:])
            break
        name, eq, inline = word.partition("=")
        if name in GLOBAL_VALUE_FLAGS and (eq or i + 1 < len(words)):
            found.values[GLOBAL_VALUE_FLAGS[name]] = inline if eq else words[i + 1]
            i += 1 if eq else 2
            continue
        if word in GLOBAL_SWITCHES:
            found.values[GLOBAL_SWITCHES[word]] = True
            i += 1
            continue
        found.rest.append(word)
        if word in VALUE_OPTIONS and i + 1 < len(words):
            found.rest.append(words[i + 1])
            i += 1
        i += 1
    return found
