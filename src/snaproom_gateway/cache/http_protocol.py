"""The HTTP fast path inside the server: uvicorn's httptools protocol, answering L1 hits itself.

Profiled under the cache benchmark, an L1 hit through the ASGI fast path (http.py) spent most of
its Python time in uvicorn's per-request machinery, not in the cache: a scope dict, a request
cycle with its asyncio.Event, an asyncio Task, two ASGI send calls, two socket writes and a
keep-alive timer armed and cancelled. This protocol answers a GET whose entry is in the L1 as
soon as its headers are parsed: a remembered URL -> key, one dict look-up, one socket write.
Everything else (an L1 miss, another method or route, credentials, Origin, a pipelined request
behind one still running) takes uvicorn's own path unchanged, where the ASGI fast path answers
Redis hits and the routes answer the rest.

`snaproom-gateway serve` runs uvicorn with this class as its `http` protocol (serving.py).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from snaproom_gateway.cache.entry import Entry
from snaproom_gateway.cache.http import (
    FULL_STACK_HEADERS,
    JSON,
    FastPathRoutes,
    if_none_match_hits,
    session_token,
)
from snaproom_gateway.metrics.http import count_fast_path_answer

_WATCHED = FULL_STACK_HEADERS | {b"if-none-match", b"x-request-id", b"expect",
                                 b"authorization", b"cookie"}
_X_CACHE_L1_AND_ID = b"x-cache: l1\r\nx-request-id: "
_CLOSE = b"connection: close\r\n"


def find_starlette(app: Any) -> Starlette | None:
    """The Starlette app under uvicorn's wrappers (proxy headers, message logger, ...)."""
    for _ in range(16):
        if isinstance(app, Starlette):
            return app
        app = getattr(app, "app", None)
    return None


class FastPathHttpProtocol(HttpToolsProtocol):
    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._starlette = find_starlette(self.app)
        # Connections are accepted once the lifespan has started, so the runtime is there.
        runtime = (getattr(self._starlette.state, "runtime", None)
                   if self._starlette is not None else None)
        self._routes: FastPathRoutes | None = (
            runtime.cache_fast_path if runtime is not None else None)
        self._answered = self._full_stack = False
        self._if_none_match: bytes | None = None
        self._request_id: bytes | None = None
        self._authorization: bytes | None = None
        self._cookie: bytes | None = None
        self._cors = b""  # the CORS headers for an allowed Origin
        self._default_headers: list[tuple[bytes, bytes]] | None = None
        self._default_block = b""
        # Keep-alive for fast answers: one timer per connection that checks the last activity,
        # instead of a timer armed and cancelled per request as uvicorn does.
        self._active_at = 0.0
        self._idle_timer: Any = None

    # --- parser callbacks -----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._active_at = self.loop.time()
        super().data_received(data)

    def on_message_begin(self) -> None:
        # The ASGI scope is built only for requests that take uvicorn's path (_to_uvicorn).
        self.url = b""
        self.headers = []
        self.expect_100_continue = self._answered = self._full_stack = False
        self._if_none_match = self._request_id = self._authorization = self._cookie = None
        self._cors = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in _WATCHED:
            if name == b"if-none-match":
                self._if_none_match = value
            elif name == b"x-request-id":
                self._request_id = value[:128]
            elif name == b"expect":
                self.expect_100_continue = value.lower() == b"100-continue"
            elif name == b"authorization":
                if self._authorization is not None:
                    self._full_stack = True  # repeated: the route decides
                self._authorization = value
            elif name == b"cookie":
                if self._cookie is None:  # the route reads the first Cookie header too
                    self._cookie = value
            else:  # Origin: answered here only as the app's CORS middleware would answer it
                cors = self._routes.cors if self._routes is not None else None
                block = cors.block(value) if cors is not None and not self._cors else None
                if block is None:
                    self._full_stack = True
                else:
                    self._cors = block
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._routes is not None and not self._full_stack and self._answer_from_l1():
            self._answered = True
            return
        self._to_uvicorn()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._answered:
            super().on_message_complete()

    def _to_uvicorn(self) -> None:
        """Build the request's scope as uvicorn's on_message_begin does, keeping what the
        header callbacks already collected."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        HttpToolsProtocol.on_message_begin(self)
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    # --- the fast answer ------------------------------------------------------------------

    def _answer_from_l1(self) -> bool:
        parser = self.parser
        if parser.get_method() != b"GET" or parser.should_upgrade():
            return False
        # Answer now only when nothing is in flight on this connection: responses must leave
        # in request order, and a full write buffer means a slow reader (uvicorn's path waits).
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline \
                or self.flow.write_paused:
            return False
        url = self.url
        if url[:1] != b"/" or b"%" in url:
            return False  # absolute-form or percent-encoded: uvicorn's parsing decides
        routes = self._routes
        found = routes.resolve_url(url)  # type: ignore[union-attr]
        if found is None:
            return False
        token = (session_token(self._authorization, self._cookie)
                 if self._authorization is not None or self._cookie is not None else None)
        answer = routes.answer(self._starlette.state.runtime, found, token)  # type: ignore[union-attr]
        if answer is None:
            return False
        http_version = parser.get_http_version()
        keep_alive = http_version != "1.0" and parser.should_keep_alive()
        status = self._write(*answer, keep_alive)
        count_fast_path_answer(status)
        if self.access_log:
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, "GET",
                                    url.decode("latin-1"), http_version, status)
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
        elif self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)
        return True

    def _write(self, entry: Entry, cache_control: bytes, vary: bytes, keep_alive: bool) -> int:
        defaults = self.server_state.default_headers
        if defaults is not self._default_headers:  # the Date header changes once a second
            self._default_headers = defaults
            self._default_block = b"".join(name + b": " + value + b"\r\n"
                                           for name, value in defaults)
        closing = b"" if keep_alive else _CLOSE
        request_id = self._request_id or next(self._routes.ids)  # type: ignore[union-attr]
        if self._if_none_match is not None and if_none_match_hits(self._if_none_match,
                                                                  entry.etag):
            self.transport.write(b"".join((
                STATUS_LINE[304], self._default_block, b"etag: ", entry.etag,
                b"\r\ncache-control: ", cache_control, b"\r\nvary: ", vary, b"\r\n",
                self._cors, _X_CACHE_L1_AND_ID, request_id, b"\r\n", closing, b"\r\n")))
            return 304
        head = entry.http_head
        if head is None:  # built once per entry, not once per request
            head = entry.http_head = b"".join((
                STATUS_LINE[200], b"etag: ", entry.etag, b"\r\ncache-control: ", cache_control,
                b"\r\nvary: ", vary, b"\r\ncontent-type: ", JSON,
                b"\r\ncontent-length: ", str(len(entry.value)).encode(), b"\r\n"))
        self.transport.write(b"".join((
            head, self._default_block, self._cors, _X_CACHE_L1_AND_ID, request_id, b"\r\n",
            closing, b"\r\n", entry.value)))
        return 200

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline:
            return  # uvicorn's path has the connection; it arms its own timer when done
        idle = self.loop.time() - self._active_at
        if idle >= self.timeout_keep_alive:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive - idle,
                                                    self._idle_check)

    def on_response_complete(self) -> None:
        # A request uvicorn's path answered may have taken longer than the keep-alive bound:
        # idle time counts from its answer, not from its arrival, or the idle check would close
        # the connection right after the answer while the client reuses it.
        self._active_at = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)
