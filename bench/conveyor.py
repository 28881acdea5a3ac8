"""Loads the Conveyor workloads from bench/conveyor_workloads.py, when that module exists.

The plug-in contract (see docs/benchmarks.md): the module defines any of `w1` ... `w6`, each
`def wN(ctx: bench.common.BenchContext) -> dict[str, float | str]`, returning the medians of its
metrics under the keys listed in bench/workloads.py (ms unless the key says otherwise) and,
optionally, `"note"`: one sentence on how it was measured. A missing function or module leaves
that row "not available"; an exception is reported in the row, never hidden.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import traceback
from pathlib import Path
from types import ModuleType

from bench.common import BenchContext, Column

MODULE = "bench.conveyor_workloads"


def load() -> tuple[ModuleType | None, str]:
    """The module, or None and the reason it is not available."""
    try:
        return importlib.import_module(MODULE), ""
    except ModuleNotFoundError as exc:
        if exc.name == MODULE:
            return None, "not available: bench/conveyor_workloads.py does not exist yet"
        return None, f"not available: importing {MODULE} failed: {exc}"
    except Exception as exc:  # a broken plug-in must not hide the floors and the peers
        return None, f"not available: importing {MODULE} failed: {type(exc).__name__}: {exc}"


def run_workload(
    module: ModuleType, workload_id: str, quick: bool, pg_url: str | None, floors: dict[str, float]
) -> Column:
    fn = getattr(module, workload_id.lower(), None)
    if fn is None:
        return Column(note=f"not available: {MODULE} has no {workload_id.lower()}()")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-conveyor-{workload_id.lower()}-"))
    ctx = BenchContext(
        quick=quick,
        repeats=3 if quick else 7,
        workdir=workdir,
        pg_url=pg_url,
        floors=dict(floors),
    )
    try:
        result = fn(ctx)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return Column(note=f"error: {last}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    col = Column(note=str(result.get("note", "")))
    for key, value in result.items():
        if key != "note":
            col.values[key] = float(value)
    return col
