"""The plain-text table and the --json document."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from bench.common import Column
from bench.floors import Floor
from bench.workloads import WORKLOADS

PEER_ORDER = ("prefect", "prefect-served", "luigi", "airflow")
CONVEYOR = "conveyor"


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _ratio(peer: float | None, ours: float | None) -> str:
    # peer / Conveyor: above 1 means Conveyor took less (for times); only where both exist.
    if peer is None or ours is None or ours <= 0:
        return ""
    return f" x{peer / ours:.3g}"


Results = dict[str, dict[str, Column]]  # engine ("conveyor", peers) -> workload id -> column


def _engines(results: Results) -> list[str]:
    peers = [p for p in PEER_ORDER if p in results]
    peers += sorted(p for p in results if p not in PEER_ORDER and p != CONVEYOR)
    return [CONVEYOR, *peers]


def render(
    machine: dict[str, object], floors: list[Floor], results: Results, only: set[str], out: TextIO
) -> None:
    w = out.write
    w("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + "\n\n")
    w("Floors (medians, measured in this run)\n")
    for floor in floors:
        shown = f"{fmt(floor.value_ms)} ms" if floor.value_ms is not None else "n/a"
        extra = f"  ({floor.note})" if floor.note else f"  (n={floor.samples})"
        w(f"  {floor.label:<52} {shown:>12}{extra}\n")
    engines = _engines(results)
    widths = [4, 40] + [21] * len(engines)
    header = ["", "metric"] + [_title(e, results) for e in engines]
    w("\nWorkloads (medians; xN = peer / Conveyor, above 1 means Conveyor took less)\n")
    w(_line(header, widths))
    w(_line(["-" * n for n in widths], widths))
    for workload in WORKLOADS:
        if workload.id not in only:
            continue
        for metric in workload.metrics:
            ours = results.get(CONVEYOR, {}).get(workload.id, Column()).values.get(metric.key)
            cells = [workload.id, f"{metric.label} ({metric.unit})", fmt(ours)]
            for engine in engines[1:]:
                col = results[engine].get(workload.id)
                if col is None:
                    cells.append("-")  # this peer does not run this workload
                    continue
                value = col.values.get(metric.key)
                if value is not None:
                    cells.append(fmt(value) + _ratio(value, ours))
                else:  # "-": this peer does not take that figure; "n/a": its run failed
                    cells.append("-" if col.values else "n/a")
            w(_line(cells, widths))
        for key in _extra_keys(results, workload.id, {m.key for m in workload.metrics}):
            ours = results.get(CONVEYOR, {}).get(workload.id, Column()).values.get(key)
            w(_line([workload.id, key, fmt(ours)], widths))
    _notes(results, engines, only, out)


def _title(engine: str, results: Results) -> str:
    versions = {c.version for c in results.get(engine, {}).values() if c.version}
    return engine + (f" {versions.pop()}" if len(versions) == 1 else "")


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(n) for c, n in zip(cells, widths, strict=False)).rstrip() + "\n"


def _extra_keys(results: Results, workload_id: str, known: set[str]) -> list[str]:
    """Keys a Conveyor workload reported beyond the declared ones: shown, not dropped."""
    col = results.get(CONVEYOR, {}).get(workload_id)
    return sorted(set(col.values) - known) if col else []


def _notes(results: Results, engines: list[str], only: set[str], out: TextIO) -> None:
    # The same note for several workloads of one engine is printed once, with their ids.
    lines: list[str] = []
    for engine in engines:
        grouped: dict[str, list[str]] = {}
        for workload_id, col in sorted(results.get(engine, {}).items()):
            if workload_id in only and col.note:
                grouped.setdefault(col.note, []).append(workload_id)
        lines += [f"  {engine} [{','.join(ids)}]: {note}" for note, ids in grouped.items()]
    if lines:
        out.write("\nNotes\n" + "\n".join(lines) + "\n")


def write_json(
    path: Path,
    started: str,
    machine: dict[str, object],
    floors: list[Floor],
    results: Results,
    argv: list[str],
) -> None:
    doc = {
        "started": started,
        "argv": argv,
        "machine": machine,
        "floors": [asdict(f) for f in floors],
        "results": {
            engine: {wid: asdict(col) for wid, col in cols.items()}
            for engine, cols in results.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
