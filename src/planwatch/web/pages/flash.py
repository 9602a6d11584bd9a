"""Flash messages after a form post: the redirect carries the text in the query string, signed
with the session's CSRF token so nobody can make a page say something by sending a link."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from planwatch.accounts.principal import Principal


def signature(key: str, kind: str, text: str) -> str:
    return hmac.new(key.encode(), f"{kind}\x00{text}".encode(), hashlib.sha256).hexdigest()[:32]


def back(principal: Principal, path: str, *, ok: str | None = None, error: str | None = None) -> Response:
    """303 back to ``path`` with a flash message for the signed-in principal."""
    kind, text = ("ok", ok or "") if error is None else ("error", error)
    params = {kind: text[:500]}
    if principal.csrf_token:
        params["sig"] = signature(principal.csrf_token, kind, params[kind])
    return RedirectResponse(f"{path}?{urlencode(params)}", status_code=303)


def flash(request: Request, principal: Principal) -> tuple[str, str] | None:
    """The flash message of the query string, if it was signed for this session."""
    given = request.query_params.get("sig", "")
    for kind in ("ok", "error"):
        text = request.query_params.get(kind)
        if text and principal.csrf_token:
            expected = signature(principal.csrf_token, kind, text)
            if hmac.compare_digest(given.encode(), expected.encode()):
                return kind, text
    return None
