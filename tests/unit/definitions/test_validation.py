from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import pytest

from conveyor.definitions.loader import load_paths, load_text
from conveyor.definitions.models import JobDef, JobStepDef, ParamDef, StepDef
from conveyor.definitions.validation import find_cycles, validate
from conveyor.errors import DefinitionError

HEALTH = """\
kind: step
name: http-health
params:
  - {name: url, required: true}
  - {name: method, default: GET}
outputs: [latency]
http: {url: "{url}"}
"""

NOTIFY = JobDef(
    name="notify-team",
    params=[ParamDef(name="text", required=True), ParamDef(name="channel", default="ops")],
    steps=[JobStepDef(id="send", run="notify {text}")],
)


def job(steps: str, params: str = "[{name: service}, {name: hosts, type: list}]") -> str:
    body = indent(dedent(steps).strip("\n"), "  ")
    return f"kind: job\nname: j\nparams: {params}\nsteps:\n{body}\n"


def problems(*texts: str, **known: Any) -> list[str]:
    documents = [d for text in texts for d in load_text(text, "f.yaml")]
    known.setdefault("known_jobs", {"notify-team": NOTIFY})
    try:
        validate(documents, **known)
    except DefinitionError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def assert_problem(found: list[str], expected: str) -> None:
    assert any(expected in problem for problem in found), found


def test_the_spec_example_is_valid() -> None:
    documents = load_paths([Path(__file__).with_name("spec_example.yaml")])
    validate(documents, known_jobs={"notify-team": NOTIFY}, known_lookups=["hosts-of-service"])


def test_a_correct_job_has_no_problems() -> None:
    text = job("""
        - id: build
          run: ./build {service} {run.id} {run.submitter} {job.name}
          outputs: [artifact]
        - id: check
          needs: [build]
          uses: http-health
          with: {url: "https://{service}/{steps.build.outputs.artifact}"}
        - id: use
          needs: [check]
          foreach: "{hosts}"
          max_parallel: 2
          argv: [echo, "{item}", "{steps.check.outputs.status}", "{steps.build.outputs.artifact}"]
          when: "{steps.check.outputs.json.ok} == true and {steps.check.outputs.latency} < 3"
    """)
    assert problems(text, HEALTH) == []


# -- names and ids ------------------------------------------------------------------------------


def test_duplicate_names_of_one_kind() -> None:
    found = problems(HEALTH, HEALTH.replace("http-health", "other"), HEALTH)
    assert found == ["f.yaml:2: step 'http-health' is defined twice (first at f.yaml:1)"]


def test_same_name_of_different_kinds_is_fine() -> None:
    lookup = "kind: lookup\nname: http-health\nvalues: [a]\n"
    assert problems(HEALTH, lookup) == []


def test_duplicate_step_ids() -> None:
    found = problems(job("- {id: a, run: x}\n- {id: a, run: y}"))
    assert found == ["f.yaml:6: steps[1]: step id 'a' is used twice"]


def test_needs_an_unknown_step() -> None:
    found = problems(job("- {id: a, run: x, needs: [b]}"))
    assert found == ["f.yaml:5: steps[0] (a): needs 'b', no step of this job"]


def test_cycles_are_named() -> None:
    text = job("""
        - {id: a, run: x, needs: [c]}
        - {id: b, run: x, needs: [a]}
        - {id: c, run: x, needs: [b]}
        - {id: d, run: x, needs: [d]}
    """)
    found = problems(text)
    assert_problem(found, "steps form a cycle through needs: a -> c -> b -> a")
    assert_problem(found, "steps form a cycle through needs: d -> d")
    assert len(found) == 2


def test_find_cycles_handles_long_chains() -> None:
    graph = {str(i): [str(i + 1)] for i in range(5000)}
    graph["5000"] = ["0"]
    assert len(find_cycles(graph)[0]) == 5002


