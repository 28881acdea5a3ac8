"""Reading definition files: safe YAML, every value located by line, all problems collected.

PyYAML's SafeLoader composes nodes (which carry line marks); we turn them into plain data
ourselves so that we can refuse what a definition never needs and an attacker might use:
anchors and aliases (billion laughs), non-standard tags, merge keys, duplicate keys, deep
nesting and huge documents. Mapping keys are kept as written, so YAML 1.1 does not turn the
step key `on` into `True`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from conveyor.definitions.models import Definition, JobDef, LookupDef, StepDef
from conveyor.errors import DefinitionError, Problem

MAX_DOCUMENT_CHARS = 1 << 20
MAX_FILE_BYTES = 16 << 20
MAX_DEPTH = 64
_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {
    _STD + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
}
_MODELS: dict[str, type[BaseModel]] = {"job": JobDef, "step": StepDef, "lookup": LookupDef}
_LABELS = {"steps": "steps", "params": "param", "fields": "field"}

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """One definition read from YAML, with where it came from and its own source text."""

    definition: Definition
    source: str
    line: int
    text: str
    lines: Mapping[KeyPath, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, path: KeyPath) -> int:
        """The line of the key or item at `path`, else of its nearest located ancestor."""
        return _line_of(self.lines, path, self.line)


def _line_of(lines: Mapping[KeyPath, int], path: KeyPath, default: int) -> int:
    for size in range(len(path), 0, -1):
        line = lines.get(path[:size])
        if line is not None:
            return line
    return default


class _Refused(yaml.MarkedYAMLError):
    """Something the composer must stop at before it is built (an alias, too deep)."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=message, problem_mark=mark)


