"""``planwatch users``, ``planwatch tokens``, ``planwatch audit``: accounts from the server's shell.

Whoever runs the CLI on the server already holds the database, so these commands act as the local
operator; every change is still recorded in the security log, as ``cli:<OS user>``.
"""

from __future__ import annotations

import getpass
import json
import secrets
import string
from typing import Annotated

import typer
from rich.table import Table

from planwatch.accounts import service
from planwatch.accounts.passwords import password_problems
from planwatch.audit import security_log
from planwatch.audit.security_log import Actor
from planwatch.cli.context import console, print_json, reports_errors, unit_of_work
from planwatch.clock import as_utc, system_clock
from planwatch.config import Settings
from planwatch.models import ApiToken
from planwatch.models.enums import Role, ScopeKind

users_app = typer.Typer(
    help="Accounts: add, list, disable, enable, grant, revoke, passwd.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens for departments' systems: create, list, revoke.", no_args_is_help=True
)
audit_app = typer.Typer(help="The security log: show, verify, purge.", no_args_is_help=True)

RoleOption = Annotated[list[Role] | None, typer.Option("--role", help="Role (repeatable).")]
CaptureOption = Annotated[
    list[str] | None, typer.Option("--capture", help="Division code where they may write.")
]
ViewOption = Annotated[list[str] | None, typer.Option("--view", help="Division code they may read.")]
DepartmentOption = Annotated[
    list[str] | None, typer.Option("--department", help="Department code they report for.")
]


def operator() -> Actor:
    return Actor(name=f"cli:{getpass.getuser()}", roles="local operator", source_ip="local", request_id="cli")


def generate_password(settings: Settings, username: str) -> str:
    """A random password that passes the policy (shown once, never stored in clear)."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(max(16, settings.password_min_length)))
        if not password_problems(candidate, username=username, policy=service.policy_for(settings)):
            return candidate


def _grants(
    session: object,
    user: object,
    *,
    roles: list[Role],
    capture: list[str],
    view: list[str],
    departments: list[str],
    revoke: bool,
) -> None:
    now = system_clock()
    actor = operator()
    role_fn = service.revoke_role if revoke else service.grant_role
    scope_fn = service.revoke_scope if revoke else service.grant_scope
    for role in roles:
        role_fn(session, user, role, actor=actor, now=now)  # type: ignore[arg-type]
    for kind, codes in (
        (ScopeKind.capture, capture),
        (ScopeKind.view, view),
        (ScopeKind.department, departments),
    ):
        for code in codes:
            scope_fn(session, user, kind, code, actor=actor, now=now)  # type: ignore[arg-type]


@users_app.command("add")
@reports_errors
def users_add(
    username: Annotated[str, typer.Argument(help="User name (Chinese names are fine).")],
    role: RoleOption = None,
    capture: CaptureOption = None,
    view: ViewOption = None,
    department: DepartmentOption = None,
    display_name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Contact phone (shown masked).")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
    service_account: Annotated[
        bool, typer.Option("--service", help="A department system's account: no sign-in, API tokens only.")
    ] = False,
) -> None:
    """Add an account; without --password-stdin a random password is printed once."""
    settings = Settings()
    password = input().rstrip("\n") if password_stdin else generate_password(settings, username)
    if service_account:
        password_stdin = True  # nothing to print: a service account has no password anyone uses
    with unit_of_work(settings) as session:
        user = service.create_user(
            session,
            username=username,
            password=password,
            display_name=display_name,
            phone=phone,
            settings=settings,
            actor=operator(),
            now=system_clock(),
            must_change_password=not settings.demo,
            service_account=service_account,
        )
        _grants(
            session,
            user,
            roles=role or [],
            capture=capture or [],
            view=view or [],
            departments=department or [],
            revoke=False,
        )
        name = user.username
    console.print(f"added {name}", highlight=False)
    if not password_stdin:
        console.print(f"password (shown once): {password}", markup=False, highlight=False)


@users_app.command("list")
@reports_errors
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account with roles and scopes (phone numbers masked)."""
    settings = Settings()
    with unit_of_work(settings) as session:
        views = service.list_users(session, settings=settings, now=system_clock())
    if as_json:
        print_json(json.dumps([v.__dict__ for v in views], ensure_ascii=False, indent=1))
        return
    table = Table(header_style="bold")
    for column in ("id", "user", "roles", "capture", "view", "departments", "phone", "state"):
        table.add_column(column, overflow="fold")
    for v in views:
        state = (
            "disabled"
            if v.disabled
            else "locked"
            if v.locked
            else "must change password"
            if v.must_change_password
            else "active"
        )
        table.add_row(
            str(v.id),
            v.username,
            ", ".join(v.roles),
            ", ".join(v.capture),
            ", ".join(v.view),
            ", ".join(v.departments),
            v.phone or "",
            state,
        )
    console.print(table)


def _toggle(username: str, disabled: bool) -> None:
    settings = Settings()
    with unit_of_work(settings) as session:
        user = service.get_user(session, username)
        service.set_disabled(session, user, disabled, actor=operator(), now=system_clock())
    console.print(
        f"{username}: {'disabled (its sessions ended)' if disabled else 'enabled'}", highlight=False
    )


@users_app.command("disable")
@reports_errors
def users_disable(username: str) -> None:
    """Disable an account and end its sessions."""
    _toggle(username, True)


@users_app.command("enable")
@reports_errors
def users_enable(username: str) -> None:
    """Re-enable an account."""
    _toggle(username, False)


