"""Rendering templates into shell commands with quoting that fits where each value lands.

A placeholder may stand outside quotes, inside '…' or inside "…" (also inside `$(…)` or
backticks nested in them). A plain single-quoted value is only safe outside quotes: inside '…'
it would close the user's quote and run as code. So the command is lexed just enough to know the
quoting context at each placeholder, and the value is spliced in by leaving that context, adding
the single-quoted value, and re-entering it. The result is correct in every context it knows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from conveyor.definitions.templates import Ref, Template, shell_quote

NORMAL, SINGLE, DOUBLE = "normal", "single", "double"


@dataclass
class _Frame:
    kind: str
    depth: int = 0


@dataclass
class _Lexer:
    """Tracks the quoting context through literal text. A stack, because `$(…)` and backticks
    open a fresh unquoted context even inside double quotes."""

    stack: list[_Frame] = field(default_factory=lambda: [_Frame(NORMAL)])
    escaped: bool = False

    @property
    def context(self) -> str:
        return self.stack[-1].kind

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            i = self._step(text, i)

    def _step(self, text: str, i: int) -> int:
        char = text[i]
        frame = self.stack[-1]
        if self.escaped:
            self.escaped = False
            return i + 1
        if frame.kind == SINGLE:
            if char == "'":
                self.stack.pop()
            return i + 1
        if char == "\\":
            self.escaped = True
            return i + 1
        if char == "`":
            if frame.kind == "backtick":
                self.stack.pop()
            else:
                self.stack.append(_Frame("backtick"))
            return i + 1
        if text.startswith("$(", i):
            self.stack.append(_Frame("subst", 1))
            return i + 2
        return self._quote_or_paren(frame, char, i)

    def _quote_or_paren(self, frame: _Frame, char: str, i: int) -> int:
        if char == '"':
            if frame.kind == DOUBLE:
                self.stack.pop()
            else:
                self.stack.append(_Frame(DOUBLE))
        elif char == "'" and frame.kind != DOUBLE:
            self.stack.append(_Frame(SINGLE))
        elif frame.kind == "subst" and char in "()":
            frame.depth += 1 if char == "(" else -1
            if frame.depth == 0:
                self.stack.pop()
        return i + 1


def render_shell(template: Template, value_of: Callable[[Ref], tuple[str, bool]]) -> str:
    """Join the template's literals with each value quoted for its context. `value_of` returns
    (text, is_raw): raw text is single-quoted here; otherwise the text is a ready-made word for an
    unquoted context (a secret's `"${VAR}"` reference) and only the context is fitted around it."""
    lexer = _Lexer()
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            lexer.feed(part)
            continue
        if lexer.escaped:
            # The backslash would escape the value's opening quote and let the rest run.
            raise ValueError(f"placeholder {{{part.text}}} follows a backslash; remove it")
        text, is_raw = value_of(part)
        word = shell_quote(text) if is_raw else text
        out.append(_splice(word, lexer))
    return "".join(out)


def _splice(word: str, lexer: _Lexer) -> str:
    if any(frame.kind == "backtick" for frame in lexer.stack):
        # Inside backticks the shell first strips one level of backslashes and ends the
        # substitution at the next backtick, so those must be escaped once more.
        word = word.replace("\\", "\\\\").replace("`", "\\`").replace("$", "\\$")
    if lexer.context == SINGLE:
        return "'" + word + "'"
    if lexer.context == DOUBLE:
        return '"' + word + '"'
    return word
