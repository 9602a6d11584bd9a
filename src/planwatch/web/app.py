"""``create_app(settings)``: the FastAPI application, its lifespan and its error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from planwatch import __version__
from planwatch.accounts.principal import anonymous
from planwatch.audit.security_log import record
from planwatch.clock import Clock, system_clock
from planwatch.config import Settings
from planwatch.db import BUSY, BUSY_MESSAGE, check_schema, make_engine, session_factory
from planwatch.errors import (
    ConflictError,
    ForbiddenError,
    LockedError,
    OutOfScopeError,
    PlanwatchError,
    UnauthorizedError,
)
from planwatch.service_requests.ratelimit import RateLimitExceededError
from planwatch.web.api.accounts import router as accounts_router
from planwatch.web.api.coverage import router as coverage_router
from planwatch.web.api.data import router as data_router
from planwatch.web.api.evaluation import router as evaluation_router
from planwatch.web.api.open311 import router as open311_router
from planwatch.web.api.requests import router as requests_router
from planwatch.web.api.requests_metrics import router as requests_metrics_router
from planwatch.web.api.routes import router as api_router
from planwatch.web.api.surveys import router as surveys_router
from planwatch.web.api.warnings import router as warnings_router
from planwatch.web.deps import csrf_guard
from planwatch.web.limits import BodyLimit
from planwatch.web.pages.accounts import router as account_pages_router
from planwatch.web.pages.coverage import router as coverage_pages_router
from planwatch.web.pages.data import router as data_pages_router
from planwatch.web.pages.evaluation import router as evaluation_pages_router
from planwatch.web.pages.requests import router as requests_pages_router
from planwatch.web.pages.requests_metrics import router as requests_metrics_pages_router
from planwatch.web.pages.routes import render_error
from planwatch.web.pages.routes import router as pages_router
from planwatch.web.pages.surveys import router as surveys_pages_router
from planwatch.web.pages.warnings import router as warnings_pages_router

STATIC_DIR = Path(str(resources.files("planwatch.web") / "static"))


def plotly_js_path() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` package (no CDN)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _wants_json(request: Request) -> bool:
    """API paths answer JSON; pages answer the HTML error page."""
    path = request.url.path
    return path.startswith(("/api", "/openapi")) or path.endswith(".json")


def _record_denial(request: Request, exc: PlanwatchError) -> None:
    """Access denials go to the security log in a transaction of their own (the request's own
    transaction is rolled back by the error)."""
    principal = getattr(request.state, "principal", None) or anonymous(
        request.client.host if request.client else "-", getattr(request.state, "request_id", "-")
    )
    with request.app.state.sessions() as session, session.begin():
        record(
            session,
            principal.actor,
            "access.denied",
            now=request.app.state.clock(),
            object_type="route",
            object_id=f"{request.method} {request.url.path}",
            result="denied",
            detail={"status": exc.status_code, "reason": type(exc).__name__, "message": exc.message[:300]},
        )


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """The web app on an existing database; ``clock`` is injectable so tests move time."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        check_schema(engine)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="planwatch",
        version=__version__,
        description="规划实施监测评估 — plan monitoring and evaluation API",
        lifespan=lifespan,
        docs_url=None,  # the default page loads Swagger UI from a CDN; /docs is served locally
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],  # every route resolves its caller; unsafe calls need CSRF
    )
    app.state.settings = settings
    app.state.clock = clock

    @app.exception_handler(PlanwatchError)
    async def planwatch_error(request: Request, exc: PlanwatchError) -> Response:
        if isinstance(exc, ForbiddenError | UnauthorizedError | OutOfScopeError | ConflictError):
            await run_in_threadpool(_record_denial, request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        if isinstance(exc, RateLimitExceededError):
            headers = {"Retry-After": str(exc.retry_after)}
        if _wants_json(request):
            kind = "NotFoundError" if isinstance(exc, OutOfScopeError) else type(exc).__name__
            error: dict[str, Any] = {"type": kind, "message": exc.message}
            if isinstance(exc, LockedError):
                error["code"] = exc.code
            return JSONResponse(
                {"error": error},
                status_code=exc.status_code,
                headers=headers,
            )
        response = render_error(request, exc.status_code, exc.message)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def unstorable(request: Request, exc: sqlalchemy.exc.DataError) -> Response:
        """Text the database cannot hold (PostgreSQL refuses NUL characters): the request's
        transaction is rolled back; the answer names the cause instead of a 500."""
        message = (
            "the request holds a character or value the database cannot store (for example a NUL "
            "character); remove it and try again (请删除不可见字符后重试)"
        )
        if _wants_json(request):
            return JSONResponse({"error": {"type": "InvalidValueError", "message": message}}, status_code=422)
        return render_error(request, 422, message)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def busy(request: Request, exc: sqlalchemy.exc.OperationalError) -> Response:
        """SQLite's single writer was held too long by another write: say so (503, try again)."""
        if BUSY not in str(exc.orig):
            raise exc
        if _wants_json(request):
            return JSONResponse(
                {"error": {"type": "BusyError", "message": BUSY_MESSAGE}},
                status_code=503,
                headers={"Retry-After": "30"},
            )
        return render_error(request, 503, BUSY_MESSAGE)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        if _wants_json(request):
            body = {"error": {"type": "ValidationError", "message": message, "fields": problems}}
            return JSONResponse(body, status_code=422)
        return render_error(request, 422, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no page at {request.url.path}"
        elif exc.status_code == 400 and message.startswith("Part exceeded maximum size"):
            # Starlette's form parser caps every field at 1 MiB before any route sees it
            message = (
                "a field of the form is larger than 1 MiB, the limit per field; a request's description may hold "
                f"at most {settings.request_description_max_chars:,} characters: shorten it and send it again "
                "(内容过长,请精简后重新提交)"
            )
        if _wants_json(request):
            body = {"error": {"type": "HTTPError", "message": message}}
            return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return render_error(request, exc.status_code, message)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if settings.cookie_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="application/javascript")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api_router)
    app.include_router(data_router)
    app.include_router(evaluation_router)
    app.include_router(warnings_router)
    app.include_router(coverage_router)
    app.include_router(open311_router)
    app.include_router(requests_metrics_router)  # before /api/requests/{request_id}
    app.include_router(requests_router)
    app.include_router(surveys_router)
    app.include_router(accounts_router)
    app.include_router(account_pages_router)
    app.include_router(data_pages_router)
    app.include_router(evaluation_pages_router)
    app.include_router(warnings_pages_router)
    app.include_router(coverage_pages_router)
    app.include_router(requests_metrics_pages_router)  # before /requests/{request_id}
    app.include_router(requests_pages_router)
    app.include_router(surveys_pages_router)
    app.include_router(pages_router)
    app.add_middleware(BodyLimit, max_bytes=settings.upload_max_bytes)
    return app
