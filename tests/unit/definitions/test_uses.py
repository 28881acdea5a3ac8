import subprocess

import pytest

from conveyor.definitions.models import JobDef, JobStepDef, ParamDef, StepDef
from conveyor.definitions.templates import parse_template, render, shell_quote
from conveyor.definitions.validation import job_references, resolve_uses
from conveyor.errors import NotFoundError

GREET = StepDef(
    name="greet",
    params=[ParamDef(name="who", required=True), ParamDef(name="greeting", default="hi {x}")],
    run="echo {greeting} {who} {run.id}",
    env={"A": "{who}", "B": "b"},
    timeout=30,
    outputs=["said"],
)
HEALTH = StepDef.model_validate(
    {
        "kind": "step",
        "name": "health",
        "params": [{"name": "url", "required": True}],
        "http": {"url": "{url}/health", "headers": {"X": "{url}"}, "json": {"u": ["{url}"]}},
        "locks": ["h-{url}"],
    }
)
STEPS = {"greet": GREET, "health": HEALTH}


def make_job(*steps: JobStepDef) -> JobDef:
    return JobDef(name="j", params=[ParamDef(name="service")], steps=list(steps))


def resolved_step(**fields: object) -> JobStepDef:
    return resolve_uses(make_job(JobStepDef.model_validate(fields)), STEPS).steps[0]


def sh(command: str) -> str:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout


def test_run_takes_with_values_as_quoted_words_keeping_job_placeholders() -> None:
    step = resolved_step(id="g", uses="greet", **{"with": {"who": "{service} & co"}})
    assert step.uses is None
    assert step.with_ == {}
    assert step.run == "echo 'hi {{x}}' {service}' & co' {run.id}"
    rendered = render(parse_template(step.run), lambda ref: shell_quote(ref.text.upper()))
    assert sh(rendered) == "hi {x} SERVICE & co RUN.ID\n"


@pytest.mark.parametrize("hostile", ["$(id)", "'; rm -rf ~ #", "`id`", "a\nb", "{{x}}", ""])
def test_hostile_with_values_stay_one_word(hostile: str) -> None:
    step = resolved_step(id="g", uses="greet", **{"with": {"who": hostile, "greeting": "x"}})
    assert step.run is not None
    rendered = render(parse_template(step.run), lambda ref: shell_quote("ID"))
    literal = render(parse_template(hostile), lambda ref: "?") if "{" in hostile else hostile
    assert sh(rendered.replace("echo", "printf '%s|'", 1)) == f"x|{literal}|ID|"


def test_other_fields_take_with_values_as_text() -> None:
    step = resolved_step(id="g", uses="greet", **{"with": {"who": "{service}"}})
    assert step.env == {"A": "{service}", "B": "b"}


def test_http_locks_and_json_are_substituted() -> None:
    step = resolved_step(id="h", uses="health", **{"with": {"url": "https://{service}"}})
    assert step.http is not None
    assert step.http.url == "https://{service}/health"
    assert step.http.headers == {"X": "https://{service}"}
    assert step.http.json_body == {"u": ["https://{service}"]}
    assert [lock.name for lock in step.locks] == ["h-https://{service}"]


def test_job_step_keys_override_and_env_merges() -> None:
    step = resolved_step(
        id="g",
        uses="greet",
        needs=[],
        when="{service} == 'a'",
        timeout="5m",
        env={"B": "mine"},
        **{"with": {"who": "w"}},
    )
    assert step.id == "g"
    assert step.when == "{service} == 'a'"
    assert step.timeout == 300
    assert step.env == {"A": "w", "B": "mine"}
    assert step.outputs == ["said"]


def test_non_text_with_values_become_text() -> None:
    step = resolved_step(id="g", uses="greet", **{"with": {"who": 3, "greeting": True}})
    assert step.run == "echo 'true' '3' {run.id}"


def test_sub_jobs_and_plain_steps_stay() -> None:
    sub = JobStepDef.model_validate({"id": "s", "uses": "job/other", "with": {"a": "{service}"}})
    plain = JobStepDef(id="p", run="x")
    job = make_job(sub, plain)
    assert resolve_uses(job, STEPS).steps == [sub, plain]


def test_unknown_step_raises() -> None:
    with pytest.raises(NotFoundError, match="step 'nope' is not defined"):
        resolve_uses(make_job(JobStepDef(id="a", uses="nope")), STEPS)


def test_job_references() -> None:
    job = make_job(
        JobStepDef(id="a", uses="greet"),
        JobStepDef(id="b", uses="job/other"),
        JobStepDef(id="c", run="x"),
    )
    assert job_references(job) == {"greet", "job/other"}
