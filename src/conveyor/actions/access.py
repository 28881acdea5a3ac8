"""Who acts, and whether they may: roles per category (SPEC section 7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from conveyor.errors import AccessDenied


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    EDITOR = "editor"


# A role includes the roles listed for it: an operator may also view, and so on.
_INCLUDES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.VIEWER}),
    Role.APPROVER: frozenset({Role.APPROVER, Role.VIEWER}),
    Role.EDITOR: frozenset({Role.EDITOR, Role.OPERATOR, Role.VIEWER}),
}
ALL_CATEGORIES = "*"


@dataclass(frozen=True)
class Actor:
    """The person (or system) performing an action, with their grants."""

    name: str
    source: str = "cli"
    is_admin: bool = False
    grants: Mapping[str, frozenset[Role]] = field(default_factory=dict)

    def has(self, role: Role, category: str) -> bool:
        if self.is_admin:
            return True
        for scope in (category, ALL_CATEGORIES):
            if any(role in _INCLUDES[held] for held in self.grants.get(scope, ())):
                return True
        return False

    def require(self, role: Role, category: str, action: str) -> None:
        """Raise AccessDenied unless this actor holds `role` in `category`."""
        if not self.has(role, category):
            raise AccessDenied(
                f"user {self.name!r} may not {action}: it needs the {role.value} role "
                f"in category {category!r}"
            )

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise AccessDenied(f"user {self.name!r} may not {action}: it needs to be an admin")


SYSTEM = Actor(name="conveyor", source="system", is_admin=True)
