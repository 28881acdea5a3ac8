import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.definitions.templates import (
    Ref,
    TemplateSyntaxError,
    escape,
    parse_template,
    render,
    shell_quote,
    unparse,
)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("{service}", ("service",)),
        ("{steps.build.outputs.artifact}", ("steps", "build", "outputs", "artifact")),
        ("{steps.check.outputs.json.data.id}", ("steps", "check", "outputs", "json.data.id")),
        ("{item}", ("item",)),
        ("{run.id}", ("run", "id")),
        ("{run.submitter}", ("run", "submitter")),
        ("{job.name}", ("job", "name")),
        ("{my-param_2}", ("my-param_2",)),
    ],
)
def test_placeholder_paths(text: str, path: tuple[str, ...]) -> None:
    template = parse_template(text)
    assert template.refs == (Ref(path),)
    assert template.is_single_ref
    assert template.refs[0].text == text[1:-1]


def test_literals_and_refs_in_order() -> None:
    template = parse_template("./build.sh {service} {version}")
    assert template.parts == ("./build.sh ", Ref(("service",)), " ", Ref(("version",)))
    assert not template.is_single_ref


def test_double_braces_are_literal() -> None:
    template = parse_template("{{not}} {x} }}{{")
    assert template.refs == (Ref(("x",)),)
    assert render(template, lambda ref: "X") == "{not} X }{"


def test_empty_text_has_no_parts() -> None:
    assert parse_template("").parts == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("echo {x", "never closed"),
        ("echo x}", "closes nothing"),
        ("echo {}", "needs a name"),
        ("{a b}", "may only hold"),
        ("{a;rm}", "may only hold"),
        ("{$(id)}", "may only hold"),
        ("{a..b}", "empty part"),
        ("{.a}", "empty part"),
        ("{{x}", "closes nothing"),
    ],
)
def test_syntax_errors_are_sentences(text: str, words: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=words):
        parse_template(text)


def test_syntax_error_is_a_value_error() -> None:
    assert issubclass(TemplateSyntaxError, ValueError)


def test_parse_is_cached() -> None:
    assert parse_template("cache {me}") is parse_template("cache {me}")


@pytest.mark.parametrize("value", ["{x}", "{{x}}", "{steps.a.outputs.b}", "}{"])
def test_values_are_substituted_once(value: str) -> None:
    template = parse_template("a {x} b")
    assert render(template, lambda ref: value) == f"a {value} b"


def test_render_receives_each_ref() -> None:
    seen: list[Ref] = []

    def resolve(ref: Ref) -> str:
        seen.append(ref)
        return ref.text.upper()

    assert render(parse_template("{a}-{b.c}"), resolve) == "A-B.C"
    assert seen == [Ref(("a",)), Ref(("b", "c"))]


@given(st.text())
def test_escape_renders_to_itself(text: str) -> None:
    assert render(parse_template(escape(text)), lambda ref: "") == text


_REFS = st.sampled_from(["a", "b.c", "steps.x.outputs.json.y"]).map(lambda name: "{" + name + "}")


@given(st.lists(st.one_of(st.text().map(escape), _REFS)))
def test_unparse_round_trips(items: list[str]) -> None:
    template = parse_template("".join(items))
    assert parse_template(unparse(template.parts)).parts == template.parts


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("", "''"), ("abc", "'abc'"), ("it's", "'it'\"'\"'s'")],
)
def test_shell_quote_examples(value: str, quoted: str) -> None:
    assert shell_quote(value) == quoted


def _sh_prints(value: str) -> str:
    result = subprocess.run(
        ["sh", "-c", "printf %s " + shell_quote(value)], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "value",
    ["$(id)", "`id`", "'; rm -rf ~ #", "a\nb", "ünïcødé ✓", "$HOME", "\\", '"', "-n", "*", ""],
)
def test_shell_quote_hostile_values(value: str) -> None:
    assert _sh_prints(value) == value


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])))
def test_shell_quote_is_exact_for_any_text(value: str) -> None:
    assert _sh_prints(value) == value
