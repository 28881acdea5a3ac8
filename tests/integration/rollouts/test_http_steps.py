"""HTTP steps against a local server: method, headers, JSON body, expect_status, outputs and
`json.<path>` read by a later step; a secret header reaches the server and nothing else."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conveyor.actions.runtime import Runtime
from conveyor.store.tables import audit_event, event, job_run, step_log, step_output

SECRET = "tok-7Hq!secret"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(size) or b"null")
        status = 500 if self.path == "/broken" else 201
        answer = {
            "data": {"id": 42, "name": sent.get("name") if sent else None},
            "echo": self.headers.get("Authorization"),
        }
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the step's outputs, not the server's log."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


CALLER = """
kind: job
name: caller
params:
  - {name: base, type: string, required: true}
  - {name: path, type: string, default: items}
  - {name: token, type: secret, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: call
    http:
      method: POST
      url: "{base}/{path}"
      headers: {Authorization: "Bearer {token}"}
      json: {name: "web {path}"}
      expect_status: [201]
      timeout: 5s
  - id: use
    needs: [call]
    run: echo "{steps.call.outputs.json.data.id} {steps.call.outputs.json.data.name}" > {dir}/got
"""


def _dump(rt: Runtime) -> str:
    tables = (job_run, step_log, step_output, event, audit_event)
    with rt.db.read() as conn:
        rows = [dict(r) for t in tables for r in conn.execute(select(t)).mappings()]
    return json.dumps(rows, default=str)


def test_an_http_step_calls_answers_and_hides_its_secret_header(
    tmp_path: Path,
    server: str,
    rt: Runtime,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict[str, Any]],
    log_of: Callable[..., str],
) -> None:
    apply_yaml(CALLER)
    start_agent()
    params = {"base": server, "token": SECRET, "dir": str(tmp_path)}
    run_id = submit_run("caller", params)
    assert wait_for_state(run_id).state == "succeeded"
    call = steps_of(run_id)["call"]
    assert call.outputs["status"] == "201"
    answer = json.loads(call.outputs["body"])
    assert answer["echo"] == "Bearer ***"  # the server got it; the output shows the mask
    assert (tmp_path / "got").read_text() == "42 web items\n"
    assert f"POST {server}/items" in log_of(run_id, "call")
    assert SECRET not in _dump(rt)


def test_an_unexpected_status_fails_the_step(
    tmp_path: Path,
    server: str,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict[str, Any]],
) -> None:
    apply_yaml(CALLER)
    start_agent()
    params = {"base": server, "path": "broken", "token": SECRET, "dir": str(tmp_path)}
    run_id = submit_run("caller", params)
    assert wait_for_state(run_id).state == "failed"
    call = steps_of(run_id)["call"]
    assert call.error == "HTTP 500 is not one of 201"
    assert call.outputs == {}
