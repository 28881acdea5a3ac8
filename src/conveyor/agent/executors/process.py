"""Run one step's process: its own process group, a streamed log, outputs, timeout and cancel.

The process gets a minimal environment, never the agent's own: the agent's environment holds
``CONVEYOR_DB``, ``CONVEYOR_SECRET_KEY`` and ``CONVEYOR_TOKEN``, which a step must not read.
Inherited are only `INHERITED_ENV` and the locale (``LANG``, ``LC_*``) when the agent has them;
``PATH`` falls back to `os.defpath`. `ProcessSpec.env` goes on top, ``CONVEYOR_OUTPUT`` last.

Whatever happens, every process left in the step's group is terminated when the step ends, and
the wait for the log pipe is bounded, so a backgrounded child can neither outlive the step nor
keep it open forever.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass

from conveyor.agent.executors.outputs import OutputFormatError, read_output_file
from conveyor.security.masking import Masker

INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ")
INHERITED_ENV_PREFIXES = ("LANG", "LC_")  # locale: LANG, LANGUAGE, LC_ALL, LC_CTYPE...
KILL_GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL of the group
PIPE_DRAIN_SECONDS = 1.0  # how long the log pipe may stay open once the group is gone
READ_CHUNK = 64 * 1024
_POLL_SECONDS = 0.1  # how often the log reader looks at its stop flag while the pipe is idle
_CANCEL_CHECK_SECONDS = 0.05  # how soon a cancel is seen while a pidfd waits for the exit


@dataclass(frozen=True)
class ProcessSpec:
    """What to run: an argv (``["/bin/sh", "-c", command]`` or a plain argv) and its settings.

    `env` is added on top of the minimal inherited environment (see the module docstring).
    `timeout` is in seconds; on expiry the whole process group is killed. `stdin_text` is fed
    on stdin (scripts), else stdin is /dev/null. At most `log_limit` bytes of log are kept.
    """

    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | None = None
    timeout: float | None = None
    stdin_text: str | None = None
    log_limit: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class ProcessResult:
    """How a step's process (or HTTP request) ended.

    `exit_code` is None when the process was killed (timeout, cancel) or could not start; a
    process killed by a signal it did not get from us reports ``128 + signal`` as shells do.
    `error` is one sentence when something beyond the exit code went wrong (timeout, bad output
    file, log shipping failed...); a step with an error has failed. `log_bytes` counts every byte
    the step wrote, including those dropped beyond the log limit.
    """

    exit_code: int | None
    outputs: dict[str, str]
    timed_out: bool = False
    cancelled: bool = False
    error: str | None = None
    log_bytes: int = 0

    def succeeded(self, success_codes: Container[int]) -> bool:
        """True when there is no error and the exit code is one of `success_codes`."""
        return self.error is None and self.exit_code is not None and self.exit_code in success_codes


class _LogPump:
    """Reads the merged stdout/stderr pipe and hands masked batches to `on_log`.

    Runs in one background thread, so `on_log` is called from that thread only, in order.
    Batches are cut after a newline where possible so a secret never straddles two batches
    (masking works per batch); memory is bounded by about `flush_bytes` + `READ_CHUNK`.
    """

    def __init__(
        self,
        fd: int,
        on_log: Callable[[str], None],
        masker: Masker | None,
        flush_interval: float,
        flush_bytes: int,
        log_limit: int,
    ) -> None:
        self._fd = fd
        self._on_log = on_log
        self._masker = masker
        self._interval = flush_interval
        self._flush_bytes = max(1, flush_bytes)
        self._limit = log_limit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._pending_len = 0
        self._since = 0.0  # monotonic time of the oldest unflushed text
        self._kept = 0
        self._dropping = False
        self._log_failed = False
        self._stop = threading.Event()
        self.bytes_read = 0
        self.error: str | None = None

    def stop(self) -> None:
        """Ask the reader to end once the pipe is idle, even without end of file."""
        self._stop.set()

    def run(self) -> None:
        """Thread body: read to end of file (or until stopped and idle), then flush the rest."""
        try:
            abandoned = self._read_loop()
            if not self._dropping:
                self._append(self._decoder.decode(b"", final=True))
            if abandoned:
                self._append(
                    "\n[conveyor: stopped reading the log: a process outside the step's "
                    "group kept it open]\n"
                )
            self._emit_pending()
        except Exception as exc:  # thread boundary: a reader crash must not hang the step
            self.error = f"log reader failed: {exc}"

    def _read_loop(self) -> bool:
        poller = select.poll()  # not select.select: the agent's fds may exceed FD_SETSIZE
        poller.register(self._fd, select.POLLIN)
        while True:
            wait = _POLL_SECONDS
            if self._pending_len:
                wait = min(wait, max(0.0, self._since + self._interval - time.monotonic()))
            if poller.poll(int(wait * 1000)):
                data = os.read(self._fd, READ_CHUNK)
                if not data:
                    return False
                self._take(data)
            elif self._stop.is_set():
                return True
            self._maybe_flush()

    def _take(self, data: bytes) -> None:
        self.bytes_read += len(data)
        if self._dropping:
            return  # keep draining so the child never blocks on a full pipe
        room = self._limit - self._kept
        if len(data) <= room:
            self._kept += len(data)
            self._append(self._decoder.decode(data))
            return
        self._append(self._decoder.decode(data[:room], final=True))
        self._dropping = True
        text = "".join(self._pending)
        # Drop the partial last line: it may end in the middle of a secret.
        text = text[: text.rfind("\n") + 1]
        self._pending, self._pending_len = [], 0
        self._append(f"{text}[conveyor: log truncated after {self._limit} bytes]\n")
        self._emit_pending()

    def _append(self, text: str) -> None:
        if not text:
            return
        if not self._pending:
            self._since = time.monotonic()
        # PostgreSQL text cannot hold NUL; U+FFFD is what invalid bytes become too.
        text = text.replace("\x00", "\ufffd")
        self._pending.append(text)
        self._pending_len += len(text)

    def _maybe_flush(self) -> None:
        if not self._pending_len:
            return
        now = time.monotonic()
        if self._pending_len < self._flush_bytes and now - self._since < self._interval:
            return
        text = "".join(self._pending)
        cut = text.rfind("\n") + 1
        if len(text) - cut >= self._flush_bytes:
            cut = len(text)  # a line longer than a batch cannot be held back forever
        rest = text[cut:]
        self._pending, self._pending_len = ([rest], len(rest)) if rest else ([], 0)
        self._since = now
        if cut:
            self._emit(text[:cut])

    def _emit_pending(self) -> None:
        text = "".join(self._pending)
        self._pending, self._pending_len = [], 0
        if text:
            self._emit(text)

    def _emit(self, text: str) -> None:
        if self._log_failed:
            return
        if self._masker is not None:
            text = self._masker.mask(text)
        try:
            self._on_log(text)
        except Exception as exc:  # the caller's sink failed: keep draining, report it once
            self._log_failed = True
            self.error = f"log shipping failed: {exc}"


def _signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a member changed its user: it exists, but we cannot signal it
    return True


def _group_alive(pgid: int) -> bool:
    """True while a process of the group still runs (zombies do not count)."""
    if not _signal_group(pgid, 0):
        return False
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True  # no /proc (not Linux): the signal probe is all we have
    # Orphaned members are reaped by init, which may take a second in containers; their
    # zombies must not make every step with leftovers wait for the whole grace.
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        if int(fields[3]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM every process of the step's group, then SIGKILL what is left after the grace."""
    pgid = proc.pid  # start_new_session made the step the leader of its own group
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < deadline:
        # poll() reaps the leader; until then its zombie keeps the group (and its id) alive.
        if proc.poll() is not None and not _group_alive(pgid):
            return
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