# -- placeholders in scope ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("{id: a, run: 'echo {nope}'}", "steps[0] (a): run: {nope} is not a param of job 'j'"),
        ("{id: a, argv: [echo, '{nope}']}", "steps[0] (a): argv[1]: {nope} is not a param"),
        ("{id: a, script: 'echo {nope}'}", "script: {nope} is not a param"),
        ("{id: a, run: x, env: {A: '{nope}'}}", "env.A: {nope} is not a param"),
        ("{id: a, http: {url: 'http://{nope}'}}", "http.url: {nope}"),
        ("{id: a, http: {url: u, headers: {X: '{nope}'}}}", "http.headers.X: {nope}"),
        ("{id: a, http: {url: u, body: '{nope}'}}", "http.body: {nope}"),
        ("{id: a, http: {url: u, json: {k: ['{nope}']}}}", "http.json.k[0]: {nope}"),
        ("{id: a, manual: {instructions: '{nope}'}}", "manual.instructions: {nope}"),
        ("{id: a, run: x, locks: ['l-{nope}']}", "locks[0]: {nope}"),
        ("{id: a, run: x, when: '{nope} == 1'}", "when: {nope} is not a param"),
        ("{id: a, run: x, foreach: '{nope}'}", "foreach: {nope} is not a param"),
        ("{id: a, uses: http-health, with: {url: '{nope}'}}", "with.url: {nope}"),
        ("{id: a, run: 'echo {item}'}", "run: {item} is only set in a step with foreach"),
        ("{id: a, run: 'echo {foo.bar}'}", "run: {foo.bar} names nothing"),
        ("{id: a, run: 'echo {steps.a.artifact}'}", "should be written {steps.ID.outputs.KEY}"),
        ("{id: a, run: 'echo {steps.z.outputs.k}'}", "names step 'z', which is not in this job"),
        ("{id: a, run: 'echo {bad'}", "run: the '{' at position 6 is never closed"),
        ("{id: a, run: x, when: '{service} = 1'}", "when: unexpected character '='"),
    ],
)
def test_placeholders_out_of_scope(step: str, expected: str) -> None:
    found = problems(job(f"- {step}"), HEALTH)
    assert_problem(found, expected)
    assert all(problem.startswith("f.yaml:5:") for problem in found)


def test_outputs_need_the_step_upstream() -> None:
    text = job("""
        - {id: a, run: x}
        - {id: b, run: x, needs: [a]}
        - {id: c, run: 'echo {steps.a.outputs.k}', needs: [b]}
        - {id: d, run: 'echo {steps.c.outputs.k}'}
    """)
    found = problems(text)
    assert found == [
        "f.yaml:8: steps[3] (d): run: {steps.c.outputs.k} reads step 'c', "
        "which is not in this step's needs"
    ]


@pytest.mark.parametrize(
    ("producer", "key", "ok"),
    [
        ("{id: p, run: x, outputs: [artifact]}", "artifact", True),
        ("{id: p, run: x, outputs: [artifact]}", "other", False),
        ("{id: p, run: x}", "anything", True),
        ("{id: p, script: x}", "anything", True),
        ("{id: p, http: {url: u}}", "status", True),
        ("{id: p, http: {url: u}}", "body", True),
        ("{id: p, http: {url: u}}", "json.data.id", True),
        ("{id: p, http: {url: u}}", "other", False),
        ("{id: p, manual: {fields: [{name: ticket}]}}", "ticket", True),
        ("{id: p, manual: {fields: [{name: ticket}]}}", "other", False),
        ("{id: p, uses: http-health, with: {url: u}}", "latency", True),
        ("{id: p, uses: http-health, with: {url: u}}", "status", True),
        ("{id: p, uses: http-health, with: {url: u}}", "other", False),
        ("{id: p, uses: job/notify-team, with: {text: t}}", "anything", True),
    ],
)
def test_output_keys(producer: str, key: str, ok: bool) -> None:
    text = job(f"- {producer}\n- {{id: c, needs: [p], run: 'echo {{steps.p.outputs.{key}}}'}}")
    found = problems(text, HEALTH)
    if ok:
        assert found == []
    else:
        assert_problem(found, f"step 'p' has no output '{key}'")


def test_job_locks_see_params_but_not_steps() -> None:
    text = job("- {id: a, run: x}").replace(
        "steps:", "locks: ['d-{service}', 'x-{nope}', 'y-{steps.a.outputs.k}']\nsteps:"
    )
    found = problems(text)
    assert len(found) == 2
    assert_problem(found, "locks[1]: {nope} is not a param")
    assert_problem(found, "locks[2]: {steps.a.outputs.k}: step outputs cannot be read here")


def test_reusable_step_placeholders_are_its_own_params() -> None:
    step = HEALTH.replace('url: "{url}"', 'url: "{url}/{service}/{steps.a.outputs.k}/{run.id}"')
    found = problems(step)
    assert len(found) == 2
    assert_problem(found, "http.url: {service} is not a param of step 'http-health'")
    assert_problem(found, "step outputs cannot be read here")


# -- uses and with ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("{id: a, uses: nope}", "steps[0] (a): uses step 'nope', which is not defined"),
        ("{id: a, uses: job/nope}", "steps[0] (a): uses job 'nope', which is not defined"),
        ("{id: a, uses: http-health, with: {url: u, x: 1}}", "with: 'x' is not a param of step"),
        ("{id: a, uses: http-health}", "step 'http-health' needs its required param 'url'"),
        ("{id: a, uses: job/notify-team}", "job 'notify-team' needs its required param 'text'"),
        ("{id: a, uses: job/notify-team, with: {text: t, y: 1}}", "'y' is not a param of job"),
        ("{id: a, uses: http-health, with: {url: [1]}}", "with: param 'url' must be a text"),
    ],
)
def test_uses_and_with(step: str, expected: str) -> None:
    assert_problem(problems(job(f"- {step}"), HEALTH), expected)


