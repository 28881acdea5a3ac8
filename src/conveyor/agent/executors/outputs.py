"""Parse the file a step writes its outputs to (``$CONVEYOR_OUTPUT``).

The format is GitHub Actions' ``$GITHUB_OUTPUT``, so step authors already know it::

    version=1.2.3
    url=https://example.com/?a=b        <- the value is everything after the first "="
    notes<<EOF
    line one
    line two
    EOF
"""

from __future__ import annotations

import re

from conveyor.errors import ConveyorError

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_OUTPUT_KEYS = 1000

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class OutputFormatError(ConveyorError, ValueError):
    """The output file is malformed; the message is one sentence naming the line."""


def _split_lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also cut values at \x0b, \x1c, U+2028 and such,
    # which may legitimately appear inside a value. "\r\n" files (Windows tools) are accepted.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _check_key(key: str, number: int) -> str:
    if not _KEY.fullmatch(key):
        raise OutputFormatError(
            f"Line {number} of the output file has an invalid key {key[:40]!r}: "
            "a key starts with a letter or _ and holds letters, digits, _, . and -."
        )
    return key


def parse_output_file(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines and ``KEY<<DELIM`` … ``DELIM`` blocks into a dict.

    Later assignments of a key win; blank lines are ignored. A block's value is its lines joined
    by newlines (without the newline before the delimiter). Raises `OutputFormatError` for a line
    that is neither form, a bad key, an unterminated block, more than `MAX_OUTPUT_BYTES` of text or
    more than `MAX_OUTPUT_KEYS` keys. Messages name the line but never quote a value: it may
    hold a secret.
    """
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_OUTPUT_BYTES:
        raise OutputFormatError(f"The output file is larger than {MAX_OUTPUT_BYTES} bytes.")
    outputs: dict[str, str] = {}
    lines = _split_lines(text)
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        index += 1
        if not line.strip():
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals > 0 and (heredoc < 0 or equals < heredoc):
            key, value = line[:equals], line[equals + 1 :]
        elif heredoc > 0:
            key, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not delimiter.strip():
                raise OutputFormatError(f"Line {number} of the output file has no delimiter.")
            end = _find_delimiter(lines, index, delimiter)
            if end < 0:
                raise OutputFormatError(
                    f"The block started on line {number} of the output file "
                    "is never closed by its delimiter."
                )
            value, index = "\n".join(lines[index:end]), end + 1
        else:
            raise OutputFormatError(
                f"Line {number} of the output file is neither KEY=VALUE nor KEY<<DELIMITER."
            )
        outputs[_check_key(key, number)] = value
        if len(outputs) > MAX_OUTPUT_KEYS:
            raise OutputFormatError(f"The output file sets more than {MAX_OUTPUT_KEYS} keys.")
    return outputs


def _find_delimiter(lines: list[str], start: int, delimiter: str) -> int:
    for position in range(start, len(lines)):
        if lines[position] == delimiter:
            return position
    return -1


def read_output_file(path: str) -> dict[str, str]:
    """Read and parse the output file at `path`; a missing or empty file means no outputs.

    The size is checked before reading, so a step cannot make the agent load a huge file.
    Invalid UTF-8 becomes U+FFFD, and so does NUL (PostgreSQL text cannot hold it).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_OUTPUT_BYTES + 1)
    except FileNotFoundError:
        return {}
    if len(data) > MAX_OUTPUT_BYTES:
        raise OutputFormatError(f"The output file is larger than {MAX_OUTPUT_BYTES} bytes.")
    text = data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return parse_output_file(text)


__all__ = [
    "MAX_OUTPUT_BYTES",
    "MAX_OUTPUT_KEYS",
    "OutputFormatError",
    "parse_output_file",
    "read_output_file",
]
