"""HTTP steps: one request through httpx, reported like a process (`ProcessResult`).

Outputs are ``status`` (the code as text) and ``body`` (text, at most `HttpRequest.max_body`
bytes). Headers are never logged: they usually carry tokens. Only http and https URLs are
accepted, and redirects are not followed, so a step gets exactly the URL its definition names
(a 3xx status fails the step unless listed in `expect_status`).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from conveyor.agent.executors.process import ProcessResult
from conveyor.security.masking import MASK, Masker

ALLOWED_SCHEMES = frozenset({"http", "https"})
_METHOD = re.compile(r"[A-Za-z]{1,20}")
_INDEX = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class HttpRequest:
    """An already-rendered HTTP request. Give `body` (text) or `json_body`, not both.

    `timeout` bounds the whole exchange in seconds (None: no limit); the step succeeds when the
    status is in `expect_status`; at most `max_body` bytes of the response body are kept.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: str | None = None
    json_body: Any = None
    timeout: float | None = 30.0
    expect_status: Sequence[int] = (200, 201, 202, 203, 204)
    max_body: int = 1024 * 1024


class _Exchange:
    """The request, run in a worker thread so that cancel and timeout never wait on the network."""

    def __init__(self, req: HttpRequest) -> None:
        self.req = req
        self.done = threading.Event()
        self.stop = threading.Event()
        self.status = 0
        self.reason = ""
        self.encoding = "utf-8"
        self.body = b""
        self.truncated = False
        self.timed_out = False
        self.error: str | None = None

    def run(self) -> None:
        """Thread body: perform the request; every failure becomes `error`, never an exception."""
        try:
            self._request()
        except httpx.TimeoutException:
            self.timed_out = True
        except httpx.HTTPError as exc:
            self.error = _describe(exc, self.req.url)
        except Exception as exc:  # thread boundary: report, do not crash the worker silently
            self.error = f"the HTTP request failed: {_first_line(exc)}"
        finally:
            self.done.set()

    def _request(self) -> None:
        req = self.req
        with (
            httpx.Client(timeout=req.timeout, follow_redirects=False) as client,
            client.stream(
                req.method.upper(),
                req.url,
                headers=dict(req.headers),
                content=req.body,
                json=req.json_body,
            ) as response,
        ):
            self.status, self.reason = response.status_code, response.reason_phrase
            self.encoding = response.encoding or "utf-8"
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if self.stop.is_set():
                    return
                room = max(0, req.max_body - size)
                if len(chunk) > room:
                    chunks.append(chunk[:room])
                    self.truncated = True
                    break  # leaving the block closes the response: the rest is never read
                chunks.append(chunk)
                size += len(chunk)
            self.body = b"".join(chunks)

    def text(self) -> str:
        """The body as text; undecodable bytes and NUL become U+FFFD."""
        try:
            text = self.body.decode(self.encoding, errors="replace")
        except LookupError:  # an unknown charset in Content-Type
            text = self.body.decode("utf-8", errors="replace")
        return text.replace("\x00", "\ufffd")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(exc: httpx.HTTPError, url: str) -> str:
    host = httpx.URL(url).host
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {host}: {_first_line(exc)}"
    return f"the HTTP request to {host} failed: {_first_line(exc)}"


def _refusal(req: HttpRequest) -> str | None:
    """Why the request cannot be sent, or None."""
    if not _METHOD.fullmatch(req.method):
        return f"{req.method[:20]!r} is not an HTTP method"
    try:
        url = httpx.URL(req.url)
    except httpx.InvalidURL as exc:
        return f"the URL is invalid: {_first_line(exc)}"
    if url.scheme not in ALLOWED_SCHEMES:
        # file:, ftp:, gopher:... could read local files or reach odd services (SSRF).
        return f"the URL scheme {url.scheme!r} is refused: only http and https are allowed"
    if not url.host:
        return "the URL has no host"
    if req.body is not None and req.json_body is not None:
        return "an HTTP step takes a body or a JSON body, not both"
    return None