def _wait(proc: subprocess.Popen[bytes], timeout: float | None, cancel: threading.Event) -> str:
    """Wait for the process to end; return "exited", "timeout" or "cancelled". On Linux a
    pidfd says the moment the process ends, so a short step is not held up by a polling pause."""
    deadline = None if timeout is None else time.monotonic() + timeout
    watch = _exit_watch(proc.pid)
    pause = 0.001  # without a pidfd: start with a short pause, then back off to 50 ms
    try:
        while proc.poll() is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "timeout"
            if cancel.is_set():
                return "cancelled"
            step = _CANCEL_CHECK_SECONDS if watch else pause
            step = step if remaining is None else min(step, remaining)
            if watch:
                watch[1].poll(step * 1000)
            elif cancel.wait(step):
                return "cancelled"
            pause = min(pause * 2, 0.05)
        return "exited"
    finally:
        if watch:
            os.close(watch[0])


def _exit_watch(pid: int) -> tuple[int, select.poll] | None:
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return fd, poller


def _private_file(folder: str, name: str, text: str) -> str:
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # steps may hold secrets
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _build_env(extra: Mapping[str, str], output_path: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in INHERITED_ENV or name.startswith(INHERITED_ENV_PREFIXES)
    }
    env.setdefault("PATH", os.defpath)
    env.update(extra)
    env["CONVEYOR_OUTPUT"] = output_path
    return env


