"""Account pages over HTTP against the running app (uvicorn on a local port): sign in and out,
own password, user administration, the security log; and one sign-in in headless Chromium."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from planwatch.accounts import service
from planwatch.audit.security_log import SYSTEM
from planwatch.clock import system_clock
from planwatch.db import make_engine, session_factory, transaction
from planwatch.models.enums import Role
from tests.conftest import LiveServer, build_demo_database, database_url, run_live_server, settings_for
from tests.web import test_pages
from tests.web.test_pages import Visit

browser = test_pages.browser  # the module-scoped headless Chromium fixture of the page tests

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def strong_password() -> str:
    return "Ab3!" + "".join(random.choices(string.ascii_letters, k=12))


@dataclass
class Account:
    username: str
    password: str


@dataclass
class Site:
    server: LiveServer
    accounts: dict[str, Account]

    @property
    def url(self) -> str:
        return self.server.url


ACCOUNTS: dict[str, tuple[list[Role], str | None, bool]] = {
    # key: (roles, phone, must change password)
    "planner": ([Role.planner], None, False),
    "sys": ([Role.sys_admin], "13800138000", False),
    "sec": ([Role.security_admin], None, False),
    "audit": ([Role.audit_admin], None, False),
    "leaver": ([Role.reviewer], None, False),
    "changer": ([Role.reviewer], None, True),
    "wrong": ([Role.reviewer], None, False),
    "browser": ([Role.sys_admin], None, False),
    "system": ([Role.department_reporter], None, False),  # a service account (API tokens only)
}


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = database_url(backend, tmp_path_factory, "account_pages")
    build_demo_database(url)
    settings = settings_for(url, demo=True)  # cookie_secure=False: plain http on 127.0.0.1
    accounts: dict[str, Account] = {}
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            now = system_clock()
            for key, (roles, phone, must_change) in ACCOUNTS.items():
                account = Account(f"pg_{key}", strong_password())
                user = service.create_user(
                    session,
                    username=account.username,
                    password=account.password,
                    phone=phone,
                    must_change_password=must_change,
                    service_account=key == "system",
                    settings=settings,
                    actor=SYSTEM,
                    now=now,
                )
                for role in roles:
                    service.grant_role(session, user, role, actor=SYSTEM, now=now)
                accounts[key] = account
    finally:
        engine.dispose()
    for server in run_live_server(settings):
        yield Site(server, accounts)


def client(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=30)


def form_token(response: httpx.Response) -> str:
    match = CSRF_FIELD.search(response.text)
    assert match is not None, response.text
    return match.group(1)


def post_login(http: httpx.Client, username: str, password: str, **extra: str) -> httpx.Response:
    token = form_token(http.get("/login"))
    return http.post(
        "/login", data={"csrf_token": token, "username": username, "password": password, **extra}
    )


@contextmanager
def signed_in(site: Site, key: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in through the login form, and its session's CSRF token."""
    with client(site) as http:
        account = site.accounts[key]
        response = post_login(http, account.username, account.password)
        assert response.status_code == 303, response.text
        csrf = http.get("/api/session").json()["csrf_token"]
        assert csrf
        yield http, csrf


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


# ---------------------------------------------------------------- sign in and out


def test_login_page_sets_a_csrf_cookie_and_the_form_posts_with_it(site: Site) -> None:
    with client(site) as http:
        page = http.get("/login")
        assert page.status_code == 200
        assert "登录" in page.text
        assert page.headers["cache-control"] == "no-store"
        (cookie,) = set_cookie_headers(page, "pw_csrf")
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        assert "secure" not in cookie.lower().replace("samesite", "")  # cookie_secure=False here
        token = form_token(page)
        assert token == http.cookies["pw_csrf"]
        assert http.get("/login").text.count(token) == 1  # the cookie is kept for other open forms

        sys = site.accounts["sys"]
        response = http.post(
            "/login",
            data={
                "csrf_token": token,
                "username": sys.username,
                "password": sys.password,
                "next": "/admin/users",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/users"
        (session_cookie,) = set_cookie_headers(response, "pw_session")
        assert "httponly" in session_cookie.lower()
        assert "samesite=lax" in session_cookie.lower()
        header = http.get("/").text
        assert 'data-testid="whoami"' in header
        assert sys.username in header
        assert "系统管理员" in header
        assert 'action="/logout"' in header
        assert 'href="/admin/users"' in header
        assert 'href="/admin/audit"' not in header  # a system administrator cannot read the log


def test_login_without_the_csrf_token_is_refused(site: Site) -> None:
    planner = site.accounts["planner"]
    credentials = {"username": planner.username, "password": planner.password}
    with client(site) as http:
        http.get("/login")
        assert http.post("/login", data=credentials).status_code == 403
        assert http.post("/login", data={**credentials, "csrf_token": "not-the-cookie"}).status_code == 403
    with client(site) as http:  # a token with no cookie to match
        response = http.post("/login", data={**credentials, "csrf_token": "x" * 43})
        assert response.status_code == 403
        assert "CSRF" in response.text
        assert "pw_session" not in http.cookies


def test_wrong_password_answers_401_with_the_generic_message(site: Site) -> None:
    wrong = site.accounts["wrong"]
    with client(site) as http:
        for username in (wrong.username, "pg_nobody_here"):
            response = post_login(http, username, wrong.password + "x")
            assert response.status_code == 401
            assert service.LOGIN_FAILED in response.text
            assert "pw_session" not in http.cookies
            assert form_token(response) == http.cookies["pw_csrf"]  # the form can be sent again
        assert post_login(http, wrong.username, wrong.password).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "admin"])
