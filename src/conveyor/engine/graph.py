"""The step graph of a job: needs, dependants, order, and cycle detection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Graph:
    """Steps and their `needs`, in definition order."""

    needs: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, edges: Iterable[tuple[str, Iterable[str]]]) -> Graph:
        return cls({key: tuple(needs) for key, needs in edges})

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.needs)

    @cached_property
    def dependants(self) -> Mapping[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {key: [] for key in self.needs}
        for key, needs in self.needs.items():
            for need in needs:
                found.setdefault(need, []).append(key)
        return {key: tuple(values) for key, values in found.items()}

    def roots(self) -> tuple[str, ...]:
        return tuple(key for key, needs in self.needs.items() if not needs)

    def upstream(self, key: str) -> frozenset[str]:
        """Every step `key` needs, directly or transitively."""
        seen: set[str] = set()
        stack = list(self.needs.get(key, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.needs.get(current, ()))
        return frozenset(seen)

    def downstream(self, key: str) -> frozenset[str]:
        """Every step that needs `key`, directly or transitively."""
        seen: set[str] = set()
        stack = list(self.dependants.get(key, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.dependants.get(current, ()))
        return frozenset(seen)

    def find_cycle(self) -> list[str] | None:
        """A cycle as a list of keys (first == last), or None. Unknown needs are ignored."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.needs, white)
        path: list[str] = []

        def visit(key: str) -> list[str] | None:
            color[key] = grey
            path.append(key)
            for need in self.needs[key]:
                if need not in color:
                    continue
                if color[need] == grey:
                    return [*path[path.index(need) :], need]
                if color[need] == white and (cycle := visit(need)):
                    return cycle
            path.pop()
            color[key] = black
            return None

        for key in self.needs:
            if color[key] == white and (cycle := visit(key)):
                return cycle
        return None