def test_uses_sees_stored_steps() -> None:
    stored = load_text(HEALTH, "stored.yaml")[0].definition
    assert isinstance(stored, StepDef)
    text = job("- {id: a, uses: http-health, with: {url: u}}")
    assert problems(text, known_steps={"http-health": stored}) == []


def test_a_reusable_step_cannot_use_another() -> None:
    text = "kind: step\nname: wrap\nuses: http-health\nwith: {url: x}\n"
    assert_problem(problems(text, HEALTH), "f.yaml:3: a reusable step cannot itself use")


def test_sub_job_cycles() -> None:
    a = job("- {id: s, uses: job/b}").replace("name: j", "name: a")
    b = job("- {id: s, uses: job/a}").replace("name: j", "name: b")
    me = job("- {id: s, uses: job/me}").replace("name: j", "name: me")
    found = problems(a, b, me)
    assert_problem(found, "job 'a' runs itself as a sub-job: a -> b -> a")
    assert_problem(found, "job 'me' runs itself as a sub-job: me -> me")
    assert len(found) == 2


def test_sub_job_cycle_through_a_stored_job() -> None:
    stored = JobDef(name="b", steps=[JobStepDef(id="s", uses="job/a")])
    a = job("- {id: s, uses: job/b}").replace("name: j", "name: a")
    assert_problem(problems(a, known_jobs={"b": stored}), "a -> b -> a")


# -- rollouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "max_parallel: 2",
        "batch_size: 2",
        "max_failures: 0",
        "after_batch: a",
        "on_max_failures: pause",
    ],
)
def test_rollout_keys_need_foreach(key: str) -> None:
    found = problems(job(f"- {{id: a, run: x, {key}}}"))
    assert found == [f"f.yaml:5: steps[0] (a): {key.split(':')[0]} goes only with foreach"]


@pytest.mark.parametrize("foreach", ["'x {hosts}'", "'{hosts}{hosts}'", "plain"])
def test_foreach_is_a_single_placeholder(foreach: str) -> None:
    found = problems(job(f"- {{id: a, run: x, foreach: {foreach}}}"))
    assert_problem(found, "foreach must be a single placeholder")


def test_foreach_cannot_read_item() -> None:
    assert_problem(problems(job("- {id: a, run: x, foreach: '{item}'}")), "{item} is only set")


@pytest.mark.parametrize("after", ["nope", "a"])
def test_after_batch_names_another_step(after: str) -> None:
    text = job(f"- {{id: a, run: x, foreach: '{{hosts}}', after_batch: {after}}}")
    assert_problem(problems(text), f"after_batch names '{after}', no other step of this job")


def test_after_batch_names_a_step() -> None:
    text = job(
        "- {id: a, run: x, foreach: '{hosts}', batch_size: 2, after_batch: b}\n- {id: b, run: y}"
    )
    assert problems(text) == []


# -- params -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("{name: e, type: choice}", "param 'e': a choice needs choices"),
        ("{name: h, type: list, lookup: nope}", "param 'h': lookup 'nope' is not defined"),
        ("{name: n, type: int, default: x}", "the default of param 'n' must be a whole number"),
        ("{name: s, pattern: '^[a-z]+$', default: A}", "the default of param 's' must match"),
        (
            "{name: c, type: choice, choices: [a], default: b}",
            "the default of param 'c' must be one of a",
        ),
        ("{name: t, type: secret, default: hunter2}", "param 't': a secret cannot have a default"),
        ("{name: r, pattern: '(['}", "param 'r': pattern is not a valid regular expression"),
    ],
)
def test_param_rules(param: str, expected: str) -> None:
    found = problems(job("- {id: a, run: x}", params=f"[{param}]"))
    assert len(found) == 1
    assert found[0].startswith(f"f.yaml:3: {expected}")
    assert not any("hunter2" in problem for problem in found)


def test_duplicate_params() -> None:
    found = problems(job("- {id: a, run: x}", params="[{name: a}, {name: a}]"))
    assert found == ["f.yaml:3: param 'a' is declared twice"]


def test_lookups_known_or_in_the_batch() -> None:
    text = job("- {id: a, run: x}", params="[{name: h, type: list, lookup: hosts}]")
    assert problems(text, known_lookups=["hosts"]) == []
    assert problems(text, "kind: lookup\nname: hosts\nvalues: [a]\n") == []


def test_duplicate_manual_fields() -> None:
    text = job("- {id: a, manual: {fields: [{name: t}, {name: t}]}}")
    assert problems(text) == ["f.yaml:5: field 't' is declared twice"]


def test_reusable_step_params_are_checked() -> None:
    text = HEALTH.replace("{name: method, default: GET}", "{name: method, type: choice}")
    assert problems(text) == ["f.yaml:5: param 'method': a choice needs choices"]


def test_every_problem_is_collected() -> None:
    text = job(
        """
        - {id: a, run: 'echo {nope}', needs: [zz]}
        - {id: a, uses: missing}
    """,
        params="[{name: e, type: choice}]",
    )
    assert len(problems(text)) == 5
