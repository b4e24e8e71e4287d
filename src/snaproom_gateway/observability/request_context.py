"""What the current work is about, for logs and event envelopes: the request id of a request
(the correlation id of the events it publishes), its W3C trace context, and while a consumer
handles an event, that event's place (id, topic, partition, offset, group)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snaproom_gateway.observability import tracecontext

REQUEST_ID_HEADER = "x-request-id"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Set by the dispatcher around each handled event; read by the log formatter.
event_context: ContextVar[dict[str, Any] | None] = ContextVar("event_context", default=None)

_REQUEST_ID = REQUEST_ID_HEADER.encode()
_TRACEPARENT = tracecontext.TRACEPARENT.encode()


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): takes X-Request-ID or makes one, echoes it back;
    continues the caller's `traceparent` or starts a trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = traceparent = None
        for name, header in scope["headers"]:
            if name == _REQUEST_ID:
                incoming = header
            elif name == _TRACEPARENT:
                traceparent = header
        value = incoming.decode("latin-1")[:128] if incoming else uuid.uuid4().hex
        token = request_id.set(value)
        trace_token = tracecontext.current_trace.set(tracecontext.continue_from(traceparent))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (_REQUEST_ID, value.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            tracecontext.current_trace.reset(trace_token)
            request_id.reset(token)