class _Loader(yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused("anchors and aliases are not allowed", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    f"the document nests deeper than {MAX_DEPTH} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns one composed document into plain data, recording the line of every key and item."""

    def __init__(self, loader: _Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []

    def refuse(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.source, _line(node), message))

    def build(self, node: Node, path: KeyPath) -> Any:
        if node.tag not in _ALLOWED_TAGS:
            self.refuse(node, f"the tag {node.tag.replace(_STD, '!!')} is not allowed")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            result = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = _line(item)
                result.append(self.build(item, (*path, index)))
            return result
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                self.refuse(key_node, "merge keys (<<) are not allowed")
                continue
            if not isinstance(key_node, ScalarNode):
                self.refuse(key_node, "a key must be a plain name, not a list or mapping")
                continue
            key = str(key_node.value)
            if key in result:
                self.refuse(key_node, f"duplicate key '{key}'")
                continue
            self.lines[(*path, key)] = _line(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: Node) -> Any:
        if node.tag == _STD + "timestamp":
            return str(node.value)  # dates stay ISO text: definitions are stored as JSON
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError):
            self.refuse(node, f"the value {str(node.value)[:40]!r} cannot be read")
            return None


def load_text(text: str, source: str) -> list[Document]:
    """Read every definition in a YAML text; raises `DefinitionError` with all problems."""
    problems: list[Problem] = []
    documents = _load(text, source, problems)
    if problems:
        raise DefinitionError(problems)
    return documents


def load_paths(paths: Sequence[str | Path]) -> list[Document]:
    """Read files, or every *.yaml/*.yml under a directory (sorted); all problems at once."""
    problems: list[Problem] = []
    documents: list[Document] = []
    for path in _files(paths, problems):
        text = _read(path, problems)
        if text is not None:
            documents.extend(_load(text, str(path), problems))
    if problems:
        raise DefinitionError(problems)
    return documents


def _files(paths: Sequence[str | Path], problems: list[Problem]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"})
            if not found:
                problems.append(Problem(str(path), 0, "no .yaml or .yml files in this folder"))
            yield from (p for p in found if p.is_file())
        else:
            yield path


def _read(path: Path, problems: list[Problem]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(str(path), 0, "the file is larger than 16 MiB"))
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(str(path), 0, f"cannot read the file: {exc.strerror}"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(str(path), line, "the file is not valid UTF-8"))
        return None


def _load(text: str, source: str, problems: list[Problem]) -> list[Document]:
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        problems.append(Problem(source, line, "the file contains a NUL character"))
        return []
    if len(text) > MAX_FILE_BYTES:
        problems.append(Problem(source, 0, "the text is larger than 16 MiB"))
        return []
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        # The reader checks every character up front, before any document is parsed.
        line = text[: exc.position].count("\n") + 1
        problems.append(
            Problem(source, line, f"the text holds a control character (U+{exc.character:04X})")
        )
        return []
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                document = _document(loader, node, text, source, problems)
                if document is not None:
                    documents.append(document)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 0
        problems.append(Problem(source, line, _yaml_sentence(exc)))
    except yaml.YAMLError as exc:
        problems.append(Problem(source, 0, f"the YAML cannot be read: {exc}"))
    finally:
        loader.dispose()
    return documents


def _yaml_sentence(exc: yaml.MarkedYAMLError) -> str:
    if isinstance(exc, _Refused):
        return str(exc.problem)
    parts = [part for part in (exc.context, exc.problem) if part]
    return "the YAML cannot be read: " + ", ".join(parts)


def _document(
    loader: _Loader, node: Node, text: str, source: str, problems: list[Problem]
) -> Document | None:
    if isinstance(node, ScalarNode) and node.tag == _STD + "null" and not node.value:
        return None  # an empty document, e.g. after a trailing `---`
    own_text = text[node.start_mark.index : node.end_mark.index]
    if len(own_text) > MAX_DOCUMENT_CHARS:
        problems.append(Problem(source, _line(node), "the document is larger than 1 MiB"))
        return None
    builder = _Builder(loader, source)
    data = builder.build(node, ())
    if builder.problems:
        problems.extend(builder.problems)
        return None
    located = _Located(source, _line(node), builder.lines)
    definition = _validate(data, located, problems)
    if definition is None:
        return None
    return Document(definition, source, located.line, own_text, builder.lines)


@dataclass(frozen=True)
class _Located:
    """Where a document's parts are, before its definition exists."""

    source: str
    line: int
    lines: Mapping[KeyPath, int]

    def line_of(self, path: KeyPath) -> int:
        return _line_of(self.lines, path, self.line)


def _validate(data: Any, document: _Located, problems: list[Problem]) -> Definition | None:
    kind = data.get("kind") if isinstance(data, dict) else None
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        if not isinstance(data, dict):
            message = "a document must be a mapping with kind: job, step or lookup"
        elif kind is None:
            message = "a document needs kind: job, step or lookup"
        else:
            message = f"unknown kind {str(kind)[:40]!r}; expected job, step or lookup"
        line = document.line_of(("kind",))
        problems.append(Problem(document.source, line, message))
        return None
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            loc = tuple(error["loc"])
            line = document.line_of(loc)
            problems.append(Problem(document.source, line, describe(loc, error, data)))
        return None


def describe(loc: KeyPath, error: Mapping[str, Any], data: Any) -> str:
    """One plain sentence for a Pydantic error, naming steps by id and params by name."""
    kind, message = error["type"], str(error["msg"])
    if kind in {"extra_forbidden", "missing"} and loc and isinstance(loc[-1], str):
        what = "unknown key" if kind == "extra_forbidden" else "missing required key"
        return _where(loc[:-1], data) + f"{what} '{loc[-1]}'"
    for prefix, replacement in (
        ("Value error, ", ""),
        ("Input should be", "must be"),
        ("String should", "must"),
        ("List should", "must"),
    ):
        if message.startswith(prefix):
            message = replacement + message[len(prefix) :]
            break
    label, rest = _where(loc, data), ""
    if loc and not _is_labelled(loc, data):
        label, rest = _where(loc[:-1], data), _key_text(loc[-1])
    if not rest:
        return label + message
    return label + rest + (" " if message.startswith("must") else ": ") + message


def _is_labelled(loc: KeyPath, data: Any) -> bool:
    return len(loc) >= 2 and isinstance(loc[-1], int) and loc[-2] in _LABELS


def _key_text(key: str | int) -> str:
    return f"[{key}]" if isinstance(key, int) else str(key)


def _where(loc: KeyPath, data: Any) -> str:
    """`steps[2] (rollout): ` / `param 'env': ` / `http.url ` style prefix for a location."""
    labels: list[str] = []
    pending: list[str] = []
    node = data
    for index, key in enumerate(loc):
        node = _child(node, key)
        previous = loc[index - 1] if index else None
        if isinstance(key, int) and isinstance(previous, str) and previous in _LABELS:
            pending.pop()  # the list's name becomes part of the label
            labels.append(" ".join([*pending, _item_label(previous, key, node)]))
            pending = []
        else:
            pending.append(_key_text(key))
    if pending:
        labels.append(".".join(pending).replace(".[", "["))
    return "".join(label + ": " for label in labels)


def _item_label(list_name: str, index: int, item: Any) -> str:
    name = item.get("id" if list_name == "steps" else "name") if isinstance(item, dict) else None
    if list_name == "steps":
        return f"steps[{index}]" + (f" ({name})" if isinstance(name, str) else "")
    if isinstance(name, str):
        return f"{_LABELS[list_name]} '{name}'"
    return f"{list_name}[{index}]"


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None
