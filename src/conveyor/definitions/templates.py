"""Placeholders (SPEC section 3): text with `{name}` holes, parsed into data, never evaluated.

A template is a tuple of literal strings and `Ref`s. Rendering substitutes each value once, so a
value that itself contains `{x}` stays literal text: values can never smuggle in placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class TemplateSyntaxError(ValueError):
    """A template's braces or placeholder names are malformed; the message is one sentence."""


@dataclass(frozen=True)
class Ref:
    """A placeholder's name split into its parts: `{steps.b.outputs.k}` -> ("steps", "b", ...)."""

    path: tuple[str, ...]

    @property
    def text(self) -> str:
        """The dotted name as written between the braces."""
        return ".".join(self.path)


def parse_ref(name: str) -> Ref:
    """Turn the text between braces into a `Ref`, refusing characters outside [A-Za-z0-9_.-]."""
    if not name:
        raise TemplateSyntaxError("a placeholder {} needs a name between the braces")
    if not _NAME.fullmatch(name):
        raise TemplateSyntaxError(
            f"placeholder {{{name[:60]}}} may only hold letters, digits, '_', '-' and '.'"
        )
    parts = name.split(".")
    # Output keys may themselves be dotted (`json.data.id`), so everything after
    # `outputs` stays one element: the key is looked up as a whole.
    if len(parts) > 4 and parts[0] == "steps" and parts[2] == "outputs":
        parts = [*parts[:3], ".".join(parts[3:])]
    if any(not part for part in parts):
        raise TemplateSyntaxError(f"placeholder {{{name}}} has an empty part between dots")
    return Ref(tuple(parts))


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and `Ref`s in source order."""

    source: str
    parts: tuple[str | Ref, ...]

    @cached_property
    def refs(self) -> tuple[Ref, ...]:
        """The placeholders in order of appearance (repeats kept)."""
        return tuple(part for part in self.parts if isinstance(part, Ref))

    @property
    def is_single_ref(self) -> bool:
        """True when the template is exactly one placeholder and nothing else."""
        return len(self.parts) == 1 and isinstance(self.parts[0], Ref)


@lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse `text`; `{{` and `}}` are literal braces. Raises `TemplateSyntaxError`."""
    parts: list[str | Ref] = []
    literal: list[str] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char in "{}" and text.startswith(char * 2, i):
            literal.append(char)
            i += 2
        elif char == "}":
            raise TemplateSyntaxError(
                f"a '}}' at position {i + 1} closes nothing; write '}}}}' for a literal brace"
            )
        elif char == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise TemplateSyntaxError(
                    f"the '{{' at position {i + 1} is never closed; "
                    "write '{{' for a literal brace"
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(parse_ref(text[i + 1 : end]))
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def render(template: Template, resolve: Callable[[Ref], str]) -> str:
    """Join the literals with `resolve(ref)` for each placeholder; values are not re-parsed."""
    return "".join(part if isinstance(part, str) else resolve(part) for part in template.parts)


def escape(text: str) -> str:
    """Make `text` a template that renders to itself (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def unparse(parts: tuple[str | Ref, ...] | list[str | Ref]) -> str:
    """Write parts back as template source: the inverse of `parse_template`."""
    return "".join(escape(p) if isinstance(p, str) else "{" + p.text + "}" for p in parts)


def shell_quote(value: str) -> str:
    """Quote `value` as one POSIX sh word: single quotes, with `'` written as `'"'"'`."""
    return "'" + value.replace("'", "'\"'\"'") + "'"
