"""``create_app(settings)``: the FastAPI application, its lifespan and its error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from planwatch import __version__
from planwatch.config import Settings
from planwatch.db import check_schema, make_engine, session_factory
from planwatch.errors import PlanwatchError
from planwatch.web.api.routes import router as api_router
from planwatch.web.pages.routes import render_error
from planwatch.web.pages.routes import router as pages_router

STATIC_DIR = Path(str(resources.files("planwatch.web") / "static"))


def plotly_js_path() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` package (no CDN)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _wants_json(request: Request) -> bool:
    """API paths answer JSON; pages answer the HTML error page."""
    path = request.url.path
    return path.startswith(("/api", "/openapi")) or path.endswith(".json")


def create_app(settings: Settings | None = None) -> FastAPI:
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
    )
    app.state.settings = settings

    @app.exception_handler(PlanwatchError)
    async def planwatch_error(request: Request, exc: PlanwatchError) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": {"type": type(exc).__name__, "message": exc.message}},
                status_code=exc.status_code,
            )
        return render_error(request, exc.status_code, exc.message)

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
        if _wants_json(request):
            body = {"error": {"type": "HTTPError", "message": message}}
            return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return render_error(request, exc.status_code, message)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="application/javascript")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api_router)
    app.include_router(pages_router)
    return app
