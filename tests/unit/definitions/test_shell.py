"""Values reach the shell intact whatever quoting context their placeholder stands in."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.definitions.shell import render_shell
from conveyor.definitions.templates import Ref, parse_template

HOSTILE = [
    "'; rm -rf ~ #",
    "$(id)",
    "`id`",
    'a"b',
    "a'b",
    "back\\slash",
    "new\nline",
    "ünïcødé ✓",
    "{x}",
    "",
    "$HOME",
    "a b  c",
    "\\'",
    '"$(id)"',
]
# Each template prints the value between markers, so the output must be exactly [value].
CONTEXTS = [
    "printf '[%s]' {v}",
    "printf '[%s]' \"{v}\"",
    "printf '[%s]' '{v}'",
    "printf '[%s]' \"$(printf %s {v})\"",
    'printf \'[%s]\' "$(printf %s "{v}")"',
    "printf '[%s]' \"`printf %s {v}`\"",
    "printf '[%s]' \"pre-{v}-post\" | sed 's/pre-//; s/-post//'",
    "x={v}; printf '[%s]' \"$x\"",
]


def _run(template: str, value: str) -> str:
    def value_of(ref: Ref) -> tuple[str, bool]:
        return value, True

    command = render_shell(parse_template(template), value_of)
    result = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, check=False, timeout=10
    )
    return result.stdout.decode("utf-8", errors="surrogateescape")


def _expected(template: str, value: str) -> str:
    # Command substitution strips trailing newlines; that is the shell, not the quoting.
    if "$(" in template or "`" in template:
        return f"[{value.rstrip(chr(10))}]"
    return f"[{value}]"


@pytest.mark.parametrize("template", CONTEXTS)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_arrive_intact(template: str, value: str) -> None:
    assert _run(template, value) == _expected(template, value)


@settings(max_examples=60, deadline=None)
@given(
    template=st.sampled_from(CONTEXTS),
    value=st.text(
        alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40
    ),
)
def test_any_value_arrives_intact(template: str, value: str) -> None:
    assert _run(template, value) == _expected(template, value)


def test_a_placeholder_after_a_backslash_is_refused() -> None:
    with pytest.raises(ValueError, match="backslash"):
        _run("echo \\{v}", "$(id)")


def test_ready_made_words_are_fitted_into_quotes() -> None:
    template = parse_template("printf '[%s]' 'in single {v}'")

    def value_of(ref: Ref) -> tuple[str, bool]:
        return '"${SECRET}"', False

    command = render_shell(template, value_of)
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        capture_output=True,
        text=True,
        check=False,
        env={"SECRET": "s3 cr$t", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout == "[in single s3 cr$t]"
