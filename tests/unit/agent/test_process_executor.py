"""run_process: process groups, streamed and masked logs, outputs, limits, timeout and cancel."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.agent.executors import process
from conveyor.agent.executors.process import ProcessResult, ProcessSpec, run_process
from conveyor.security.masking import Masker


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie waiting for init to reap it counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


def _gone(*pids: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Log:
    """Collects batches and checks they all come from one thread."""

    def __init__(self) -> None:
        self.batches: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, text: str) -> None:
        self.threads.add(threading.get_ident())
        self.batches.append(text)

    @property
    def text(self) -> str:
        return "".join(self.batches)


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test started outside the step's group; killed by id at the end in any case."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def sh(command: str, **options: object) -> ProcessSpec:
    return ProcessSpec(["/bin/sh", "-c", command], env={}, **options)  # type: ignore[arg-type]


def run(spec: ProcessSpec, **options: object) -> tuple[ProcessResult, Log]:
    log = Log()
    result = run_process(spec, log, threading.Event(), **options)  # type: ignore[arg-type]
    return result, log


def test_exit_code_log_and_outputs() -> None:
    result, log = run(
        sh(
            'echo out; echo err >&2; echo "version=1.2" >> "$CONVEYOR_OUTPUT"; '
            'printf "notes<<EOF\\na\\nb\\nEOF\\n" >> "$CONVEYOR_OUTPUT"; exit 3'
        )
    )
    assert result.exit_code == 3
    assert result.error is None
    assert result.outputs == {"version": "1.2", "notes": "a\nb"}
    assert log.text == "out\nerr\n"
    assert result.log_bytes == len("out\nerr\n")
    assert not result.succeeded([0])
    assert result.succeeded([3])


def test_output_file_is_removed_after_the_step(tmp_path: Path) -> None:
    record = tmp_path / "path"
    result, _ = run(sh(f'echo "$CONVEYOR_OUTPUT" > {record}'))
    assert result.exit_code == 0
    path = record.read_text().strip()
    assert path
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_bad_output_file_is_an_error() -> None:
    result, _ = run(sh('echo "no equals sign" >> "$CONVEYOR_OUTPUT"'))
    assert result.exit_code == 0
    assert result.error is not None
    assert result.error.startswith("bad output file: Line 1 ")
    assert not result.succeeded([0])


def test_environment_is_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_SECRET_KEY", "agent-only")
    monkeypatch.setenv("HOME", "/home/someone")
    spec = ProcessSpec(
        ["/bin/sh", "-c", 'echo "[$CONVEYOR_SECRET_KEY][$HOME][$MINE][${PATH:+path}]"'],
        env={"MINE": "x y"},
    )
    result, log = run(spec)
    assert result.exit_code == 0
    assert log.text == "[][/home/someone][x y][path]\n"


def test_cwd_and_stdin_script(tmp_path: Path) -> None:
    spec = ProcessSpec(["/bin/sh", "-s"], env={}, cwd=str(tmp_path), stdin_text="pwd\necho ok\n")
    result, log = run(spec)
    assert result.exit_code == 0
    assert log.text == f"{os.path.realpath(tmp_path)}\nok\n"


def test_stdin_is_dev_null_by_default() -> None:
    result, log = run(sh("cat; echo end"))
    assert result.exit_code == 0
    assert log.text == "end\n"


def test_large_stdin_not_read_by_the_child_does_not_block() -> None:
    spec = ProcessSpec(["/bin/sh", "-c", "exit 0"], env={}, stdin_text="x" * 1_000_000)
    started = time.monotonic()
    result, _ = run(spec)
    assert result.exit_code == 0
    assert time.monotonic() - started < 5


def test_could_not_start() -> None:
    result, log = run(ProcessSpec(["/nonexistent/tool"], env={}))
    assert result.exit_code is None
    assert result.error is not None
    assert result.error.startswith("could not start: ")
    assert "/nonexistent/tool" in result.error
    assert log.batches == []


def test_missing_cwd_could_not_start() -> None:
    result, _ = run(ProcessSpec(["/bin/true"], env={}, cwd="/nonexistent/dir"))
    assert result.exit_code is None
    assert result.error is not None
    assert "could not start" in result.error


def test_killed_by_own_signal_reports_128_plus_signal() -> None:
    result, _ = run(sh("kill -KILL $$"))
    assert result.exit_code == 128 + signal.SIGKILL
    assert result.error == "terminated by signal SIGKILL"


def test_nul_and_invalid_utf8_become_replacement_characters() -> None:
    result, log = run(sh(r"printf 'a\000b\377c\n'"))
    assert result.exit_code == 0
    assert log.text == "a\ufffdb\ufffdc\n"


def test_multibyte_characters_split_across_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "READ_CHUNK", 1)
    result, log = run(sh("printf 'héllo ✓\\n'"))
    assert result.exit_code == 0
    assert log.text == "héllo ✓\n"


def test_secrets_are_masked_in_log_outputs_and_error() -> None:
    masker = Masker(["hunter2"])
    spec = ProcessSpec(
        ["/bin/sh", "-c", 'echo "pw=$PW"; echo "p=$PW" >> "$CONVEYOR_OUTPUT"'],
        env={"PW": "hunter2"},
    )
    result, log = run(spec, masker=masker)
    assert log.text == "pw=***\n"
    assert result.outputs == {"p": "***"}


def test_a_secret_never_straddles_two_batches() -> None:
    # The first half is printed, then a pause longer than the flush interval: without holding
    # the partial line back, "hunt" would be shipped alone and escape the mask.
    spec = sh("printf 'x hunt'; sleep 0.3; printf 'er2 y\\nnext\\n'")
    result, log = run(spec, masker=Masker(["hunter2"]), flush_interval=0.02)
    assert result.exit_code == 0
    assert log.text == "x *** y\nnext\n"
    assert "hunt" not in "".join(log.batches)


def test_batches_are_cut_at_line_ends_and_flushed_by_time() -> None:
    spec = sh("echo one; sleep 0.3; echo two")
    result, log = run(spec, flush_interval=0.05)
    assert result.exit_code == 0
    assert log.batches == ["one\n", "two\n"]


def test_twenty_megabytes_stream_in_many_bounded_batches() -> None:
    size = 20 * 1024 * 1024
    spec = sh(f"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {size}")
    result, log = run(spec, flush_bytes=256 * 1024)
    assert result.exit_code == 0
    assert result.log_bytes == size
    assert sum(len(batch) for batch in log.batches) == size
    assert len(log.batches) > 40
    # Streamed, never accumulated: no batch is much larger than flush_bytes.
    assert max(len(batch) for batch in log.batches) <= 256 * 1024 + process.READ_CHUNK
    assert all(batch.endswith("\n") for batch in log.batches[:-1])
    assert len(log.threads) == 1
    assert threading.get_ident() not in log.threads


def test_log_limit_truncates_with_one_marker_and_drains() -> None:
    spec = ProcessSpec(
        [
            "/bin/sh",
            "-c",
            "yes 'line of output' | head -c 1000000; echo done=1 >> $CONVEYOR_OUTPUT",
        ],
        env={},
        log_limit=1000,
    )
    result, log = run(spec, flush_bytes=100)
    assert result.exit_code == 0
    assert result.outputs == {"done": "1"}
    assert result.log_bytes == 1_000_000
    assert log.text.count("[conveyor: log truncated after 1000 bytes]") == 1
    assert log.text.endswith("[conveyor: log truncated after 1000 bytes]\n")
    kept = log.text.removesuffix("[conveyor: log truncated after 1000 bytes]\n")
    assert len(kept) <= 1000
    assert set(kept.splitlines()) == {"line of output"}


def test_on_log_failure_keeps_draining_and_is_reported() -> None:
    calls: list[str] = []

    def failing(text: str) -> None:
        calls.append(text)
        raise RuntimeError("store is down")

    spec = sh("echo one; sleep 0.2; yes | head -c 300000; echo a=1 >> $CONVEYOR_OUTPUT")
    result = run_process(spec, failing, threading.Event(), flush_interval=0.02)
    assert len(calls) == 1
    assert result.exit_code == 0
    assert result.outputs == {"a": "1"}
    assert result.error == "log shipping failed: store is down"
    assert result.log_bytes == 4 + 300000


def test_timeout_kills_the_whole_group() -> None:
    spec = sh("sleep 100 & echo child=$! shell=$$; sleep 100", timeout=0.5)
    started = time.monotonic()
    result, log = run(spec)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.exit_code is None
    assert result.error == "timed out after 0.5s"
    assert elapsed < 3
    pids = [int(pid) for pid in re.findall(r"=(\d+)", log.text)]
    assert len(pids) == 2
    assert _gone(*pids)


def test_sigterm_ignored_gets_sigkill_after_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "KILL_GRACE_SECONDS", 0.3)
    spec = sh("trap '' TERM; sleep 100 & echo child=$!; sleep 100", timeout=0.3)
    started = time.monotonic()
    result, log = run(spec)
    assert result.timed_out
    assert time.monotonic() - started < 2
    assert _gone(int(log.text.split("=")[1]))


def test_cancel_from_another_thread() -> None:
    cancel = threading.Event()
    log = Log()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        result = run_process(sh("echo child=$$; sleep 100"), log, cancel)
    finally:
        timer.cancel()
        timer.join()
    assert result.cancelled
    assert not result.timed_out
    assert result.exit_code is None
    assert result.error == "cancelled"
    assert time.monotonic() - started < 3
    assert log.text.startswith("child=")
    assert _gone(int(log.text.split("=")[1]))


def test_cancelled_before_start_runs_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    marker = tmp_path / "ran"
    result = run_process(sh(f"touch {marker}"), Log(), cancel)
    assert result.cancelled
    assert not marker.exists()


def test_backgrounded_leftover_is_killed_when_the_step_ends() -> None:
    started = time.monotonic()
    result, log = run(sh("sleep 100 & echo child=$!"))
    assert result.exit_code == 0
    assert time.monotonic() - started < 3
    assert _gone(int(log.text.split("=")[1]))


def test_escaped_child_holding_the_pipe_does_not_hang_the_step(
    monkeypatch: pytest.MonkeyPatch, leftovers: list[int]
) -> None:
    monkeypatch.setattr(process, "PIPE_DRAIN_SECONDS", 0.2)
    code = "import os, time; os.setsid(); print(os.getpid(), flush=True); time.sleep(30)"
    escape = f"{sys.executable} -c '{code}'"
    started = time.monotonic()
    result, log = run(sh(f"{escape} & sleep 0.3; echo end"))
    leftovers.extend(int(word) for word in log.text.split() if word.isdigit())
    assert result.exit_code == 0
    assert time.monotonic() - started < 3
    assert "end\n" in log.text
    assert "stopped reading the log" in log.text


def test_a_line_longer_than_a_batch_is_not_held_back_forever() -> None:
    result, log = run(sh("head -c 300000 /dev/zero | tr '\\0' x; sleep 0.3"), flush_bytes=1000)
    assert result.exit_code == 0
    assert log.text == "x" * 300000
    # Read sizes vary with load; what matters is that the line is shipped in pieces.
    assert len(log.batches) > 1
