"""run_http against a local http.server, and json_path."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.agent.executors.http import HttpRequest, json_path, run_http
from conveyor.agent.executors.process import ProcessResult
from conveyor.security.masking import Masker

BIG = 3 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    stop: threading.Event  # set on the class by the fixture

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/ok")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._send(200, b'{"a": {"b": [1, {"c": "deep"}]}, "n": null}')
        elif self.path.startswith("/status/"):
            self._send(int(self.path.rsplit("/", 1)[1]), b"nope")
        elif self.path == "/big":
            self._send(200, b"x" * BIG, "text/plain")
        elif self.path == "/slow":
            self.stop.wait(5)
            self._send(200, b"late")
        elif self.path == "/latin1":
            self._send(200, "café\x00".encode("latin-1"), "text/plain; charset=latin-1")
        else:
            self._send(200, self.path.encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        echo = {
            "body": self.rfile.read(length).decode(),
            "type": self.headers.get("Content-Type"),
            "token": self.headers.get("X-Token"),
        }
        self._send(201, json.dumps(echo).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    stop = threading.Event()
    handler = type("BoundHandler", (Handler,), {"stop": stop})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def call(req: HttpRequest, masker: Masker | None = None) -> tuple[ProcessResult, list[str]]:
    log: list[str] = []
    return run_http(req, log.append, threading.Event(), masker), log


def test_get_ok_outputs_status_and_body(server: str) -> None:
    result, log = call(HttpRequest("get", f"{server}/ok", {}))
    assert result.exit_code == 0
    assert result.error is None
    assert result.outputs["status"] == "200"
    assert json.loads(result.outputs["body"])["a"]["b"][1] == {"c": "deep"}
    assert log[0] == f"GET {server}/ok\n"
    assert log[1].startswith("HTTP 200 OK, 43 bytes")


def test_unexpected_status_fails_with_a_sentence(server: str) -> None:
    result, _ = call(HttpRequest("GET", f"{server}/status/503", {}, expect_status=(200, 201)))
    assert result.exit_code == 1
    assert result.error == "HTTP 503 is not one of 200, 201"
    assert result.outputs == {"status": "503", "body": "nope"}


def test_expected_non_2xx_status_succeeds(server: str) -> None:
    result, _ = call(HttpRequest("GET", f"{server}/status/404", {}, expect_status=(404,)))
    assert result.exit_code == 0
    assert result.error is None


def test_redirects_are_not_followed(server: str) -> None:
    result, _ = call(HttpRequest("GET", f"{server}/status/302", {}))
    assert result.outputs["status"] == "302"
    assert result.exit_code == 1


def test_post_json_with_headers_which_are_not_logged(server: str) -> None:
    req = HttpRequest("POST", f"{server}/echo", {"X-Token": "tok-123"}, json_body={"k": [1]})
    result, log = call(req)
    assert result.exit_code == 0
    echo = json.loads(result.outputs["body"])
    assert echo == {"body": '{"k":[1]}', "type": "application/json", "token": "tok-123"}
    assert not any("tok-123" in line for line in log)


def test_post_text_body(server: str) -> None:
    result, _ = call(HttpRequest("POST", f"{server}/echo", {}, body="plain"))
    assert json.loads(result.outputs["body"])["body"] == "plain"


def test_secrets_are_masked_in_log_and_body(server: str) -> None:
    masker = Masker(["s3cret", "hunter2"])
    result, log = call(HttpRequest("GET", f"{server}/q?key=s3cret", {}), masker)
    assert log[0] == f"GET {server}/q?key=***\n"
    assert result.outputs["body"] == "/q?key=***"
    result, log = call(HttpRequest("GET", "http://me:hunter2@127.0.0.1:1/", {}), masker)
    assert "hunter2" not in "".join(log)


def test_password_in_url_is_not_logged_even_without_masker(server: str) -> None:
    host = server.removeprefix("http://")
    _, log = call(HttpRequest("GET", f"http://me:pa55word@{host}/ok", {}))
    assert log[0] == f"GET http://me:***@{host}/ok\n"


def test_body_is_truncated_to_max_body(server: str) -> None:
    result, log = call(HttpRequest("GET", f"{server}/big", {}, max_body=1000))
    assert result.exit_code == 0
    assert result.outputs["body"] == "x" * 1000
    assert "[conveyor: response body truncated to 1000 bytes]\n" in log


def test_charset_and_nul_in_body(server: str) -> None:
    result, _ = call(HttpRequest("GET", f"{server}/latin1", {}))
    assert result.outputs["body"] == "café\ufffd"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1/", "/relative", "http://"],
)
def test_only_http_and_https_urls(url: str) -> None:
    result, log = call(HttpRequest("GET", url, {}))
    assert result.exit_code is None
    assert result.error is not None
    assert log == []


def test_bad_method_and_both_bodies_are_refused(server: str) -> None:
    result, _ = call(HttpRequest("GE T", f"{server}/ok", {}))
    assert result.error == "'GE T' is not an HTTP method"
    result, _ = call(HttpRequest("POST", f"{server}/ok", {}, body="a", json_body={}))
    assert result.error == "an HTTP step takes a body or a JSON body, not both"


def test_connection_refused_is_one_sentence() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result, log = call(HttpRequest("GET", f"http://127.0.0.1:{port}/", {}))
    assert result.exit_code is None
    assert result.error is not None
    assert result.error.startswith("could not connect to 127.0.0.1: ")
    assert "\n" not in result.error
    assert "Traceback" not in "".join(log)


def test_timeout(server: str) -> None:
    started = time.monotonic()
    result, _ = call(HttpRequest("GET", f"{server}/slow", {}, timeout=0.3))
    assert result.timed_out
    assert result.exit_code is None
    assert result.error == "timed out after 0.3s"
    assert time.monotonic() - started < 2


def test_cancel_returns_at_once(server: str) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        result = run_http(HttpRequest("GET", f"{server}/slow", {}, timeout=None), print, cancel)
    finally:
        timer.cancel()
        timer.join()
    assert result.cancelled
    assert result.exit_code is None
    assert time.monotonic() - started < 2


def test_failing_log_sink_is_reported(server: str) -> None:
    def failing(text: str) -> None:
        raise RuntimeError("store is down")

    result = run_http(HttpRequest("GET", f"{server}/ok", {}), failing, threading.Event())
    assert result.outputs["status"] == "200"
    assert result.error == "log shipping failed: store is down"


DOC = '{"a": {"b": [1, {"c": "deep"}], "t": true, "f": 1.5, "n": null}, "s": "x"}'


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("s", "x"),
        ("a.b.1.c", "deep"),
        ("a.b.0", "1"),
        ("a.t", "true"),
        ("a.f", "1.5"),
        ("a.n", "null"),
        ("a.b", '[1,{"c":"deep"}]'),
        ("a.b.1", '{"c":"deep"}'),
        ("", json.dumps(json.loads(DOC), separators=(",", ":"))),
        ("missing", None),
        ("a.b.2", None),
        ("a.b.x", None),
        ("a.b.-1", None),
        ("s.0", None),
    ],
)
def test_json_path(path: str, expected: str | None) -> None:
    assert json_path(DOC, path) == expected


def test_json_path_on_non_json_and_deep_nesting() -> None:
    assert json_path("not json", "a") is None
    assert json_path("[" * 100_000 + "]" * 100_000, "0") is None
