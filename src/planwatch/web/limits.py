"""A request body limit enforced by the app itself (FastAPI has none, and multipart parsers have
had unbounded parts): a declared ``Content-Length`` over the limit is refused before anything is
read, and a body that streams past it is cut off while streaming. Either way the answer is 413."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(Exception):
    """Raised inside ``receive`` when the streamed body passes the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        mib = self.max_bytes / 2**20
        limit = f"{mib:g} MiB" if mib >= 1 else f"{self.max_bytes:,} bytes"
        return (
            f"the request body is larger than the limit of {limit} (PLANWATCH_UPLOAD_MAX_BYTES); "
            "split the file into smaller ones (按区县或指标拆分) and upload them one by one"
        )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        path = str(scope.get("path", ""))
        if path.startswith("/api"):
            body = json.dumps(
                {"error": {"type": "PayloadTooLargeError", "message": self._message()}}, ensure_ascii=False
            ).encode()
            content_type = b"application/json"
        else:
            body = f"<!doctype html><meta charset=utf-8><title>413</title><p>{self._message()}</p>".encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(scope, send)
                    return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer 413 now and tell the app the client went away: an exception raised
                    # here would reach FastAPI's body parsing, which turns any error into a 400.
                    # Whatever the app answers afterwards is dropped.
                    if not started and not refused:
                        refused = True
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._refuse(scope, send)
