"""Entry point of the `conveyor` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from conveyor.cli import (  # noqa: F401 - importing a module registers its commands
    accounts,
    agent,
    definitions,
    runs,
    server,
    steering,
)
from conveyor.cli.app import app, state
from conveyor.cli.globals import split_globals
from conveyor.config import Settings


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; global flags may stand anywhere on the line."""
    flags = split_globals(sys.argv[1:] if argv is None else argv)
    state.settings = Settings.from_env().with_overrides(**flags.values)
    app(args=flags.rest, prog_name="conveyor")


if __name__ == "__main__":
    main()
