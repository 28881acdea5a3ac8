"""The values placeholders resolve to in one run: params, outputs, the item, run facts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.definitions.templates import Ref


class MissingValue(LookupError):
    """A placeholder names a value this run does not have (yet)."""


@dataclass(frozen=True)
class Scope:
    params: Mapping[str, Any]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    item: Any = None
    run_id: int = 0
    submitter: str = ""
    job_name: str = ""
    secret_names: frozenset[str] = frozenset()

    def resolve(self, ref: Ref) -> Any:
        """The raw value of a placeholder; raises MissingValue with a plain sentence."""
        path = ref.path
        head = path[0]
        if len(path) == 1:
            if head == "item":
                return self.item
            if head in self.params:
                return self.params[head]
        elif head == "steps" and len(path) == 4 and path[2] == "outputs":
            return self._output(path[1], path[3])
        elif head == "run" and len(path) == 2 and path[1] in ("id", "submitter"):
            return self.run_id if path[1] == "id" else self.submitter
        elif head == "job" and path[1:] == ("name",):
            return self.job_name
        raise MissingValue(f"placeholder {{{ref.text}}} has no value in this run")

    def _output(self, step_key: str, key: str) -> Any:
        outputs = self.outputs.get(step_key)
        if outputs is None:
            raise MissingValue(f"step {step_key!r} has no outputs in this run")
        if isinstance(outputs, list):
            return [item.get(key) for item in outputs]
        if key in outputs:
            return outputs[key]
        if key.startswith("json.") and "body" in outputs:
            return _json_path(outputs["body"], key[len("json.") :])
        raise MissingValue(f"step {step_key!r} did not set the output {key!r}")


def _json_path(body: str, path: str) -> Any:
    try:
        value: Any = json.loads(body)
    except ValueError as exc:
        raise MissingValue("the step's body is not JSON") from exc
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise MissingValue(f"the step's JSON body has no {path!r}")
    return value


def as_text(value: Any) -> str:
    """How a value reads when substituted into text outside a shell command."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return ",".join(as_text(v) for v in value) if isinstance(value, list) else json.dumps(value)
    return str(value)
