"""The acting principal: a user (through a session or an API token) or the anonymous public."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from planwatch.accounts.policy import Operation, allowed
from planwatch.audit.security_log import Actor
from planwatch.divisions.tree import DivisionTree
from planwatch.errors import ForbiddenError, OutOfScopeError
from planwatch.models.enums import Role

Via = Literal["anonymous", "session", "token", "cli"]


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    roles: frozenset[Role]
    capture: frozenset[int] = frozenset()
    """Division ids the principal may write in, descendants included."""
    view: frozenset[int] = frozenset()
    """Division ids the principal may read, descendants included."""
    departments: frozenset[int] = frozenset()
    via: Via = "anonymous"
    session_id: int | None = None
    csrf_token: str | None = field(default=None, repr=False)
    must_change_password: bool = False
    source_ip: str = "-"
    request_id: str = "-"
    token_id: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.user_id is None and self.via != "cli"

    def may_report(self, division_id: int, department_id: int | None) -> bool:
        """Whether this principal may write values of a division (in the capture scope) for an
        indicator reported by ``department_id`` (any, unless the principal is tied to departments)."""
        return division_id in self.capture and (
            not self.departments or (department_id is not None and department_id in self.departments)
        )

    def can(self, operation: Operation) -> bool:
        return not self.must_change_password and allowed(self.roles, operation)

    def require(self, operation: Operation) -> None:
        """Raise 403 unless allowed (the caller records the denial in the security log)."""
        if self.anonymous:
            raise ForbiddenError("sign in first (登录后再操作)")
        if self.must_change_password:
            raise ForbiddenError("change your password first (请先修改密码): /account/password")
        if not allowed(self.roles, operation):
            raise ForbiddenError(f"your roles do not allow {operation.value}")

    def require_capture(self, division_id: int, what: str) -> None:
        """Out-of-scope objects answer 404, as if they did not exist [ACC-1]."""
        if division_id not in self.capture:
            raise OutOfScopeError(f"no {what} here (不存在或不在您的权限范围内)")

    def can_view(self, division_id: int) -> bool:
        return division_id in self.view

    @property
    def actor(self) -> Actor:
        roles = ",".join(sorted(r.value for r in self.roles)) or "-"
        return Actor(
            name=self.username,
            roles=f"{roles} (token {self.token_id})" if self.token_id is not None else roles,
            source_ip=self.source_ip,
            request_id=self.request_id,
        )


def anonymous(source_ip: str = "-", request_id: str = "-") -> Principal:
    return Principal(None, "anonymous", frozenset(), source_ip=source_ip, request_id=request_id)


def local_operator(tree: DivisionTree, name: str) -> Principal:
    """Whoever runs the CLI on the server: already holds the database, so may do what a planner
    does everywhere; every change is still recorded under ``name``."""
    everything = frozenset(tree.nodes)
    return Principal(
        None,
        name,
        frozenset({Role.planner}),
        capture=everything,
        view=everything,
        via="cli",
        source_ip="local",
        request_id="cli",
    )


def expand(tree: DivisionTree, division_ids: Iterable[int]) -> frozenset[int]:
    """The divisions named and all their descendants."""
    out: set[int] = set()
    for division_id in division_ids:
        if division_id in tree.nodes:
            out.add(division_id)
            out.update(node.id for node in tree.descendants(division_id))
    return frozenset(out)
