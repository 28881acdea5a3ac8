"""The `when` language: a small expression tree over literals and placeholders, never `eval`.

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
    operand    := string | number | true | false | null | list | placeholder | "(" expr ")"
    list       := "[" (operand ("," operand)*)? "]"

Params usually arrive as text, so a number compared with a numeric text compares as numbers;
ordering values of unrelated types is False rather than an error, so a `when` never crashes a run.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conveyor.definitions.templates import Ref, TemplateSyntaxError, parse_ref

MAX_LENGTH = 500
MAX_DEPTH = 32

Resolve = Callable[[Ref], Any]


class ExpressionError(ValueError):
    """A `when` expression does not parse; the message is one sentence."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<ref>\{[^{}]*\})
      | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
      | (?P<word>[A-Za-z_]\w*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_FALSY_TEXT = {"", "false", "no", "0", "null", "none"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:  # only trailing whitespace matched
            continue
        value = match.group(kind)
        if kind == "bad":
            where = match.start(kind) + 1
            raise ExpressionError(f"unexpected character {value!r} at position {where}")
        if kind == "word" and value not in _KEYWORDS:
            raise ExpressionError(
                f"unknown word {value!r}; quote text ('{value}') or use a placeholder ({{{value}}})"
            )
        tokens.append(_Token(kind, value, match.start(kind) + 1))
    return tokens


# -- values -------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """The value as a number if it is one or a numeric text; bools are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        # A bool param may arrive as the text "true"; compare by truth words, not by identity.
        return _truth_word(left) is not None and _truth_word(left) == _truth_word(right)
    a, b = _number(left), _number(right)
    if a is not None and b is not None and not (isinstance(left, str) and isinstance(right, str)):
        return a == b
    return bool(left == right)


def _truth_word(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def _order(op: str, left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return _ORDER[op](a, b)
    if isinstance(left, str) and isinstance(right, str):
        return _ORDER[op](left, right)  # two texts order alphabetically
    return False


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _contains(item: Any, container: Any) -> bool:
    if isinstance(container, list | tuple):
        return any(_equal(item, element) for element in container)
    if isinstance(container, str) and isinstance(item, str):
        return item in container
    return False


def truthy(value: Any) -> bool:
    """How a bare value reads as a condition: "false", "no", "0" and "" are false texts."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    return bool(value)


# -- tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One node of the expression tree."""

    def value(self, resolve: Resolve) -> Any:
        """Compute this node's value, asking `resolve` for placeholders."""
        raise NotImplementedError

    def refs(self) -> Iterator[Ref]:
        """The placeholders under this node."""
        return iter(())


@dataclass(frozen=True)
class Literal(Node):
    constant: Any

    def value(self, resolve: Resolve) -> Any:
        return self.constant


@dataclass(frozen=True)
class Placeholder(Node):
    ref: Ref

    def value(self, resolve: Resolve) -> Any:
        return resolve(self.ref)

    def refs(self) -> Iterator[Ref]:
        yield self.ref


@dataclass(frozen=True)
class ListNode(Node):
    items: tuple[Node, ...]

    def value(self, resolve: Resolve) -> Any:
        return [item.value(resolve) for item in self.items]

    def refs(self) -> Iterator[Ref]:
        for item in self.items:
            yield from item.refs()


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node

    def value(self, resolve: Resolve) -> Any:
        left, right = self.left.value(resolve), self.right.value(resolve)
        if self.op == "==":
            return _equal(left, right)
        if self.op == "!=":
            return not _equal(left, right)
        if self.op == "in":
            return _contains(left, right)
        if self.op == "not in":
            return not _contains(left, right)
        return _order(self.op, left, right)

    def refs(self) -> Iterator[Ref]:
        yield from self.left.refs()
        yield from self.right.refs()


@dataclass(frozen=True)
class Logic(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]

    def value(self, resolve: Resolve) -> Any:
        results = (truthy(operand.value(resolve)) for operand in self.operands)
        return all(results) if self.op == "and" else any(results)

    def refs(self) -> Iterator[Ref]:
        for operand in self.operands:
            yield from operand.refs()


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    def value(self, resolve: Resolve) -> Any:
        return not truthy(self.operand.value(resolve))

    def refs(self) -> Iterator[Ref]:
        yield from self.operand.refs()


@dataclass(frozen=True)
class Expression:
    """A parsed `when` expression."""

    source: str
    root: Node = field(repr=False)

    @property
    def refs(self) -> tuple[Ref, ...]:
        """Every placeholder the expression reads, in order."""
        return tuple(self.root.refs())

    def evaluate(self, resolve: Resolve) -> bool:
        """True when the condition holds; `resolve` gives each placeholder's value."""
        return truthy(self.root.value(resolve))


# -- parser -------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self, offset: int = 0) -> _Token | None:
        at = self.index + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def at(self, text: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind in {"op", "word"} and token.text == text

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind == "string":
            found = token.text
            raise ExpressionError(f"expected '{text}' at position {token.pos}, found {found!r}")

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels")

    def expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.not_expr)

    def _chain(self, op: str, operand: Callable[[], Node]) -> Node:
        operands = [operand()]
        while self.at(op):
            self.take()
            operands.append(operand())
        return operands[0] if len(operands) == 1 else Logic(op, tuple(operands))

    def not_expr(self) -> Node:
        if self.at("not") and not self.at("in", 1):
            self.take()
            self.nested()
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is None or token.kind not in {"op", "word"}:
            return left
        if token.text in {"==", "!=", "<", "<=", ">", ">=", "in"}:
            op = self.take().text
        elif token.text == "not" and self.at("in", 1):
            self.index += 2
            op = "not in"
        else:
            return left
        return Compare(op, left, self.operand())

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "number":
            number = float(token.text)
            return Literal(int(token.text) if token.text.lstrip("-").isdigit() else number)
        if token.kind == "ref":
            return Placeholder(_ref(token))
        if token.kind == "word" and token.text in {"true", "false", "null"}:
            return Literal({"true": True, "false": False, "null": None}[token.text])
        if token.text == "(":
            return self._group()
        if token.text == "[":
            return self._list()
        raise ExpressionError(f"expected a value at position {token.pos}, found {token.text!r}")

    def _group(self) -> Node:
        self.nested()
        node = self.expr()
        self.expect(")")
        self.depth -= 1
        return node

    def _list(self) -> Node:
        self.nested()
        items: list[Node] = []
        if not self.at("]"):
            items.append(self.operand())
            while self.at(","):
                self.take()
                items.append(self.operand())
        self.expect("]")
        self.depth -= 1
        return ListNode(tuple(items))


def _unquote(text: str) -> str:
    body = text[1:-1]
    # Only the quote and the backslash are escapable: no other escape has a meaning here.
    return re.sub(r"\\(.)", r"\1", body)


def _ref(token: _Token) -> Ref:
    try:
        return parse_ref(token.text[1:-1])
    except TemplateSyntaxError as exc:
        raise ExpressionError(str(exc)) from None


def parse_expression(text: str) -> Expression:
    """Parse a `when` expression into a tree; raises `ExpressionError` with one sentence."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("the expression is empty")
    parser = _Parser(tokens)
    root = parser.expr()
    extra = parser.peek()
    if extra is not None:
        raise ExpressionError(f"unexpected {extra.text!r} at position {extra.pos}")
    return Expression(text, root)
