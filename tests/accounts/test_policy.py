"""The policy table: deny by default, 三权分立."""

from __future__ import annotations

from planwatch.accounts.policy import POLICY, Operation, allowed, conflicting_admin_role
from planwatch.models.enums import ADMIN_ROLES, Role


def test_every_role_is_in_the_table_and_every_operation_has_a_role() -> None:
    assert set(POLICY) == set(Role)
    granted = set().union(*POLICY.values())
    assert granted == set(Operation)


def test_no_roles_no_rights() -> None:
    assert not any(allowed(frozenset(), op) for op in Operation)


def test_the_three_administrators_share_no_work() -> None:
    # reading the account list is shared: the security administrator grants roles to those accounts
    admins = [POLICY[role] - {Operation.accounts_read} for role in ADMIN_ROLES]
    for i, first in enumerate(admins):
        for second in admins[i + 1 :]:
            assert not first & second


def test_administrators_cannot_touch_business_data() -> None:
    for role in ADMIN_ROLES:
        assert not allowed(frozenset({role}), Operation.data_write)
        assert not allowed(frozenset({role}), Operation.catalogue_edit)


def test_only_the_audit_administrator_reads_the_log() -> None:
    assert [role for role in Role if allowed(frozenset({role}), Operation.audit_read)] == [Role.audit_admin]


def test_an_administrator_holds_exactly_one_role() -> None:
    assert conflicting_admin_role({Role.sys_admin}, Role.audit_admin) is Role.sys_admin
    assert conflicting_admin_role({Role.sys_admin}, Role.sys_admin) is None
    assert conflicting_admin_role({Role.planner}, Role.security_admin) is Role.planner
    assert conflicting_admin_role({Role.security_admin}, Role.planner) is Role.security_admin
    assert conflicting_admin_role({Role.planner}, Role.reviewer) is None
