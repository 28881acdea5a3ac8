import json
import re
from typing import Any

import pytest

from conveyor.definitions.models import ParamDef
from conveyor.definitions.params import check_values, parse_cli_assignments
from conveyor.errors import ParamError, UsageError


def p(name: str = "x", **rules: Any) -> ParamDef:
    return ParamDef(name=name, **rules)


def one(definition: ParamDef, value: Any) -> Any:
    return check_values([definition], {definition.name: value})[definition.name]


@pytest.mark.parametrize(
    ("definition", "value", "expected"),
    [
        (p(), "hello", "hello"),
        (p(), 12, "12"),
        (p(), "", ""),
        (p(type="int"), "42", 42),
        (p(type="int"), " -7 ", -7),
        (p(type="int"), 3.0, 3),
        (p(type="int"), 5, 5),
        (p(type="float"), "1.5", 1.5),
        (p(type="float"), 2, 2.0),
        (p(type="bool"), "yes", True),
        (p(type="bool"), "No", False),
        (p(type="bool"), "1", True),
        (p(type="bool"), "false", False),
        (p(type="bool"), 0, False),
        (p(type="bool"), True, True),
        (p(type="choice", choices=["staging", "prod"]), "prod", "prod"),
        (p(type="choice", choices=[1, 2]), "2", 2),
        (p(type="list"), '["a", "b"]', ["a", "b"]),
        (p(type="list"), "a, b,,c", ["a", "b", "c"]),
        (p(type="list"), ["a", 1], ["a", "1"]),
        (p(type="secret"), "s3cret", "s3cret"),
        (p(type="date"), "2024-02-29", "2024-02-29"),
        (p(type="string", pattern="^[a-z0-9-]+$"), "my-svc", "my-svc"),
        (p(type="int", min=1, max=5), "5", 5),
        (p(type="string", max=3), "abc", "abc"),
        (p(type="list", min=2, pattern="[a-z]+"), "a,b", ["a", "b"]),
    ],
)
def test_values_are_coerced(definition: ParamDef, value: Any, expected: Any) -> None:
    result = one(definition, value)
    assert result == expected
    assert type(result) is type(expected)
    json.dumps(result)


@pytest.mark.parametrize(
    ("definition", "value", "message"),
    [
        (
            p("service", pattern="^[a-z0-9-]+$"),
            "Bad Name",
            "param 'service' must match ^[a-z0-9-]+$",
        ),
        (p(type="int"), "4.5", "param 'x' must be a whole number"),
        (p(type="int"), True, "param 'x' must be a whole number"),
        (p(type="float"), "nan", "param 'x' must be a number"),
        (p(type="float"), "abc", "param 'x' must be a number"),
        (p(type="bool"), "maybe", "param 'x' must be true or false"),
        (p(type="choice", choices=["a", "b"]), "c", "param 'x' must be one of a, b"),
        (p(type="list"), "[oops", "param 'x' must be a JSON array"),
        (p(type="list"), "[1, [2]]", "param 'x' must be a list of texts"),
        (p(type="list"), 5, "param 'x' must be a list"),
        (p(type="date"), "2023-02-29", "param 'x' must be a date written YYYY-MM-DD"),
        (p(type="date"), "29/02/2024", "param 'x' must be a date"),
        (p(type="int", min=1), "0", "param 'x' must be at least 1"),
        (p(type="float", max=1.5), "2", "param 'x' must be at most 1.5"),
        (p(max=3), "abcd", "param 'x' must be a text of at most 3"),
        (p(type="list", min=2), "a", "param 'x' must be a list of at least 2"),
        (p(type="list", pattern="[a-z]+"), "a,B", "param 'x' must match [a-z]+"),
        (p(choices=["a"]), "b", "param 'x' must be one of a"),
        (p(), {"a": 1}, "param 'x' must be a text"),
        (p(), "a\x00b", "param 'x' must not contain NUL characters"),
        (p(), "a" * (64 * 1024 + 1), "param 'x' must not be longer than 64 KiB"),
        (p(type="list"), ["a" * 40_000, "b" * 40_000], "param 'x' must not be longer than 64 KiB"),
        (p(pattern="abc"), "abcd", "param 'x' must match abc"),  # all of it, not a prefix
    ],
)
def test_bad_values_are_refused_with_a_sentence(
    definition: ParamDef, value: Any, message: str
) -> None:
    with pytest.raises(ParamError, match="^" + _escape(message)):
        one(definition, value)


def _escape(text: str) -> str:
    return re.escape(text)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ParamError, match="unknown param 'nope'"):
        check_values([p()], {"nope": "1"})


def test_required_and_default() -> None:
    defs = [p("a", required=True), p("b", default="d"), p("c"), p("n", type="int", default="3")]
    assert check_values(defs, {"a": "v"}) == {"a": "v", "b": "d", "c": None, "n": 3}
    with pytest.raises(ParamError, match=r"^param 'a' is required$"):
        check_values(defs, {})
    with pytest.raises(ParamError, match=r"^param 'a' is required$"):
        check_values(defs, {"a": ""})


def test_empty_text_means_no_value_for_typed_params() -> None:
    assert check_values([p(type="int")], {"x": ""}) == {"x": None}
    assert check_values([p(type="int", default=2)], {"x": ""}) == {"x": 2}


def test_what_names_the_input() -> None:
    with pytest.raises(ParamError, match=r"^field 'ticket' is required$"):
        check_values([p("ticket", required=True)], {}, what="field")


@pytest.mark.parametrize(
    ("definition", "value"),
    [
        (p("token", type="secret", pattern="^[a-z]+$"), "TOPSECRET"),
        (p("token", type="secret", max=3), "TOPSECRET"),
        (p("token", type="secret"), "TOPSECRET\x00"),
        (p("token", type="secret"), ["TOPSECRET"]),
    ],
)
def test_secret_values_never_appear_in_errors(definition: ParamDef, value: Any) -> None:
    with pytest.raises(ParamError) as caught:
        one(definition, value)
    assert "TOPSECRET" not in str(caught.value)
    assert "'token'" in str(caught.value)


def test_cli_assignments() -> None:
    defs = [p("service"), p("hosts", type="list"), p("n", type="int")]
    raw = parse_cli_assignments(
        ["service=api", "hosts=a,b", 'hosts=["c"]', "n=3", "eq=a=b"], [*defs, p("eq")]
    )
    assert raw == {"service": "api", "hosts": ["a", "b", "c"], "n": "3", "eq": "a=b"}
    assert check_values(defs, {k: v for k, v in raw.items() if k != "eq"})["n"] == 3


@pytest.mark.parametrize("item", ["service", "=value", "  =x"])
def test_malformed_cli_assignment_is_a_usage_error(item: str) -> None:
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_cli_assignments([item], [])


def test_malformed_cli_assignment_does_not_echo_the_item() -> None:
    with pytest.raises(UsageError) as caught:
        parse_cli_assignments(["hunter2"], [])
    assert "hunter2" not in str(caught.value)


def test_repeated_scalar_cli_param_is_refused() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_cli_assignments(["a=1", "a=2"], [p("a")])


def test_bad_json_list_on_cli_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="param 'hosts'"):
        parse_cli_assignments(["hosts=[oops"], [p("hosts", type="list")])
