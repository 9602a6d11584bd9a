"""One policy table (role × operation) drives every permission check; anything not listed is denied.

三权分立: the system administrator runs accounts, service-account tokens and configuration, the
security administrator grants roles and scopes, the audit administrator reads the security log. None of them can
do the others' work, and no user can hold two of these roles.
"""

from __future__ import annotations

import enum

from planwatch.models.enums import ADMIN_ROLES, Role


class Operation(enum.StrEnum):
    catalogue_read = "catalogue.read"
    """Read plans, targets and their evaluation beyond what is public."""
    catalogue_edit = "catalogue.edit"
    """Fill in or correct a target (within the capture scope)."""
    data_read = "data.read"
    """Read indicator values of divisions in the view scope."""
    data_write = "data.write"
    """Report indicator values for divisions in the capture scope."""
    data_approve = "data.approve"
    """Approve and un-approve units' data one level down, and reopen closed cells (lock exceptions)."""
    evaluation_publish = "evaluation.publish"
    """Publish an evaluation round (年度监测/中期评估/总结评估) and record qualitative assessments."""
    accounts_read = "accounts.read"
    accounts_manage = "accounts.manage"
    """Create, disable and re-enable accounts; reset passwords."""
    grants_manage = "grants.manage"
    """Grant and revoke roles and scopes."""
    tokens_manage = "tokens.manage"
    audit_read = "audit.read"
    pii_unmask = "pii.unmask"
    requests_read = "requests.read"
    """Read citizens' requests in full (personal data masked), the queues and their metrics."""
    requests_handle = "requests.handle"
    """Sign for, contact, progress and answer requests held by one's own department or district."""
    requests_dispatch = "requests.dispatch"
    """The 12345 centre's work: confirm types, dispatch, transfer, close, reopen, record callbacks."""
    surveys_manage = "surveys.manage"
    """Define, publish and close demand surveys."""


_BUSINESS_READ = {Operation.catalogue_read, Operation.data_read, Operation.requests_read}

POLICY: dict[Role, frozenset[Operation]] = {
    Role.planner: frozenset(
        {
            *_BUSINESS_READ,
            Operation.catalogue_edit,
            Operation.data_write,
            Operation.data_approve,
            Operation.evaluation_publish,
            Operation.pii_unmask,
            Operation.requests_handle,
            Operation.requests_dispatch,
            Operation.surveys_manage,
        }
    ),
    Role.department_reporter: frozenset({*_BUSINESS_READ, Operation.data_write, Operation.requests_handle}),
    Role.district_reporter: frozenset({*_BUSINESS_READ, Operation.data_write, Operation.requests_handle}),
    Role.reviewer: frozenset(_BUSINESS_READ),
    # Who grants a service account its roles must not also hold its tokens: the security
    # administrator grants, the system administrator issues tokens (it takes both to act).
    Role.sys_admin: frozenset({Operation.accounts_read, Operation.accounts_manage, Operation.tokens_manage}),
    Role.security_admin: frozenset({Operation.accounts_read, Operation.grants_manage, Operation.pii_unmask}),
    Role.audit_admin: frozenset({Operation.audit_read}),
}


def allowed(roles: frozenset[Role] | set[Role], operation: Operation) -> bool:
    """Whether any of ``roles`` may perform ``operation`` (deny by default)."""
    return any(operation in POLICY.get(role, frozenset()) for role in roles)


def conflicting_admin_role(current: set[Role], new: Role) -> Role | None:
    """The role ``new`` would clash with, if any: an administrator (三权分立) holds exactly one
    role, so an administrator role excludes every other role and vice versa."""
    others = [role for role in current if role is not new]
    if new in ADMIN_ROLES:
        return others[0] if others else None
    return next((role for role in others if role in ADMIN_ROLES), None)
