from typing import Any

import pytest

from conveyor.definitions.expressions import (
    MAX_DEPTH,
    ExpressionError,
    parse_expression,
)
from conveyor.definitions.templates import Ref

VALUES: dict[str, Any] = {
    "env": "prod",
    "count": "3",
    "n": 7,
    "ratio": 0.5,
    "flag": True,
    "flag_text": "false",
    "hosts": ["a", "b"],
    "none": None,
    "steps.check.outputs.status": "200",
}


def when(text: str) -> bool:
    return parse_expression(text).evaluate(lambda ref: VALUES[ref.text])


@pytest.mark.parametrize(
    "text",
    [
        "{env} == 'prod'",
        '{env} == "prod"',
        "{env} != 'staging'",
        "{count} == 3",
        "{count} > 2",
        "{count} >= 3.0",
        "{n} < 10",
        "{n} <= 7",
        "{ratio} < 1",
        "{flag}",
        "{flag} == true",
        "not {flag_text}",
        "{flag_text} == false",
        "'a' in {hosts}",
        "'c' not in {hosts}",
        "{env} in ['prod', 'staging']",
        "'ro' in {env}",
        "{none} == null",
        "{env} == 'prod' and {n} > 1",
        "{env} == 'x' or {n} > 1",
        "not ({env} == 'x' or {n} > 100)",
        "{steps.check.outputs.status} == 200",
        "true",
        "'b' < 'c'",
        "3 in [1, 2, 3]",
        "'it\\'s' == \"it's\"",
    ],
)
def test_true_expressions(text: str) -> None:
    assert when(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "{env} == 'staging'",
        "{count} < 3",
        "{flag_text}",
        "{none}",
        "[] ",
        "{env} > 3",
        "{hosts} < 3",
        "null < 1",
        "'3' == 'x'",
        "{env} == 'prod' and false",
        "not true",
        "1 in 'abc'",
        "false or null",
    ],
)
def test_false_expressions(text: str) -> None:
    assert when(text) is False


def test_two_numeric_texts_compare_as_text_for_equality() -> None:
    # "01" and "1" are different texts; only a text against a number compares numerically.
    assert when("'01' == '1'") is False
    assert when("'01' == 1") is True


def test_precedence_and_binds_tighter_than_or() -> None:
    assert when("true or false and false") is True
    assert when("(true or false) and false") is False


def test_refs_are_listed_in_order() -> None:
    expression = parse_expression("{a} == 1 and {steps.x.outputs.json.k} in [{b}]")
    assert expression.refs == (
        Ref(("a",)),
        Ref(("steps", "x", "outputs", "json.k")),
        Ref(("b",)),
    )


def test_placeholders_in_quotes_are_text() -> None:
    assert parse_expression("'{a}' == 'x'").refs == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("{env} ==", "ends too early"),
        ("{env} = 'x'", "unexpected character"),
        ("prod == {env}", "unknown word 'prod'"),
        ("__import__('os')", "unknown word"),
        ("{env} == 'prod' 'x'", "unexpected"),
        ("({env} == 'x'", "ends too early"),
        ("{a b} == 1", "may only hold"),
        ("'unclosed", "unexpected character"),
        ("1 == 1)", "unexpected"),
        ("[1, 2", "ends too early"),
        ("== 1", "expected a value"),
        ("{a}.b", "unexpected character"),
    ],
)
def test_syntax_errors(text: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=words):
        parse_expression(text)


def test_long_input_is_refused() -> None:
    with pytest.raises(ExpressionError, match="longer than 500"):
        parse_expression("1 == 1 and " * 60 + "true")


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "true",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    ],
)
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="nests deeper"):
        parse_expression(text)


def test_nesting_within_limit_is_fine() -> None:
    text = "(" * MAX_DEPTH + "true" + ")" * MAX_DEPTH
    assert parse_expression(text).evaluate(lambda ref: None) is True


def test_expression_error_is_a_value_error() -> None:
    assert issubclass(ExpressionError, ValueError)
