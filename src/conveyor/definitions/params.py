"""Checking param values at submit time (SPEC section 2: refused with a sentence, no run made).

Values arrive as text from the CLI and forms, or as JSON from the API; each is coerced to its
param's type and checked against its rules. Messages name the param and the rule but never the
value, so a secret cannot leak through an error.

Result shape: every declared param is present in the result; an optional param with neither a
value nor a default is `None`. For types other than string and secret an empty text counts as
no value (an empty form field), and a required param refuses it.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conveyor.definitions.models import ParamDef, ParamType
from conveyor.errors import ParamError, UsageError

MAX_VALUE_BYTES = 64 * 1024
_INT = re.compile(r"[+-]?\d{1,30}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}

Value = str | int | float | bool | list[str] | None


class _Refused(Exception):
    """A value broke a rule; carries the rule's wording, completed with the param's name."""


def check_values(
    defs: Sequence[ParamDef], raw: Mapping[str, Any], *, what: str = "param"
) -> dict[str, Value]:
    """Coerce and check `raw` against `defs`; raises `ParamError` naming the param and the rule.

    `what` names the kind of input in messages ("param", or "field" for manual steps).
    """
    known = {d.name for d in defs}
    unknown = sorted(name for name in raw if name not in known)
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        raise ParamError(f"unknown {what} {names}")
    return {d.name: check_value(d, raw.get(d.name), what=what) for d in defs}


def check_value(definition: ParamDef, value: Any, *, what: str = "param") -> Value:
    """Coerce and check one value (None when absent) against its definition."""
    try:
        if _missing(definition, value):
            if definition.default is not None:
                return _checked(definition, definition.default)
            if definition.required:
                raise _Refused("is required")
            return None
        return _checked(definition, value)
    except _Refused as exc:
        raise ParamError(f"{what} '{definition.name}' {exc}") from None


def _missing(definition: ParamDef, value: Any) -> bool:
    if value is None:
        return True
    if value == "" or value == []:
        # An empty text is a real value only for text types that are not required.
        texty = definition.type in {ParamType.STRING, ParamType.SECRET}
        return not texty or definition.required
    return False


def _checked(definition: ParamDef, value: Any) -> Value:
    _check_size(value)
    coerced = _COERCE[definition.type](definition, value)
    _check_rules(definition, coerced)
    return coerced


def _check_size(value: Any) -> None:
    texts = value if isinstance(value, list | tuple) else [value]
    total = 0
    for text in texts:
        if isinstance(text, str):
            if "\x00" in text:
                raise _Refused("must not contain NUL characters")
            total += len(text.encode("utf-8", "surrogatepass"))
    if total > MAX_VALUE_BYTES:
        raise _Refused("must not be longer than 64 KiB")


# -- coercion by type ---------------------------------------------------------------------------


def _text(definition: ParamDef, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Refused("must be a text")


def _int(definition: ParamDef, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    raise _Refused("must be a whole number")


def _float(definition: ParamDef, value: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) < 100:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _Refused("must be a number")
    return number


def _bool(definition: ParamDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Refused("must be true or false (or yes/no, 1/0)")


def _choice(definition: ParamDef, value: Any) -> Value:
    for choice in definition.choices or []:
        # Choices written in YAML may be numbers while values arrive as text.
        if value == choice or (not isinstance(value, bool) and str(value) == str(choice)):
            return choice if isinstance(choice, str | int | float) else str(choice)
    raise _Refused(f"must be one of {_choices_text(definition)}")


def _list(definition: ParamDef, value: Any) -> list[str]:
    if isinstance(value, str):
        value = parse_list_text(value)
    if not isinstance(value, list | tuple):
        raise _Refused("must be a list")
    items: list[str] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _Refused("must be a list of texts")
        items.append(str(item))
    return items


def parse_list_text(text: str) -> list[Any]:
    """A JSON array text (`["a", "b"]`) or a comma-separated text (`a, b`) as a list."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            raise _Refused("must be a JSON array or comma-separated values") from None
        if not isinstance(parsed, list):
            raise _Refused("must be a JSON array or comma-separated values")
        return parsed
    return [item.strip() for item in stripped.split(",") if item.strip()]


def _date(definition: ParamDef, value: Any) -> str:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Refused("must be a date written YYYY-MM-DD")


_COERCE: dict[ParamType, Callable[[ParamDef, Any], Value]] = {
    ParamType.STRING: _text,
    ParamType.SECRET: _text,
    ParamType.INT: _int,
    ParamType.FLOAT: _float,
    ParamType.BOOL: _bool,
    ParamType.CHOICE: _choice,
    ParamType.LIST: _list,
    ParamType.DATE: _date,
}


# -- rules --------------------------------------------------------------------------------------


def _check_rules(definition: ParamDef, value: Value) -> None:
    items = value if isinstance(value, list) else [value]
    if definition.pattern is not None:
        _check_pattern(definition.pattern, items)
    if definition.choices is not None and definition.type != ParamType.CHOICE:
        allowed = {str(choice) for choice in definition.choices}
        if any(str(item) not in allowed for item in items):
            raise _Refused(f"must be one of {_choices_text(definition)}")
    _check_bounds(definition, value)


def _check_pattern(pattern: str, items: Sequence[Any]) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise _Refused(f"has a pattern that is not a valid regular expression: {pattern}") from None
    for item in items:
        if isinstance(item, str | int | float) and not compiled.fullmatch(str(item)):
            raise _Refused(f"must match {pattern}")


def _check_bounds(definition: ParamDef, value: Value) -> None:
    if isinstance(value, bool) or value is None:
        return
    measure: float = len(value) if isinstance(value, str | list) else value
    noun = "" if isinstance(value, int | float) else _length_noun(value)
    if definition.min is not None and measure < definition.min:
        raise _Refused(f"must be {noun}at least {_num(definition.min)}")
    if definition.max is not None and measure > definition.max:
        raise _Refused(f"must be {noun}at most {_num(definition.max)}")


def _length_noun(value: str | list[str]) -> str:
    return "a list of " if isinstance(value, list) else "a text of "


def _num(bound: float) -> str:
    text = str(int(bound)) if bound.is_integer() else str(bound)
    return text


def _choices_text(definition: ParamDef) -> str:
    return ", ".join(str(choice) for choice in definition.choices or [])


# -- the CLI's -p NAME=VALUE --------------------------------------------------------------------


def parse_cli_assignments(items: Sequence[str], defs: Sequence[ParamDef]) -> dict[str, Any]:
    """Turn `-p NAME=VALUE` items into raw values for `check_values`.

    A `list` param takes comma-separated values or a JSON array, and a repeated `-p` for it
    appends; any other param given twice is refused, as is an item without `=`.
    """
    types = {d.name: d.type for d in defs}
    raw: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            # The item is not echoed: it may be a secret typed without its name.
            raise UsageError("-p takes NAME=VALUE, and one item has no name or no '='")
        if types.get(name) == ParamType.LIST:
            raw.setdefault(name, []).extend(_cli_list(name, value))
        elif name in raw:
            raise UsageError(f"param '{name}' is given twice")
        else:
            raw[name] = value
    return raw


def _cli_list(name: str, value: str) -> list[Any]:
    try:
        return parse_list_text(value)
    except _Refused as exc:
        raise UsageError(f"param '{name}' {exc}") from None
