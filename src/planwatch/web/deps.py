"""Request-scoped dependencies: a database session per request, settings, language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from planwatch.config import Settings
from planwatch.web.i18n import LANGUAGES


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (``scope="function"``),
    so a client that reads right after a write sees it."""
    with request.app.state.sessions() as session, session.begin():
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang")
    if lang in LANGUAGES:
        return lang
    settings: Settings = request.app.state.settings
    return settings.language if settings.language in LANGUAGES else "zh"


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LanguageDep = Annotated[str, Depends(get_language)]
