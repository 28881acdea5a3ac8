"""Text from steps shown safely in a terminal: colours kept, other control sequences defused."""

from __future__ import annotations

import re

# SGR (colour) sequences are harmless and useful; anything else (cursor moves, window titles,
# OSC 52 clipboard writes, ...) could let a log line rewrite what the reader sees.
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def safe_for_terminal(text: str) -> str:
    """Keep colour sequences, show other control characters as visible escapes."""
    parts = _SGR.split(text)
    colours = _SGR.findall(text)
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", part))
        if i < len(colours):
            out.append(colours[i])
    return "".join(out)
