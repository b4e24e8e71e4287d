"""The fast path inside uvicorn's protocol (cache/http_protocol.py), over real sockets.

A real uvicorn server on 127.0.0.1 serves the gateway (embedded settings: SQLite and the
in-process cache). An ASGI wrapper counts the requests that reach the app, so each test can tell
an answer of the protocol from one of the app.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from snaproom_gateway.api import serving
from snaproom_gateway.api.app import create_app
from snaproom_gateway.cache.http_protocol import FastPathHttpProtocol, find_starlette
from tests.support.apps import CountingApp, served
from tests.support.users_api import bearer, signup


@asynccontextmanager
async def gateway_with_user(settings, **config: Any):
    async with served(settings, **config) as (app, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as client:
        user, token = await signup(client, "ada")
        yield app, client, user, token


async def read_responses(reader: asyncio.StreamReader, count: int) -> list[tuple[bytes, dict, bytes]]:
    """`count` HTTP/1.1 responses from the stream: (status line, headers, body)."""
    responses = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {name.lower(): value for name, _, value in
                   (line.partition(": ") for line in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        responses.append((status.encode(), headers, body))
    return responses


def request(path: str, *extra: str) -> bytes:
    return "\r\n".join((f"GET {path} HTTP/1.1", "Host: gateway", *extra, "", "")).encode()


async def test_a_cached_profile_is_answered_by_the_protocol_as_the_route_answers_it(
        embedded_settings):
    async with gateway_with_user(embedded_settings) as (app, client, user, _):
        path = f"/api/users/{user['id']}"
        first = await client.get(path)  # the route reads it and fills the cache
        calls = app.calls
        second = await client.get(path, headers={"X-Request-ID": "trace-7"})
        assert app.calls == calls, "the second read reached the ASGI app"
        assert second.status_code == 200 and first.status_code == 200
        assert second.content == first.content
        assert second.headers["x-cache"] == "l1"
        assert second.headers["x-request-id"] == "trace-7"
        for name in ("etag", "cache-control", "vary", "content-type", "content-length"):
            assert second.headers[name] == first.headers[name], name
        assert "date" in second.headers and second.headers["server"] == "uvicorn"


async def test_if_none_match_gets_a_304_from_the_protocol(embedded_settings):
    async with gateway_with_user(embedded_settings) as (app, client, user, _):
        path = f"/api/users/{user['id']}"
        etag = (await client.get(path)).headers["etag"]
        calls = app.calls
        answer = await client.get(path, headers={"If-None-Match": etag})
        assert answer.status_code == 304 and answer.content == b""
        assert answer.headers["etag"] == etag
        assert app.calls == calls
        changed = await client.get(path, headers={"If-None-Match": '"other"'})
        assert changed.status_code == 200 and changed.headers["etag"] == etag


@pytest.mark.parametrize("header", ["authorization", "origin", "session cookie"])
async def test_origin_and_a_first_signed_in_read_go_to_the_app(embedded_settings, header):
    async with gateway_with_user(embedded_settings) as (app, client, user, token):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        headers = {
            "authorization": bearer(token),
            "origin": {"Origin": "https://elsewhere.example"},  # not an allowed origin
            "session cookie": {"Cookie": f"snaproom_session={token}"},
        }[header]
        calls = app.calls  # the owner's view count is not in the L1 yet: the route reads it
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 200
        assert app.calls == calls + 1, "the request was answered without the app"
        if header == "origin":
            assert "access-control-allow-origin" not in answer.headers
        else:  # the owner sees the private fields only the route can add
            assert answer.json()["email"] == "ada@example.com"


async def test_other_cookies_and_other_routes_do_not_change_the_answer(embedded_settings):
    async with gateway_with_user(embedded_settings) as (app, client, user, _):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        calls = app.calls
        themed = await client.get(path, headers={"Cookie": "theme=dark"})
        assert themed.headers["x-cache"] == "l1" and app.calls == calls
        health = await client.get("/api/health/live")
        assert health.status_code == 200 and app.calls == calls + 1
        head = await client.head(path)
        assert head.status_code in (200, 405) and app.calls == calls + 2


async def test_pipelined_requests_are_answered_in_order(embedded_settings):
    async with gateway_with_user(embedded_settings) as (app, client, user, _):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        host, port = client.base_url.host, client.base_url.port
        reader, writer = await asyncio.open_connection(host, port)
        try:
            # cached, then one the app answers, then cached again: one write, three answers.
            writer.write(request(path, "X-Request-ID: one") + request("/api/health/live")
                         + request(path, "X-Request-ID: three"))
            await writer.drain()
            answers = await read_responses(reader, 3)
        finally:
            writer.close()
        assert [a[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 3
        assert answers[0][1]["x-request-id"] == "one" and answers[0][1]["x-cache"] == "l1"
        assert b'"status"' in answers[1][2] and "x-cache" not in answers[1][1]
        assert answers[2][1]["x-request-id"] == "three"
        assert answers[0][2] == answers[2][2]


async def test_connection_close_and_http_1_0_close_after_the_answer(embedded_settings):
    async with gateway_with_user(embedded_settings) as (_, client, user, _token):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        for raw in (request(path, "Connection: close"),
                    f"GET {path} HTTP/1.0\r\nHost: gateway\r\n\r\n".encode()):
            reader, writer = await asyncio.open_connection(client.base_url.host,
                                                           client.base_url.port)
            writer.write(raw)
            [(status, headers, body)] = await read_responses(reader, 1)
            assert headers["x-cache"] == "l1" and headers["connection"] == "close"
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
            writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(embedded_settings):
    async with gateway_with_user(embedded_settings, timeout_keep_alive=1) as (_, client, user,
                                                                             _token):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        reader, writer = await asyncio.open_connection(client.base_url.host, client.base_url.port)
        writer.write(request(path))
        [(_, headers, _)] = await read_responses(reader, 1)
        assert headers["x-cache"] == "l1"
        # No more requests: the server closes the connection by itself (bounded wait).
        assert await asyncio.wait_for(reader.read(), 15) == b""
        writer.close()


async def test_a_profile_change_is_served_fresh_by_the_protocol(embedded_settings):
    async with gateway_with_user(embedded_settings) as (app, client, user, token):
        path = f"/api/users/{user['id']}"
        await client.get(path)
        changed = await client.patch("/api/users/me", json={"bio": "new bio"},
                                     headers=bearer(token))
        assert changed.status_code == 200
        for _ in range(100):  # the in-process bus delivers user.updated to the invalidation
            answer = await client.get(path)
            if answer.json()["bio"] == "new bio":
                break
            await asyncio.sleep(0.05)
        assert answer.json()["bio"] == "new bio"
        calls = app.calls
        again = await client.get(path)
        assert again.json()["bio"] == "new bio" and app.calls == calls


def test_the_server_uses_the_protocol_unless_the_fast_path_is_off(embedded_settings):
    assert serving.http_protocol(embedded_settings) is FastPathHttpProtocol
    off = embedded_settings.with_changes(**{"cache_http_fast_path": False})
    assert serving.http_protocol(off) == "httptools"


def test_find_starlette_looks_through_wrappers(embedded_settings):
    app = create_app(embedded_settings)
    assert find_starlette(CountingApp(CountingApp(app))) is app
    assert find_starlette(object()) is None
