from pathlib import Path

import pytest

from conveyor.definitions.loader import MAX_DEPTH, load_paths, load_text
from conveyor.definitions.models import JobDef, LookupDef, StepDef
from conveyor.errors import DefinitionError

JOB = """\
kind: job
name: deploy
params:
  - {name: env, type: choice, choices: [staging, prod]}
steps:
  - id: build
    run: ./build.sh
    on: [builder]
  - id: rollout
    needs: [build]
    run: ./deploy.sh
"""

STEP = """\
kind: step
name: http-health
params:
  - {name: url, required: true}
http: {url: "{url}"}
"""

LOOKUP = """\
kind: lookup
name: hosts
values: [a, b]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_text(text, "f.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_loads_every_kind_with_lines_and_text() -> None:
    text = f"{JOB}---\n{STEP}---\n{LOOKUP}"
    documents = load_text(text, "f.yaml")
    assert [type(d.definition) for d in documents] == [JobDef, StepDef, LookupDef]
    assert [d.line for d in documents] == [1, 13, 19]
    assert documents[0].text.rstrip("\n") == JOB.rstrip("\n")
    assert documents[1].text.startswith("kind: step")
    assert all(d.source == "f.yaml" for d in documents)


def test_the_step_key_on_stays_a_name() -> None:
    job = load_text(JOB, "f.yaml")[0].definition
    assert isinstance(job, JobDef)
    assert job.steps[0].on == ["builder"]


def test_line_of_nested_paths_falls_back_to_ancestors() -> None:
    document = load_text(JOB, "f.yaml")[0]
    assert document.line_of(("steps", 1, "needs")) == 10
    assert document.line_of(("steps", 1, "needs", 0)) == 10
    assert document.line_of(("steps", 1, "nothing", 3)) == 9
    assert document.line_of(("params", 0, "choices")) == 4
    assert document.line_of(()) == 1


def test_empty_documents_are_skipped() -> None:
    assert len(load_text(f"---\n# nothing\n---\n{LOOKUP}---\n", "f.yaml")) == 1
    assert load_text("", "f.yaml") == []


def test_dates_stay_text() -> None:
    text = LOOKUP.replace("[a, b]", "[2024-01-02]")
    lookup = load_text(text, "f.yaml")[0].definition
    assert isinstance(lookup, LookupDef)
    assert lookup.values == ["2024-01-02"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            JOB.replace("    on: [builder]", "    retires: 2"),
            "f.yaml:8: steps[0] (build): unknown key 'retires'",
        ),
        (
            JOB.replace("[staging, prod]", "staging"),
            "f.yaml:4: param 'env': choices must be a valid list",
        ),
        (
            JOB.replace("run: ./deploy.sh", "retries: 1"),
            "f.yaml:9: steps[1] (rollout): a step needs exactly one of",
        ),
        (
            JOB.replace("    run: ./deploy.sh", "    run: x\n    timeout: soon"),
            "f.yaml:12: steps[1] (rollout): timeout: a duration is",
        ),
        (JOB.replace("name: deploy", "name: ''"), "f.yaml:2: name must match pattern"),
        (JOB.replace("name: deploy\n", ""), "f.yaml:1: missing required key 'name'"),
        (
            STEP.replace('{url: "{url}"}', "{method: GET}"),
            "f.yaml:5: http: missing required key 'url'",
        ),
        ("kind: job\nname: j\nsteps: []\n", "f.yaml:3: steps must have at least 1 item"),
        ("name: x\n", "f.yaml:1: a document needs kind: job, step or lookup"),
        ("kind: flow\nname: x\n", "f.yaml:1: unknown kind 'flow'; expected job, step or lookup"),
        ("- a\n- b\n", "f.yaml:1: a document must be a mapping"),
        ("kind: job\n  name: [\n", "f.yaml:2: the YAML cannot be read"),
    ],
)
def test_problems_have_lines_and_sentences(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_every_problem_of_every_document_is_reported() -> None:
    bad_job = JOB.replace("on: [builder]", "retires: 2").replace("[staging, prod]", "staging")
    text = f"{bad_job}---\nkind: nope\n---\n{LOOKUP}"
    assert len(problems(text)) == 3


def test_secret_defaults_are_never_printed() -> None:
    text = JOB.replace("choices: [staging, prod]}", "choices: 5, default: hunter2}")
    assert not any("hunter2" in p for p in problems(text))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind: lookup\nname: a\nname: b\nvalues: [1]\n", "f.yaml:3: duplicate key 'name'"),
        (
            "kind: lookup\nname: a\nvalues: !!python/object:os.system [1]\n",
            "f.yaml:3: the tag !!python/object:os.system is not allowed",
        ),
        (
            "kind: lookup\nname: a\nvalues: !!python/name:os.system\n",
            "the tag !!python/name:os.system is not allowed",
        ),
        ("kind: lookup\nname: a\nvalues: !custom [1]\n", "the tag !custom is not allowed"),
        ("kind: lookup\nname: a\nvalues: !!binary aGk=\n", "the tag !!binary is not allowed"),
        ("kind: lookup\nname: a\nvalues: !!set {a: null}\n", "the tag !!set is not allowed"),
        (
            "kind: lookup\nname: a\nx: &a [1]\nvalues: *a\n",
            "f.yaml:3: anchors and aliases are not allowed",
        ),
        (
            "kind: lookup\nname: a\nvalues: [1]\n<<: {description: x}\n",
            "f.yaml:4: merge keys (<<) are not allowed",
        ),
        ("kind: lookup\nname: a\nvalues: [1]\n[a]: 1\n", "f.yaml:4: a key must be a plain name"),
        (
            "kind: lookup\nname: a\nvalues: [1]\ndescription: \x00\n",
            "f.yaml:4: the file contains a NUL character",
        ),
        ("kind: lookup\nname: a\nvalues: [1" + "0" * 5000 + "]\n", "f.yaml:3: the value"),
    ],
)
def test_hostile_yaml_is_refused(text: str, words: str) -> None:
    found = problems(text)
    assert any(words in p for p in found), found


def test_billion_laughs_is_refused_before_expansion() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}]" + f",*{chr(97 + i)}" * 0 for i in range(8)
    ]
    text = "kind: lookup\nname: x\nvalues: [1]\n" + "\n".join(lines) + "\n"
    assert any("anchors and aliases are not allowed" in p for p in problems(text))


def test_deep_nesting_is_refused() -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    found = problems(f"kind: lookup\nname: a\nvalues: {deep}\n")
    assert any(f"nests deeper than {MAX_DEPTH} levels" in p for p in found)


def test_very_deep_nesting_does_not_exhaust_the_stack() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    assert any("nests deeper" in p for p in problems(f"values: {deep}\n"))


def test_huge_documents_are_refused() -> None:
    text = "kind: lookup\nname: a\nvalues: [1]\ndescription: " + "x" * (1 << 20) + "\n"
    assert any("larger than 1 MiB" in p for p in problems(text))


def test_load_paths_reads_folders_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(STEP)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(LOOKUP)
    (tmp_path / "a.yaml").write_text(JOB)
    (tmp_path / "notes.txt").write_text("kind: nope")
    names = [d.definition.name for d in load_paths([tmp_path])]
    assert names == ["deploy", "http-health", "hosts"]


def test_load_paths_collects_problems_of_all_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: nope\n")
    (tmp_path / "b.yaml").write_bytes(b"kind: lookup\nname: \xff\xfe\n")
    missing = tmp_path / "missing.yaml"
    with pytest.raises(DefinitionError) as caught:
        load_paths([tmp_path, missing])
    found = [str(p) for p in caught.value.problems]
    assert any("a.yaml:1: unknown kind" in p for p in found)
    assert any("b.yaml:2: the file is not valid UTF-8" in p for p in found)
    assert any("missing.yaml:0: cannot read the file" in p for p in found)


def test_empty_folder_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"no \.yaml or \.yml files"):
        load_paths([tmp_path])


def test_example_of_the_spec_loads() -> None:
    spec = Path(__file__).with_name("spec_example.yaml")
    documents = load_paths([spec])
    assert [d.definition.name for d in documents] == ["http-health", "deploy-service"]


def test_control_characters_are_refused_with_their_line() -> None:
    with pytest.raises(DefinitionError) as refused:
        load_text("kind: job\nname: x\x1f\n", "ctl.yaml")
    assert (
        str(refused.value.problems[0]) == "ctl.yaml:2: the text holds a control character (U+001F)"
    )
