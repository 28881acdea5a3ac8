"""The $CONVEYOR_OUTPUT file format: KEY=VALUE lines and KEY<<DELIM blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.agent.executors import outputs
from conveyor.agent.executors.outputs import (
    OutputFormatError,
    parse_output_file,
    read_output_file,
)


def test_key_value_lines_and_equals_in_value() -> None:
    text = "version=1.2\nurl=https://x/?a=b&c=d\nempty=\n"
    assert parse_output_file(text) == {
        "version": "1.2",
        "url": "https://x/?a=b&c=d",
        "empty": "",
    }


def test_heredoc_block_excludes_final_newline() -> None:
    text = "notes<<EOF\nline one\n\nline=three\nEOF\nafter=1\n"
    assert parse_output_file(text) == {"notes": "line one\n\nline=three", "after": "1"}


def test_empty_heredoc_and_crlf() -> None:
    assert parse_output_file("a<<X\r\nX\r\nb=2\r\n") == {"a": "", "b": "2"}


def test_later_assignment_wins_and_blank_lines_are_ignored() -> None:
    assert parse_output_file("a=1\n\n   \na=2\n") == {"a": "2"}


def test_key_charset() -> None:
    assert parse_output_file("_a.b-c9=1") == {"_a.b-c9": "1"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a=1\njust words\n", 2),
        ("9a=1\n", 1),
        ("a b=1\n", 1),
        ("=1\n", 1),
        ("a<<\n", 1),
    ],
)
def test_malformed_line_names_its_number(text: str, line: int) -> None:
    with pytest.raises(OutputFormatError, match=f"Line {line} "):
        parse_output_file(text)


def test_unterminated_heredoc_is_refused() -> None:
    with pytest.raises(OutputFormatError, match=r"line 2 .* never closed"):
        parse_output_file("a=1\nb<<END\nx\nEN\n")


def test_error_never_quotes_a_value() -> None:
    with pytest.raises(OutputFormatError) as info:
        parse_output_file("token hunter2\n")
    assert "hunter2" not in str(info.value)


def test_is_a_value_error() -> None:
    assert issubclass(OutputFormatError, ValueError)


def test_size_and_key_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "MAX_OUTPUT_KEYS", 3)
    monkeypatch.setattr(outputs, "MAX_OUTPUT_BYTES", 100)
    assert len(parse_output_file("a=1\nb=2\nc=3\na=4\n")) == 3
    with pytest.raises(OutputFormatError, match="more than 3 keys"):
        parse_output_file("a=1\nb=2\nc=3\nd=4\n")
    with pytest.raises(OutputFormatError, match="larger than 100 bytes"):
        parse_output_file("a=" + "x" * 100)


def test_read_output_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out"
    assert read_output_file(str(path)) == {}
    path.write_bytes(b"a=x\x00y\xff\n")
    assert read_output_file(str(path)) == {"a": "x\ufffdy\ufffd"}
    monkeypatch.setattr(outputs, "MAX_OUTPUT_BYTES", 10)
    path.write_bytes(b"a=" + b"x" * 20)
    with pytest.raises(OutputFormatError, match="larger than 10 bytes"):
        read_output_file(str(path))
