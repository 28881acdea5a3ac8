"""What machine the figures were taken on: they mean nothing without it."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

from bench import pg


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe(pg_url: str | None) -> dict[str, object]:
    info: dict[str, object] = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if pg_url is not None:
        try:
            info["postgresql"] = pg.server_version(pg_url)
        except Exception as exc:  # the table still prints without it
            info["postgresql"] = f"unknown ({type(exc).__name__})"
    return info