def _shown_url(url: str) -> str:
    """The URL for the log, with any password in it replaced by the mask."""
    parsed = httpx.URL(url)
    if not parsed.password:
        return url
    return str(parsed.copy_with(username=parsed.username, password=MASK))


def _await(exchange: _Exchange, timeout: float | None, cancel: threading.Event) -> str:
    """Wait for the exchange; return "done", "timeout" or "cancelled"."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not exchange.done.wait(0.02):
        if cancel.is_set():
            return "cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
    return "timeout" if exchange.timed_out else "done"


def run_http(
    req: HttpRequest,
    on_log: Callable[[str], None],
    cancel: threading.Event,
    masker: Masker | None = None,
) -> ProcessResult:
    """Send the request and report it as a step: exit code 0 when the status is expected, else 1.

    Network failures give exit code None and a one-sentence error; so do timeout and cancel
    (which return at once, leaving the worker thread to end on its own within `timeout`).
    Logged: the request line and the response status and size, masked; never headers.
    """
    mask: Callable[[str], str] = masker.mask if masker is not None else str
    log_errors: list[str] = []

    def log(line: str) -> None:
        if log_errors:
            return
        try:
            on_log(mask(line) + "\n")
        except Exception as exc:  # the caller's sink failed: report it once, go on
            log_errors.append(f"log shipping failed: {_first_line(exc)}")

    def result(
        code: int | None, outputs: dict[str, str], error: str | None, **flags: bool
    ) -> ProcessResult:
        text = "; ".join(part for part in (error, *log_errors) if part) or None
        return ProcessResult(code, outputs, error=mask(text) if text else None, **flags)

    refusal = _refusal(req)
    if refusal is not None:
        return result(None, {}, refusal)
    if cancel.is_set():
        return result(None, {}, "cancelled before it started", cancelled=True)
    log(f"{req.method.upper()} {_shown_url(req.url)}")
    exchange = _Exchange(req)
    threading.Thread(target=exchange.run, name="conveyor-http", daemon=True).start()
    outcome = _await(exchange, req.timeout, cancel)
    if outcome != "done":
        exchange.stop.set()
        timed_out = outcome == "timeout"
        error = f"timed out after {req.timeout or 0:g}s" if timed_out else "cancelled"
        log(f"[conveyor: {error}]")
        return result(None, {}, error, timed_out=timed_out, cancelled=not timed_out)
    if exchange.error is not None:
        log(f"[conveyor: {exchange.error}]")
        return result(None, {}, exchange.error)
    return _answer(exchange, log, result, mask)


def _answer(
    exchange: _Exchange,
    log: Callable[[str], None],
    result: Callable[..., ProcessResult],
    mask: Callable[[str], str],
) -> ProcessResult:
    req, status = exchange.req, exchange.status
    log(f"HTTP {status} {exchange.reason}, {len(exchange.body)} bytes")
    if exchange.truncated:
        log(f"[conveyor: response body truncated to {req.max_body} bytes]")
    outputs = {"status": str(status), "body": mask(exchange.text())}
    if status in req.expect_status:
        return result(0, outputs, None)
    expected = ", ".join(str(code) for code in req.expect_status)
    return result(1, outputs, f"HTTP {status} is not one of {expected}")


_UNPARSABLE = object()


@functools.lru_cache(maxsize=8)
def _parse(body: str) -> Any:
    # Cached: a later step may read many fields of the same (up to 1 MiB) body.
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _UNPARSABLE


def json_path(body: str, path: str) -> str | None:
    """Walk `path` (``a.b.0.c``; "" for the whole document) into the JSON text `body`.

    Returns strings as they are, other scalars and objects/lists as compact JSON text
    (``true``, ``null``, ``1.5``, ``{"a":1}``), or None when the body is not JSON or the path
    leads nowhere.
    """
    value = _parse(body)
    if value is _UNPARSABLE:
        return None
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and _INDEX.fullmatch(part) and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
