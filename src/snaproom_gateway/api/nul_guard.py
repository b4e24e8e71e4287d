"""Requests that carry a NUL character (U+0000) are answered 422 before any route runs.

PostgreSQL text cannot hold U+0000 (asyncpg: 'invalid byte sequence for encoding "UTF8": 0x00'),
so one in a name, a message or a search term would otherwise surface as a 500 from whichever
query it reached first; SQLite would store it. Both modes now answer alike, for every route.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `\u0000` in JSON text, unless its backslash is itself escaped (`\\u0000` is the six
# characters \u0000, not a NUL).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
MESSAGE = "NUL characters (U+0000) are not accepted"


def _answer(where: str) -> bytes:
    """Shaped as FastAPI's own 422 (the HTTPValidationError the schema documents)."""
    return orjson.dumps({"detail": [{"type": "string_nul", "loc": [where], "msg": MESSAGE,
                                     "input": None}]})


def _carries_nul(data: bytes) -> bool:
    return b"\x00" in data or (b"\\u0000" in data and _ESCAPED_NUL.search(data) is not None)


class NulGuardMiddleware:
    """Pure ASGI: checks the query string, the (decoded) path and the body (read once, then
    replayed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await _refuse(send, "query")
            return
        if "\x00" in scope["path"]:  # the decoded path: a %00 in it is a NUL here
            await _refuse(send, "path")
            return
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        if _carries_nul(b"".join(m.get("body", b"") for m in messages)):
            await _refuse(send, "body")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, where: str) -> None:
    body = _answer(where)
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