def test_next_only_follows_local_paths(site: Site, target: str) -> None:
    planner = site.accounts["planner"]
    with client(site) as http:
        response = post_login(http, planner.username, planner.password, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/"


def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    with signed_in(site, "leaver") as (http, csrf):
        old_cookie = http.cookies["pw_session"]
        assert http.post("/logout").status_code == 403  # a signed-in form needs its token
        response = http.post("/logout", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        (deleted,) = set_cookie_headers(response, "pw_session")
        assert "max-age=0" in deleted.lower()
    with httpx.Client(base_url=site.url, timeout=30, cookies={"pw_session": old_cookie}) as replay:
        assert replay.get("/api/session").json()["username"] is None
        assert 'data-testid="login-link"' in replay.get("/").text


def test_anonymous_header_has_a_sign_in_link_only(site: Site) -> None:
    with client(site) as http:
        page = http.get("/")
        assert 'data-testid="login-link"' in page.text
        assert 'action="/logout"' not in page.text
        assert "/admin/users" not in page.text
        english = http.get("/login", params={"lang": "en"}).text
        assert "Sign in" in english
        assert "User name" in english


# ---------------------------------------------------------------- own password


def test_a_forced_password_change_then_the_new_password_works(site: Site) -> None:
    changer = site.accounts["changer"]
    with client(site) as http:
        response = post_login(http, changer.username, changer.password, next="/admin/users")
        assert response.status_code == 303
        assert response.headers["location"] == "/account/password"
        page = http.get("/account/password")
        assert 'data-testid="must-change"' in page.text
        csrf = form_token(page)
        new = strong_password()

        def change(current: str, new_password: str, repeat: str) -> httpx.Response:
            return http.post(
                "/account/password",
                data={
                    "csrf_token": csrf,
                    "current_password": current,
                    "new_password": new_password,
                    "repeat_password": repeat,
                },
            )

        assert "两次输入的新密码不一致" in change(changer.password, new, new + "x").text
        weak = change(changer.password, "short", "short")
        assert weak.status_code == 422
        assert weak.text.count("<li>") >= 2  # every policy problem on its own line
        assert "at least 12 characters" in weak.text
        assert change(changer.password + "x", new, new).status_code == 403
        old_cookie = http.cookies["pw_session"]
        done = change(changer.password, new, new)
        assert done.status_code == 303
        assert done.headers["location"] == "/login?ok=password_changed"
        assert "密码已修改" in http.get("/login?ok=password_changed").text
        assert "ok=<script>" not in http.get("/login?ok=<script>").text
    with httpx.Client(base_url=site.url, timeout=30, cookies={"pw_session": old_cookie}) as replay:
        assert replay.get("/api/session").json()["username"] is None
    with client(site) as http:
        assert post_login(http, changer.username, changer.password).status_code == 401
        response = post_login(http, changer.username, new)
        assert response.headers["location"] == "/"


def test_the_password_page_sends_anonymous_visitors_to_sign_in(site: Site) -> None:
    with client(site) as http:
        response = http.get("/account/password")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Faccount%2Fpassword"


# ---------------------------------------------------------------- users


def test_users_page_is_for_account_administrators(site: Site) -> None:
    with client(site) as anonymous:
        assert anonymous.get("/admin/users").status_code == 403
    with signed_in(site, "planner") as (http, _):
        response = http.get("/admin/users")
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert "/admin/users" not in http.get("/").text
    with signed_in(site, "sys") as (http, _):
        page = http.get("/admin/users")
        assert page.status_code == 200
        assert "138****8000" in page.text
        assert "13800138000" not in page.text
        assert site.accounts["planner"].username in page.text
        assert 'action="/admin/users"' in page.text  # create form: accounts.manage
        assert "/roles" not in page.text  # no grant forms: that is the security administrator's
        assert (
            'action="/admin/tokens"' in page.text
        )  # tokens for service accounts: the system administrator's


def test_sys_admin_creates_a_user_through_the_form_and_security_admin_cannot(site: Site) -> None:
    with signed_in(site, "sys") as (http, csrf):
        form = {
            "csrf_token": csrf,
            "username": "pg_created",
            "display_name": "新 用户",
            "phone": "13912345678",
            "password": strong_password(),
        }
        response = http.post("/admin/users", data=form)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/users?ok=")
        page = http.get(response.headers["location"])
        assert "已创建用户 pg_created" in page.text
        assert 'data-user="pg_created"' in page.text
        assert "139****5678" in page.text
        again = http.post("/admin/users", data=form)  # the name is taken: an error message, not a crash
        assert again.status_code == 303
        assert "is taken" in http.get(again.headers["location"]).text
        forged = http.get("/admin/users", params={"error": "Call 110 now"})  # unsigned: not shown
        assert "Call 110 now" not in forged.text
    with signed_in(site, "sec") as (http, csrf):
        refused = http.post(
            "/admin/users", data={"csrf_token": csrf, "username": "pg_sneaky", "password": strong_password()}
        )
        assert refused.status_code == 403
        page = http.get("/admin/users")
        assert page.status_code == 200
        assert "pg_sneaky" not in page.text
        assert 'action="/admin/users"' not in page.text  # no create form for the security administrator


def test_security_admin_grants_roles_and_manages_tokens(site: Site) -> None:
    with signed_in(site, "sec") as (http, csrf):
        users = {u["username"]: u for u in http.get("/api/users").json()}
        leaver = users[site.accounts["leaver"].username]
        granted = http.post(
            f"/admin/users/{leaver['id']}/roles",
            data={"csrf_token": csrf, "role": "planner", "change": "grant"},
        )
        assert granted.status_code == 303
        assert "已授予" in http.get(granted.headers["location"]).text
        assert "planner" in http.get(f"/api/users/{leaver['id']}").json()["roles"]
        clash = http.post(
            f"/admin/users/{leaver['id']}/roles",
            data={"csrf_token": csrf, "role": "audit_admin", "change": "grant"},
        )
        assert clash.status_code == 403  # administrator roles are granted at the server only
        sec = users[site.accounts["sec"].username]
        own = http.post(
            f"/admin/users/{sec['id']}/roles",
            data={"csrf_token": csrf, "role": "audit_admin", "change": "grant"},
        )
        assert own.status_code == 403  # nobody changes their own account through the web
        scope = http.post(
            f"/admin/users/{leaver['id']}/scopes",
            data={"csrf_token": csrf, "kind": "capture", "code": "510104", "change": "grant"},
        )
        assert "已授予" in http.get(scope.headers["location"]).text
        assert http.get(f"/api/users/{leaver['id']}").json()["capture"] == ["510104"]

    with signed_in(site, "sys") as (http, csrf):  # tokens are the system administrator's work
        created = http.post(
            "/admin/tokens",
            data={"csrf_token": csrf, "user": site.accounts["system"].username, "name": "ci", "days": "30"},
        )
        assert created.status_code == 200
        assert created.headers["cache-control"] == "no-store"
        secret = re.search(r'data-testid="token-secret">([^<]+)<', created.text)
        assert secret is not None
        bearer = {"Authorization": f"Bearer {secret.group(1)}"}
        with client(site) as machine:
            assert (
                machine.get("/api/session", headers=bearer).json()["username"]
                == site.accounts["system"].username
            )
            page = http.get("/admin/users").text
            assert secret.group(1) not in page  # shown once
            token_id = re.search(r'data-token="(\d+)"', page)
            assert token_id is not None
            revoked = http.post(f"/admin/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf})
            assert revoked.status_code == 303
            assert machine.get("/api/session", headers=bearer).status_code == 401
    with signed_in(site, "sys") as (http, csrf):
        refused = http.post(
            f"/admin/users/{leaver['id']}/roles",
            data={"csrf_token": csrf, "role": "reviewer", "change": "grant"},
        )
        assert refused.status_code == 403


# ---------------------------------------------------------------- security log


def test_audit_page_is_for_the_audit_administrator(site: Site) -> None:
    with client(site) as http:  # a failure of its own, whatever ran before on this worker
        assert post_login(http, "pg_nobody_here", "not-the-password").status_code == 401
    for key in ("planner", "sys", "sec"):
        with signed_in(site, key) as (http, _):
            assert http.get("/admin/audit").status_code == 403
    with signed_in(site, "audit") as (http, _):
        page = http.get("/admin/audit")
        assert page.status_code == 200
        assert "intact" in page.text
        assert 'data-intact="true"' in page.text
        assert "login.success" in page.text
        assert "access.denied" in page.text
        assert 'href="/admin/audit"' in page.text
        failures = http.get("/admin/audit", params={"action": "login.failure", "limit": 5}).text
        actions = set(re.findall(r'data-action="([^"]+)"', failures))
        assert actions == {"login.failure"}
        assert http.get("/admin/audit", params={"limit": 0}).status_code == 422


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_sign_in_through_the_form_in_chromium(browser: object, site: Site) -> None:
    account = site.accounts["browser"]
    visit = Visit(browser)
    try:
        page = visit.page
        page.goto(site.url + "/")
        page.click("[data-testid=login-link]")
        page.fill("input[name=username]", account.username)
        page.fill("input[name=password]", account.password)
        page.click("[data-testid=login-form] button[type=submit]")
        page.wait_for_selector("[data-testid=whoami]", timeout=20_000)
        assert account.username in page.locator("[data-testid=whoami]").inner_text()
        page.click("[data-testid=nav-users]")
        page.wait_for_selector("[data-testid=users]")
        page.click("[data-testid=logout-form] button")
        page.wait_for_selector("[data-testid=login-link]")
        assert visit.outside == []
        assert visit.errors == []
    finally:
        visit.close()
