"""Schemathesis drives every operation of the published OpenAPI document: no 500s, ever."""

from __future__ import annotations

from typing import Any

import schemathesis
from api_client import Api
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 30


def _operations(api: Api) -> list[Any]:
    token = api.tokens["admin"]
    schema = schemathesis.openapi.from_asgi(
        "/api/v1/openapi.json", api.app, headers={"Authorization": f"Bearer {token}"}
    )
    found = [result.ok() for result in schema.get_all_operations()]
    # Event streams follow a run until it ends; they are tested on their own.
    return [op for op in found if not op.path.endswith("/events")]


def test_no_operation_answers_500(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    operations = _operations(api)
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.text[:300],
            )

        check()
