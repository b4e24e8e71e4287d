"""HTTP caching for cacheable GET routes: strong ETag, Cache-Control, 304, and a fast path.

The fast path is a pure ASGI middleware that answers a registered GET route from the cache
before FastAPI's routing and dependency machinery run (FastAPI's per-request path costs ~60 µs);
on a miss it passes the request on, and the route fills the same entry through the shared key
scheme. The domains declare their routes (CacheableRoute) and how a signed-in viewer is
answered: the session and the answer must both be in the L1, which the invalidation channel
keeps coherent, so a revoked session or a changed answer is never served past that channel's
delay. Anything the fast path is unsure of goes to the route.
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
from snaproom_gateway.cache.keys import api_key
from snaproom_gateway.core.constants import SESSION_COOKIE
from snaproom_gateway.metrics.http import count_fast_path_answer

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
                    etag: bytes | None = None, status_code: int = 200,
                    vary: str | None = None) -> Response:
    """The response of a cacheable route: the bytes with ETag and Cache-Control, or a 304 when
    the client already holds them."""
    etag = etag or strong_etag(body)
    headers = {"etag": etag.decode(), "cache-control": cache_control}
    if vary is not None:
        headers["vary"] = vary
    if if_none_match_hits(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def private_response(request: Request, body: bytes) -> Response:
    """A signed-in answer, with the headers the fast path sends with the same bytes."""
    return cached_response(request, body, cache_control=PRIVATE_REVALIDATE, vary=PRIVATE_VARY)


SESSION_COOKIE_MARK = SESSION_COOKIE.encode() + b"="

# Signed-in answers differ per caller: no shared cache may keep them, and a client's own cache
# must key them by the credentials.
PRIVATE_REVALIDATE = "private, no-cache"
PRIVATE_VARY = "Cookie, Authorization"
PUBLIC_VARY = "Origin"

# A signed-in answer from the L1: (the runtime, path params, viewer) -> the entry to send, or None
# when the route must answer (a miss, or a request the route handles itself).
PrivateAnswer = Callable[[Any, Mapping[str, Any], Any], Entry | None]
# The viewer of a session token, from the L1 only: (the runtime, token) -> viewer or None.
ViewerLookup = Callable[[Any, str], Any | None]


@dataclass(frozen=True)
class CacheableRoute:
    """A GET route the fast path may answer: anonymously from `key`'s entry, and for a signed-in
    viewer through `private` (only without a query string)."""

    path: str
    key: KeyFunction | None = None
    cache_control: str = PUBLIC_REVALIDATE
    private: PrivateAnswer | None = None
    # The cache keys `private` reads for this viewer: the ASGI fast path loads them from Redis
    # into the L1 on a miss, and asks `private` again.
    private_keys: Callable[[Mapping[str, Any], Any], list[str]] | None = None

    def __post_init__(self) -> None:
        regex, _format, convertors = compile_path(self.path)
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_convertors", convertors)
        object.__setattr__(self, "_cache_control", self.cache_control.encode("latin-1"))

    def match(self, path: str) -> dict[str, Any] | None:
        found = self._regex.match(path)  # type: ignore[attr-defined]
        if found is None:
            return None
        return {name: self._convertors[name].convert(value)  # type: ignore[attr-defined]
                for name, value in found.groupdict().items()}

    def match_key(self, path: str, query: str) -> str | None:
        params = self.match(path)
        if params is None or self.key is None:
            return None
        return self.key(params, query)


def api_response_key(path: str, defaults: Mapping[str, object] | None = None) -> KeyFunction:
    """The key of a route whose entry is the API response cache's (keys.api_key). `defaults`
    are the route's query defaults: the route keys on them when a parameter is left out, so
    `?size=1` and `?page=1&size=1` are one entry."""
    base = {name: str(value) for name, value in (defaults or {}).items()}

    def key(_params: Mapping[str, Any], query: str) -> str:
        return api_key(path, base | dict(parse_qsl(query, keep_blank_values=True)))
    return key


# Cross-origin calls keep one CORS implementation: the routes answer them.
FULL_STACK_HEADERS = frozenset((b"origin",))
CREDENTIAL_HEADERS = frozenset((b"authorization", b"cookie"))
URL_MEMO_SIZE = 65_536


def needs_full_stack(name: bytes, _value: bytes) -> bool:
    """For a header in FULL_STACK_HEADERS: must the route answer this request?"""
    return name in FULL_STACK_HEADERS


def session_token(authorization: bytes | None, cookie: bytes | None) -> str | None:
    """The session token as the routes read it: a Bearer credential first, else the session
    cookie (Starlette's cookie parsing: `;`-separated, last one of a name wins)."""
    if authorization:
        scheme, _, credentials = authorization.partition(b" ")
        if scheme.lower() == b"bearer" and credentials:
            return credentials.decode("latin-1")
    if cookie and SESSION_COOKIE_MARK in cookie:
        token = None
        for chunk in cookie.split(b";"):
            name, sep, value = chunk.partition(b"=")
            if sep and name.strip() == SESSION_COOKIE.encode():
                token = value.strip()
        if token is None or b'"' in token or b"\\" in token:
            return None  # quoted cookie values: the route's parser decides
        return token.decode("latin-1") or None
    return None


class CorsHeaders:
    """What the app's CORSMiddleware adds to the answer of a simple cross-origin request from an
    allowed origin (explicit origins, credentials allowed), for the server protocol's answers:
    a browser app's requests all carry Origin. Any other Origin goes to the app."""

    def __init__(self, origins: list[str], expose_headers: list[str]) -> None:
        self.origins = frozenset(o.encode("latin-1") for o in origins if o != "*")
        simple = b"access-control-allow-credentials: true\r\n"
        if expose_headers:
            simple += (b"access-control-expose-headers: "
                       + ", ".join(expose_headers).encode("latin-1") + b"\r\n")
        self._simple = simple

    def block(self, origin: bytes) -> bytes | None:
        if origin not in self.origins:
            return None
        return self._simple + b"access-control-allow-origin: " + origin + b"\r\n"


@dataclass(frozen=True)
class Found:
    route: CacheableRoute
    params: dict[str, Any]
    key: str | None          # the anonymous entry's key
    exact: bool              # no query string: a signed-in answer may be given


class FastPathRoutes:
    """Which requests the fast path may answer, and how.

    Shared by the ASGI middleware below and the uvicorn protocol (http_protocol.py), so both
    answer exactly the same requests: registered routes, without Origin; anonymous ones from the
    route's entry, signed-in ones (Bearer or session cookie) when the session and the answer are
    both in the L1.
    """

    def __init__(self, routes: tuple[CacheableRoute, ...],
                 viewer: ViewerLookup | None = None, cors: CorsHeaders | None = None,
                 viewer_key: Callable[[str], str | None] | None = None) -> None:
        self.routes = routes
        self.viewer = viewer
        self.viewer_key = viewer_key  # the cache key of a token's session entry
        self.cors = cors
        self.ids = request_ids()
        self._by_url: dict[bytes, Found | None] = {}

    def resolve(self, path: str, query: str) -> Found | None:
        for route in self.routes:
            params = route.match(path)
            if params is not None:
                key = route.key(params, query) if route.key is not None else None
                return Found(route, params, key, not query)
        return None

    def resolve_url(self, url: bytes) -> Found | None:
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

    def answer(self, state: Any, found: Found, token: str | None
               ) -> tuple[Entry, bytes, bytes] | None:
        """(entry, Cache-Control, Vary) from the L1 for this request, or None."""
        cache = state.cache
        route = found.route
        if token is None:
            if found.key is None:
                return None
            entry = cache.peek_local(found.key)
            return None if entry is None else (entry, route._cache_control, PUBLIC_VARY_B)  # type: ignore[attr-defined]
        if route.private is None or not found.exact or self.viewer is None:
            return None
        viewer = self.viewer(state, token)
        if viewer is None:
            return None
        entry = route.private(state, found.params, viewer)
        return None if entry is None else (entry, PRIVATE_REVALIDATE_B, PRIVATE_VARY_B)

    async def answer_through_redis(self, state: Any, found: Found, token: str | None
                                   ) -> tuple[Entry, bytes, bytes] | None:
        """answer() after loading, from Redis into the L1, the entries it needs."""
        cache = state.cache
        route = found.route
        if token is None:
            if found.key is None:
                return None
            entry = await cache.get_entry(found.key, count_miss=False)
            return None if entry is None else (entry, route._cache_control, PUBLIC_VARY_B)  # type: ignore[attr-defined]
        if route.private is None or route.private_keys is None or not found.exact \
                or self.viewer is None:
            return None
        viewer = self.viewer(state, token)
        if viewer is None and self.viewer_key is not None \
                and (key := self.viewer_key(token)) is not None:
            await cache.get_entry(key, count_miss=False)
            viewer = self.viewer(state, token)
        if viewer is None:
            return None
        for key in route.private_keys(found.params, viewer):
            await cache.get_entry(key, count_miss=False)
        entry = route.private(state, found.params, viewer)
        return None if entry is None else (entry, PRIVATE_REVALIDATE_B, PRIVATE_VARY_B)

    def lookup(self, path: str, query: str, headers: list[tuple[bytes, bytes]]
               ) -> tuple[Found, str | None, bytes | None, bytes | None] | None:
        """(found, session token, If-None-Match, X-Request-ID) for an answerable GET."""
        found = self.resolve(path, query)
        if found is None:
            return None
        if_none_match = request_id = authorization = cookie = None
        for name, value in headers:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"x-request-id":
                request_id = value[:128]
            elif name in CREDENTIAL_HEADERS:
                if name == b"authorization":
                    if authorization is not None:
                        return None  # repeated: the route decides
                    authorization = value
                elif cookie is None:
                    cookie = value  # the route reads the first Cookie header too
            elif name in FULL_STACK_HEADERS:
                return None
        return found, session_token(authorization, cookie), if_none_match, request_id


# As the routes' answers leave the app: the CORS middleware adds Origin to Vary even for a
# request without Origin (Starlette's simple_response).
PUBLIC_VARY_B = PUBLIC_VARY.encode()
PRIVATE_REVALIDATE_B = PRIVATE_REVALIDATE.encode()
PRIVATE_VARY_B = f"{PRIVATE_VARY}, {PUBLIC_VARY}".encode()


class CacheFastPath:
    """Pure ASGI: serve registered GET routes from the cache (the L1, then Redis), pass
    everything else on.

    Installed in front of the whole middleware stack (install_fast_path), it does itself the
    little the skipped middlewares would add to such a response: the X-Request-ID echo (or a
    new id).
    """

    def __init__(self, app: ASGIApp, routes: FastPathRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        # No runtime before the lifespan has run (an app served without one): pass through.
        state = getattr(scope["app"].state, "runtime", None)
        if state is None:
            await self.app(scope, receive, send)
            return
        cache = state.cache
        found = self.routes.lookup(scope["path"], scope["query_string"].decode("latin-1"),
                                   scope["headers"])
        if found is not None:
            where, token, if_none_match, request_id = found
            answer = self.routes.answer(state, where, token)
            source = b"l1"
            if answer is None and cache.redis is not None:
                answer = await self.routes.answer_through_redis(state, where, token)
                source = b"redis"
            if answer is not None:
                status = await _send_entry(send, *answer, source, if_none_match,
                                           request_id or next(self.routes.ids))
                count_fast_path_answer(status)
                return
        await self.app(scope, receive, send)


def request_ids() -> Iterator[bytes]:
    """Unique 32-hex-digit ids, as RequestIdMiddleware's uuid4().hex but a fraction of the cost:
    a random per-process prefix and a counter."""
    prefix = os.urandom(8).hex()
    for number in itertools.count():
        yield f"{prefix}{number:016x}".encode()


def install_fast_path(app: Starlette, routes: tuple[CacheableRoute, ...],
                      viewer: ViewerLookup | None = None, cors: CorsHeaders | None = None,
                      viewer_key: Callable[[str], str | None] | None = None) -> FastPathRoutes:
    """Put the fast path in front of the app's whole middleware stack (built on first request).
    The routes it returns go on the runtime, where the uvicorn protocol (http_protocol.py) finds
    them."""
    table = FastPathRoutes(routes, viewer, cors, viewer_key)
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: CacheFastPath(build(), table)  # type: ignore[method-assign]
    return table


async def _send_entry(send: Send, entry: Entry, cache_control: bytes, vary: bytes,
                      source: bytes, if_none_match: bytes | None, request_id: bytes) -> int:
    etag = entry.etag
    if if_none_match is not None and if_none_match_hits(if_none_match, etag):
        headers = [(b"etag", etag), (b"cache-control", cache_control), (b"vary", vary),
                   (b"x-cache", source), (b"x-request-id", request_id)]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return 304
    body = entry.value
    common = entry.http_headers
    if common is None:  # built once per entry, not once per request
        common = entry.http_headers = [
            (b"etag", etag), (b"cache-control", cache_control), (b"vary", vary),
            (b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200,
                "headers": [*common, (b"x-cache", source), (b"x-request-id", request_id)]})
    await send({"type": "http.response.body", "body": body})
    return 200
