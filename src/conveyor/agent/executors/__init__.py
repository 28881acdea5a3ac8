"""Executors: run one already-rendered step (a process or an HTTP request) and report its end.

They know nothing of the store: the agent's claim loop hands them a spec, a log sink and a
cancel event, and records the `ProcessResult` they return.
"""

from conveyor.agent.executors.http import HttpRequest, json_path, run_http
from conveyor.agent.executors.outputs import (
    OutputFormatError,
    parse_output_file,
    read_output_file,
)
from conveyor.agent.executors.process import ProcessResult, ProcessSpec, run_process

__all__ = [
    "HttpRequest",
    "OutputFormatError",
    "ProcessResult",
    "ProcessSpec",
    "json_path",
    "parse_output_file",
    "read_output_file",
    "run_http",
    "run_process",
]