def _finish(
    proc: subprocess.Popen[bytes], outcome: str, spec: ProcessSpec, output_path: str
) -> tuple[int | None, dict[str, str], str | None]:
    """Exit code, outputs and error once the process has ended."""
    if outcome != "exited":
        why = f"timed out after {spec.timeout or 0:g}s" if outcome == "timeout" else "cancelled"
        # A killed step's outputs are kept if readable, but a half-written file is no error.
        with contextlib.suppress(OutputFormatError):
            return None, read_output_file(output_path), why
        return None, {}, why
    code, error = proc.returncode, None
    if code < 0:
        number = -code
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        code, error = 128 + number, f"terminated by signal {name}"
    try:
        outputs = read_output_file(output_path)
    except OutputFormatError as exc:
        return code, {}, f"bad output file: {exc}"
    return code, outputs, error


def run_process(
    spec: ProcessSpec,
    on_log: Callable[[str], None],
    cancel: threading.Event,
    *,
    flush_interval: float = 0.1,
    flush_bytes: int = 64 * 1024,
    masker: Masker | None = None,
) -> ProcessResult:
    """Run the process of one step and return how it ended; never raises for the step's faults.

    The log (stdout and stderr merged) reaches `on_log` in masked batches, every
    `flush_interval` seconds or `flush_bytes` characters, cut at line ends. Outputs come from the
    file named by ``$CONVEYOR_OUTPUT`` and are masked too. `cancel.set()` from another thread
    kills the process group like a timeout does. Whether the step succeeded is for the caller to
    decide (`ProcessResult.succeeded`).
    """
    if cancel.is_set():
        return ProcessResult(None, {}, cancelled=True, error="cancelled before it started")
    workdir = tempfile.mkdtemp(prefix="conveyor-step-")
    try:
        output_path = _private_file(workdir, "outputs", "")
        # stdin_text goes through a file, not a pipe: nothing to feed, nothing that can block.
        stdin_path = os.devnull
        if spec.stdin_text is not None:
            stdin_path = _private_file(workdir, "stdin", spec.stdin_text)
        try:
            with open(stdin_path, "rb") as stdin:
                proc = subprocess.Popen(
                    list(spec.argv),
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    cwd=spec.cwd,
                    env=_build_env(spec.env, output_path),
                    start_new_session=True,
                )
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            where = getattr(exc, "filename", None)
            error = f"could not start: {reason}" + (f": {where}" if where else "")
            return ProcessResult(None, {}, error=masker.mask(error) if masker else error)
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        pump = _LogPump(fd, on_log, masker, flush_interval, flush_bytes, spec.log_limit)
        with proc:
            return _supervise(proc, spec, cancel, pump, output_path, masker)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _supervise(
    proc: subprocess.Popen[bytes],
    spec: ProcessSpec,
    cancel: threading.Event,
    pump: _LogPump,
    output_path: str,
    masker: Masker | None,
) -> ProcessResult:
    reader = threading.Thread(target=pump.run, name=f"conveyor-log-{proc.pid}", daemon=True)
    reader.start()
    outcome = "cancelled"
    try:
        outcome = _wait(proc, spec.timeout, cancel)
    finally:
        # Also on the normal path: leftovers of the group would hold the log pipe open.
        _terminate_group(proc)
        proc.wait()
        reader.join(PIPE_DRAIN_SECONDS)
        pump.stop()
        reader.join()
    exit_code, outputs, error = _finish(proc, outcome, spec, output_path)
    errors = "; ".join(text for text in (error, pump.error) if text) or None
    if masker is not None:
        outputs = {key: masker.mask(value) for key, value in outputs.items()}
        errors = masker.mask(errors) if errors else None
    return ProcessResult(
        exit_code,
        outputs,
        timed_out=outcome == "timeout",
        cancelled=outcome == "cancelled",
        error=errors,
        log_bytes=pump.bytes_read,
    )