def _change_grants(
    username: str,
    *,
    roles: list[Role],
    capture: list[str],
    view: list[str],
    departments: list[str],
    revoke: bool,
) -> None:
    settings = Settings()
    with unit_of_work(settings) as session:
        user = service.get_user(session, username)
        _grants(
            session, user, roles=roles, capture=capture, view=view, departments=departments, revoke=revoke
        )
    console.print(f"{username}: {'revoked' if revoke else 'granted'}", highlight=False)


@users_app.command("grant")
@reports_errors
def users_grant(
    username: str,
    role: RoleOption = None,
    capture: CaptureOption = None,
    view: ViewOption = None,
    department: DepartmentOption = None,
) -> None:
    """Grant roles and scopes (the three administrator roles exclude each other)."""
    _change_grants(
        username,
        roles=role or [],
        capture=capture or [],
        view=view or [],
        departments=department or [],
        revoke=False,
    )


@users_app.command("revoke")
@reports_errors
def users_revoke(
    username: str,
    role: RoleOption = None,
    capture: CaptureOption = None,
    view: ViewOption = None,
    department: DepartmentOption = None,
) -> None:
    """Revoke roles and scopes."""
    _change_grants(
        username,
        roles=role or [],
        capture=capture or [],
        view=view or [],
        departments=department or [],
        revoke=True,
    )


@users_app.command("passwd")
@reports_errors
def users_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the new password from standard input.")] = False,
) -> None:
    """Reset a password (printed once); the user must change it at next sign-in."""
    settings = Settings()
    password = input().rstrip("\n") if password_stdin else generate_password(settings, username)
    with unit_of_work(settings) as session:
        user = service.get_user(session, username)
        service.change_password(
            session,
            user,
            new_password=password,
            settings=settings,
            actor=operator(),
            now=system_clock(),
            must_change=not settings.demo,
        )
    console.print(f"{username}: password reset; all sessions ended", highlight=False)
    if not password_stdin:
        console.print(f"new password (shown once): {password}", markup=False, highlight=False)


@tokens_app.command("create")
@reports_errors
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="The (service) account the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="What uses it, e.g. 民政局养老数据接口.")],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 90,
) -> None:
    """Create an API token; the secret is printed once."""
    settings = Settings()
    with unit_of_work(settings) as session:
        account = service.get_user(session, user)
        secret, token = service.create_token(
            session, account, name=name, days=days, settings=settings, actor=operator(), now=system_clock()
        )
        token_id, expires = token.id, as_utc(token.expires_at)
    console.print(f"token {token_id} for {user}, expires {expires:%Y-%m-%d %H:%M} UTC", highlight=False)
    console.print(f"secret (shown once): {secret}", markup=False, highlight=False)


@tokens_app.command("list")
@reports_errors
def tokens_list() -> None:
    """Tokens with their owner, prefix and state (never the secret)."""
    from sqlalchemy import select

    settings = Settings()
    now = system_clock()
    table = Table(header_style="bold")
    for column in ("id", "user", "name", "prefix", "expires", "state"):
        table.add_column(column)
    with unit_of_work(settings) as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = "revoked" if t.revoked_at else "expired" if as_utc(t.expires_at) <= now else "active"
            table.add_row(
                str(t.id), t.user.username, t.name, t.prefix + "…", f"{as_utc(t.expires_at):%Y-%m-%d}", state
            )
    console.print(table)


@tokens_app.command("revoke")
@reports_errors
def tokens_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    settings = Settings()
    with unit_of_work(settings) as session:
        service.revoke_token(session, token_id, actor=operator(), now=system_clock())
    console.print(f"token {token_id} revoked", highlight=False)


@audit_app.command("security-log")
@reports_errors
def audit_security_log(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. login.failure.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 50,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute the hash chain and report the first broken row.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the latest security events, or verify the chain (exit code 1 if broken)."""
    settings = Settings()
    with unit_of_work(settings) as session:
        if verify:
            result = security_log.verify(session)
            console.print(result.message, highlight=False)
            if result.broken_at is not None:
                raise typer.Exit(1)
            return
        rows = security_log.events(session, action=action, actor=actor, limit=limit)
        data = [
            {"id": e.id, "at": as_utc(e.at).isoformat(), "actor": e.actor, "role": e.actor_role, "ip": e.source_ip, "action": e.action,
             "object": f"{e.object_type}:{e.object_id}", "result": e.result, "request_id": e.request_id, "detail": e.detail}
            for e in rows
        ]  # fmt: skip
    if as_json:
        print_json(json.dumps(data, ensure_ascii=False, indent=1))
        return
    table = Table(header_style="bold")
    for column in ("id", "at (UTC)", "actor", "ip", "action", "object", "result"):
        table.add_column(column, overflow="fold")
    for e in data:
        table.add_row(
            str(e["id"]),
            str(e["at"])[:19],
            str(e["actor"]),
            str(e["ip"]),
            str(e["action"]),
            str(e["object"]),
            str(e["result"]),
        )
    console.print(table)


@audit_app.command("purge")
@reports_errors
def audit_purge(
    retention_days: Annotated[int | None, typer.Option(help="Keep this many days (at least 184).")] = None,
) -> None:
    """Delete security events older than the retention (default PLANWATCH_LOG_RETENTION_DAYS)."""
    settings = Settings()
    days = retention_days if retention_days is not None else settings.log_retention_days
    with unit_of_work(settings) as session:
        count = security_log.purge(session, retention_days=days, now=system_clock(), actor=operator())
    console.print(f"purged {count} events older than {days} days", highlight=False)
