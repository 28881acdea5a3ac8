"""Random JSON to every POST route: a refusal (4xx) or a success, never a server error.

Stands in for a schemathesis run, which this project does not install.
"""

from __future__ import annotations

import json
from typing import Any

from api_client import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies shaped like the real ones are more likely to get past validation.
_fields = st.sampled_from(
    [
        "job",
        "params",
        "fields",
        "reason",
        "force",
        "outputs",
        "name",
        "password",
        "admin",
        "grants",
        "category",
        "role",
        "user",
        "yaml",
        "service",
        "token",
    ]
)
_bodies = _json | st.dictionaries(_fields, _json, max_size=4)
_steps = st.sampled_from(["approve", "build", "nope", "x" * 70, "%2F..%2F", ""])


def _post_paths(api: Api, run_id: int) -> list[str]:
    paths = []
    for template, operations in api.app.openapi()["paths"].items():
        if "post" in operations:
            paths.append(template)
    return paths


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_json_never_breaks_a_post_route(api: Api, data: st.DataObject) -> None:
    run_id = api.submit()
    templates = _post_paths(api, run_id)
    template = data.draw(st.sampled_from(templates))
    path = (
        template.replace("{run_id}", str(data.draw(st.sampled_from([run_id, 0, 2**31, 99]))))
        .replace("{step}", data.draw(_steps))
        .replace("{name}", data.draw(st.sampled_from(["viewer", "nobody", "a b"])))
        .replace("{token_id}", str(data.draw(st.integers(-1, 2**40))))
    )
    body: Any = data.draw(_bodies)
    user = data.draw(st.sampled_from(["admin", "operator", "approver", "viewer"]))
    response = api.client.post(
        path,
        content=json.dumps(body),
        headers={**api.as_(user), "Content-Type": "application/json"},
    )
    assert response.status_code < 500, (path, body, response.text)
    assert "error" in response.json() or response.status_code < 400


NUL_CASES = [
    ("/api/v1/runs", {"job": "\x00"}),
    ("/api/v1/runs", {"job": "deploy", "params": {"service": "web", "token": "a\x00b"}}),
    ("/api/v1/tokens", {"name": "x\x00y"}),
    ("/api/v1/users/viewer/grants", {"category": "\x00", "role": "viewer"}),
    ("/api/v1/runs/1/steps/approve/reject", {"reason": "\x00"}),
    ("/api/v1/runs/1/steps/approve/succeed", {"outputs": {"\x00": "x"}}),
    ("/api/v1/jobs", {"yaml": "kind: job\x00"}),
]


def test_nul_characters_are_refused_not_stored(api: Api) -> None:
    api.submit()
    for path, body in NUL_CASES:
        response = api.client.post(path, json=body, headers=api.as_("admin"))
        assert response.status_code == 422, (path, response.text)
    for path in ("/api/v1/jobs/%00", "/api/v1/runs?job=%00", "/api/v1/lookups/a%00"):
        assert api.client.get(path, headers=api.as_("admin")).status_code == 422
