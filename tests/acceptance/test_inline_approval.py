"""`run --local` in a terminal asks the person at it to decide on a manual step inline."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

JOB = """
kind: job
name: inline
steps:
  - id: check
    manual:
      instructions: "Is the window open?"
      fields: [{name: ticket, type: string, required: true}]
  - id: after
    needs: [check]
    run: echo "ticket {steps.check.outputs.ticket}"
"""


def _read_until(fd: int, marker: str, seen: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while marker not in "".join(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {marker!r} in {''.join(seen)!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            seen.append(os.read(fd, 4096).decode(errors="replace"))


def test_a_person_at_the_terminal_approves_inline(
    cli: Callable[..., Any], cli_env: dict[str, str], write: Callable[[str, str], Path],
    tmp_path: Path,
) -> None:  # fmt: skip
    assert cli("apply", str(write("inline.yaml", JOB))).code == 0
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "run", "inline", "--local"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=cli_env,
        cwd=tmp_path,
    )
    os.close(terminal)
    seen: list[str] = []
    try:
        _read_until(controller, "Is the window open?", seen)
        _read_until(controller, "[a/r/l]", seen)
        os.write(controller, b"a\n")
        _read_until(controller, "ticket", seen)
        os.write(controller, b"OPS-7\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen)
    run_id = out.decode().strip()
    assert cli("logs", run_id, "--step", "after").out.strip() == "ticket OPS-7"
