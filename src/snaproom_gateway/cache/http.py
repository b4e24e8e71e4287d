"""HTTP caching for cacheable GET routes: strong ETag, Cache-Control, 304, and a fast path.

The fast path is a pure ASGI middleware that answers a registered GET route from the cache
before FastAPI's routing and dependency machinery run (FastAPI's per-request path costs ~60 µs,
DESIGN.md); on a miss it passes the request on, and the route fills the same entry through the
shared key scheme (keys.py). Only public routes may be registered: the fast path runs no
route dependencies, so no authentication either.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from snaproom_gateway.cache.entry import Entry, strong_etag
from snaproom_gateway.cache.keys import api_key, user_key

# Entries change only when an event invalidates them, at any time: clients and proxies may keep
# a copy but must revalidate it (cheap: a 304 from the L1) before each use.
PUBLIC_REVALIDATE = "public, no-cache"
JSON = b"application/json"

KeyFunction = Callable[[Mapping[str, Any], str], str]


def if_none_match_hits(header: bytes | str | None, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored."""
    if not header:
        return False
    if isinstance(header, str):
        header = header.encode("latin-1")
    if header.strip() == b"*":
        return True
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate.startswith(b"W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def cached_response(request: Request, body: bytes, *, cache_control: str = PUBLIC_REVALIDATE,
                    etag: bytes | None = None, status_code: int = 200) -> Response:
    """The response of a cacheable route: the bytes with ETag and Cache-Control, or a 304 when
    the client already holds them."""
    etag = etag or strong_etag(body)
    headers = {"etag": etag.decode(), "cache-control": cache_control}
    if if_none_match_hits(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


SESSION_COOKIE_MARK = b"snaproom_session="


@dataclass(frozen=True)
class CacheableRoute:
    path: str
    key: KeyFunction
    cache_control: str = PUBLIC_REVALIDATE

    def __post_init__(self) -> None:
        regex, _format, convertors = compile_path(self.path)
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_convertors", convertors)
        object.__setattr__(self, "_cache_control", self.cache_control.encode("latin-1"))

    def match_key(self, path: str, query: str) -> str | None:
        found = self._regex.match(path)  # type: ignore[attr-defined]
        if found is None:
            return None
        params = {name: self._convertors[name].convert(value)  # type: ignore[attr-defined]
                  for name, value in found.groupdict().items()}
        return self.key(params, query)


def user_profile_key(params: Mapping[str, Any], _query: str) -> str:
    return user_key(params["user_id"])


def api_response_key(path: str) -> KeyFunction:
    def key(_params: Mapping[str, Any], query: str) -> str:
        return api_key(path, dict(parse_qsl(query, keep_blank_values=True)))
    return key


# The public GET routes whose entries the domain routes fill with these very keys.
DEFAULT_CACHEABLE_ROUTES = (
    CacheableRoute("/api/users/{user_id:int}", user_profile_key),
    CacheableRoute("/api/users", api_response_key("/api/users")),
)


# Headers that send a request to the full stack: cross-origin calls keep one CORS
# implementation; a signed-in viewer is counted (profile.viewed) and may be the owner.
FULL_STACK_HEADERS = frozenset((b"origin", b"authorization", b"cookie"))
URL_MEMO_SIZE = 65_536


def needs_full_stack(name: bytes, value: bytes) -> bool:
    """For a header in FULL_STACK_HEADERS: must the route answer this request?"""
    return name != b"cookie" or SESSION_COOKIE_MARK in value


class FastPathRoutes:
    """Which requests the fast path may answer, and from which cache key.

    Shared by the ASGI middleware below and the uvicorn protocol (http_protocol.py), so both
    answer exactly the same requests: registered routes, without Origin or credentials.
    """

    def __init__(self, routes: tuple[CacheableRoute, ...] = DEFAULT_CACHEABLE_ROUTES) -> None:
        self.routes = routes
        self.ids = request_ids()
        self._by_url: dict[bytes, tuple[CacheableRoute, str] | None] = {}

    def resolve(self, path: str, query: str) -> tuple[CacheableRoute, str] | None:
        for route in self.routes:
            key = route.match_key(path, query)
            if key is not None:
                return route, key
        return None

    def resolve_url(self, url: bytes) -> tuple[CacheableRoute, str] | None:
        """resolve() of a raw request target, remembered: hot URLs skip the route regexes.
        Bounded: cleared when full, so odd URLs cannot grow it."""
        try:
            return self._by_url[url]
        except KeyError:
            pass
        path, _, query = url.partition(b"?")
        found = self.resolve(path.decode("latin-1"), query.decode("latin-1"))
        if len(self._by_url) >= URL_MEMO_SIZE:
            self._by_url.clear()
        self._by_url[url] = found
        return found

    def lookup(self, path: str, query: str, headers: list[tuple[bytes, bytes]]
               ) -> tuple[CacheableRoute, str, bytes | None, bytes | None] | None:
        """(route, cache key, If-None-Match, X-Request-ID) for an answerable GET, else None."""
        found = self.resolve(path, query)
        if found is None:
            return None
        if_none_match = request_id = None
        for name, value in headers:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"x-request-id":
                request_id = value[:128]
            elif name in FULL_STACK_HEADERS and needs_full_stack(name, value):
                return None
        return found[0], found[1], if_none_match, request_id


class CacheFastPath:
    """Pure ASGI: serve registered GET routes from the cache (L1, then Redis), pass everything
    else on.

    Installed in front of the whole middleware stack (install_fast_path), it does itself the
    little the skipped middlewares would add to such a response: the X-Request-ID echo (or a
    new id) and `Vary: Origin`.
    """

    def __init__(self, app: ASGIApp, routes: FastPathRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        cache = getattr(scope["app"].state, "cache", None)
        if cache is None:
            await self.app(scope, receive, send)
            return
        found = self.routes.lookup(scope["path"], scope["query_string"].decode("latin-1"),
                                   scope["headers"])
        if found is not None:
            route, key, if_none_match, request_id = found
            entry = cache.peek_local(key)
            source = b"l1"
            if entry is None:
                entry = (await cache.get_entry(key, count_miss=False)
                         if cache.redis is not None else None)
                source = b"redis"
            if entry is not None:
                await _send_entry(send, entry, route._cache_control, source,  # type: ignore[attr-defined]
                                  if_none_match, request_id or next(self.routes.ids))
                return
        await self.app(scope, receive, send)


def request_ids() -> Iterator[bytes]:
    """Unique 32-hex-digit ids, as RequestIdMiddleware's uuid4().hex but a fraction of the cost:
    a random per-process prefix and a counter."""
    prefix = os.urandom(8).hex()
    for number in itertools.count():
        yield f"{prefix}{number:016x}".encode()


def install_fast_path(app: Starlette,
                      routes: tuple[CacheableRoute, ...] = DEFAULT_CACHEABLE_ROUTES) -> None:
    """Put the fast path in front of the app's whole middleware stack (built on first request).
    The routes also go on app.state, where the uvicorn protocol (http_protocol.py) finds them."""
    table = app.state.cache_fast_path = FastPathRoutes(routes)
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: CacheFastPath(build(), table)  # type: ignore[method-assign]


async def _send_entry(send: Send, entry: Entry, cache_control: bytes, source: bytes,
                      if_none_match: bytes | None, request_id: bytes) -> None:
    etag = entry.etag
    if if_none_match is not None and if_none_match_hits(if_none_match, etag):
        headers = [(b"etag", etag), (b"cache-control", cache_control), (b"vary", b"Origin"),
                   (b"x-cache", source), (b"x-request-id", request_id)]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = entry.value
    common = entry.http_headers
    if common is None:  # built once per entry, not once per request
        common = entry.http_headers = [
            (b"etag", etag), (b"cache-control", cache_control), (b"vary", b"Origin"),
            (b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200,
                "headers": [*common, (b"x-cache", source), (b"x-request-id", request_id)]})
    await send({"type": "http.response.body", "body": body})
