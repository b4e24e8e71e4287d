"""Signed-in GETs answered by the protocol's fast path (embedded mode, real sockets): the same
bytes and headers as the route, never another user's answer, and every write read at once.

A real uvicorn server serves the gateway with SQLite and the in-process cache. CountingApp counts
the requests that reach the app, so a test can tell the protocol's answer from the route's.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import httpx
import orjson

from snaproom_gateway.auth import sessions
from snaproom_gateway.auth.tokens import token_hash
from tests.support.apps import served
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup

# Headers that differ per answer by design: the time, the id, and who answered.
PER_ANSWER = {"date", "x-request-id", "x-cache"}


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; snaproom_session={token}"}


def same_answer(route: httpx.Response, fast: httpx.Response) -> None:
    assert fast.headers.get("x-cache") == "l1", "the protocol did not answer"
    assert "x-cache" not in route.headers, "the route did not answer"
    assert fast.status_code == route.status_code == 200
    assert fast.content == route.content
    strip = lambda r: {k: v for k, v in r.headers.items() if k not in PER_ANSWER}  # noqa: E731
    assert strip(fast) == strip(route)
    assert fast.headers["cache-control"] == "private, no-cache"
    assert fast.headers["vary"] == "Cookie, Authorization, Origin"


@asynccontextmanager
async def gateway(settings):
    async with served(settings) as (app, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as client:
        yield app, client


async def test_me_profile_and_conversation_are_the_routes_bytes_by_bearer_and_cookie(
        embedded_settings):
    async with gateway(embedded_settings) as (app, client):
        ada, ada_token, bob, _ = await connected_pair(client, "ada", "bob")
        sent = await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "hi"},
                                 headers=bearer(ada_token))
        assert sent.status_code == 201
        compared = set()
        for path in ("/api/auth/me", f"/api/users/{ada['id']}", f"/api/users/{bob['id']}",
                     f"/api/messages/{bob['id']}"):
            for credentials in (bearer(ada_token), cookie(ada_token)):
                first = await client.get(path, headers=credentials)
                calls = app.calls
                second = await client.get(path, headers=credentials)
                assert app.calls == calls
                if "x-cache" not in first.headers:  # else filled by the bearer's reads
                    same_answer(first, second)
                    compared.add(path)
                else:
                    assert second.content == first.content
        assert len(compared) == 4
        me = (await client.get("/api/auth/me", headers=bearer(ada_token))).json()
        assert me["email"] == "ada@example.com" and me["id"] == ada["id"]
        page = (await client.get(f"/api/messages/{bob['id']}", headers=cookie(ada_token))).json()
        assert [m["text"] for m in page["items"]] == ["hi"]


async def test_no_answer_goes_to_another_user_an_anonymous_caller_or_a_dead_token(
        embedded_settings):
    async with gateway(embedded_settings) as (app, client):
        ada, ada_token, bob, bob_token = await connected_pair(client, "ada", "bob")
        _, eve_token = await signup(client, "eve")
        await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "secret"},
                          headers=bearer(ada_token))
        for _ in range(2):  # the second of each is the protocol's
            own = await client.get(f"/api/users/{ada['id']}", headers=bearer(ada_token))
            mine = await client.get("/api/auth/me", headers=bearer(ada_token))
            chat = await client.get(f"/api/messages/{bob['id']}", headers=bearer(ada_token))
        assert own.headers["x-cache"] == mine.headers["x-cache"] == chat.headers["x-cache"] == "l1"
        assert own.json()["email"] == "ada@example.com"

        # Bob and Eve, each with their own token, and an anonymous caller: never Ada's answers.
        for token in (bob_token, eve_token):
            seen = await client.get(f"/api/users/{ada['id']}", headers=bearer(token))
            assert seen.status_code == 200 and "email" not in seen.json()
            me = await client.get("/api/auth/me", headers=cookie(token))
            assert me.json()["id"] != ada["id"] and me.json()["email"] != "ada@example.com"
        eve_chat = await client.get(f"/api/messages/{bob['id']}", headers=bearer(eve_token))
        assert eve_chat.json()["items"] == []
        anonymous = await client.get(f"/api/users/{ada['id']}")
        assert "email" not in anonymous.json()
        assert anonymous.headers["cache-control"] == "public, no-cache"
        assert (await client.get("/api/auth/me")).status_code == 401
        assert (await client.get(f"/api/messages/{bob['id']}")).status_code == 401
        # A forged token and one of another scheme are no session.
        for headers in ({"Authorization": f"Bearer {ada_token}x"},
                        {"Authorization": f"Basic {ada_token}"},
                        {"Cookie": f"snaproom_session={ada_token[:-1]}"}):
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 401

        # Logged out: the stolen token is dead at once, on every route, bearer or cookie.
        out = await client.post("/api/auth/logout", headers=bearer(ada_token))
        assert out.status_code == 204
        for headers in (bearer(ada_token), cookie(ada_token)):
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
            assert (await client.get(f"/api/messages/{bob['id']}",
                                     headers=headers)).status_code == 401
            after = await client.get(f"/api/users/{ada['id']}", headers=headers)
            assert "email" not in after.json()


async def test_an_expired_session_in_the_l1_is_not_accepted(embedded_settings):
    async with gateway(embedded_settings) as (app, client):
        _, token = await signup(client, "brief")
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        assert (await client.get("/api/auth/me", headers=bearer(token))).headers["x-cache"] == "l1"
        state = app.app.state.runtime
        info = sessions.cached_viewer(state, token)
        assert info is not None and info.token_hash == token_hash(token)
        # The cached entry (kept a minute) says the session ends in a moment.
        fields = {**info.__dict__, "expires_at": time.time() + 0.3}
        del fields["token_hash"]
        await state.cache.set(sessions.session_key(info.token_hash), orjson.dumps(fields),
                              ttl=60)
        assert sessions.cached_viewer(state, token) is not None
        await asyncio.sleep(0.5)
        assert sessions.cached_viewer(state, token) is None
        # Not answered by the protocol; the route's database row (still valid) answers.
        late = await client.get("/api/auth/me", headers=bearer(token))
        assert "x-cache" not in late.headers


async def test_every_write_is_read_at_once_in_the_embedded_mode(embedded_settings):
    async with gateway(embedded_settings) as (app, client):
        ada, ada_token, bob, bob_token = await connected_pair(client, "ada", "bob")
        stale = 0
        for n in range(15):
            for headers in ({}, bearer(bob_token), bearer(ada_token)):
                await client.get(f"/api/users/{ada['id']}", headers=headers)  # cached
            changed = await client.patch("/api/users/me", json={"bio": f"bio {n}"},
                                         headers=bearer(ada_token))
            assert changed.status_code == 200
            for headers in ({}, bearer(bob_token), bearer(ada_token)):
                read = await client.get(f"/api/users/{ada['id']}", headers=headers)
                stale += read.json()["bio"] != f"bio {n}"
            me = await client.get("/api/auth/me", headers=bearer(ada_token))
            stale += me.json()["bio"] != f"bio {n}"
            await client.get(f"/api/messages/{bob['id']}", headers=bearer(ada_token))
            await client.post("/api/messages", json={"to_user_id": bob["id"], "text": f"m{n}"},
                              headers=bearer(ada_token))
            page = await client.get(f"/api/messages/{ada['id']}", headers=bearer(bob_token))
            stale += page.json()["items"][-1]["text"] != f"m{n}"
        assert stale == 0


async def test_a_browser_apps_cross_origin_read_gets_the_cors_headers_the_app_would_add(
        embedded_settings):
    async with gateway(embedded_settings) as (app, client):
        _, token = await signup(client, "browser")
        app_origin = {"Origin": "http://localhost:3000", **cookie(token)}
        route = await client.get("/api/auth/me", headers=app_origin)
        calls = app.calls
        fast = await client.get("/api/auth/me", headers=app_origin)
        assert app.calls == calls
        same_answer(route, fast)
        assert fast.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert fast.headers["access-control-allow-credentials"] == "true"
        # Any other origin is the app's to answer (and to refuse).
        other = await client.get("/api/auth/me", headers={**app_origin,
                                                          "Origin": "https://evil.example"})
        assert app.calls == calls + 1 and "access-control-allow-origin" not in other.headers


def fast_path_answers(metrics: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("snaproom_http_fast_path_answers_total{"))


async def test_fast_path_answers_are_counted_in_the_metrics(embedded_settings):
    async with gateway(embedded_settings) as (_app, client):
        _, token = await signup(client, "counted")
        before = fast_path_answers((await client.get("/metrics")).text)
        await client.get("/api/auth/me", headers=bearer(token))
        for _ in range(3):
            answer = await client.get("/api/auth/me", headers=bearer(token))
            assert answer.headers["x-cache"] == "l1"
        after = fast_path_answers((await client.get("/metrics")).text)
        assert after - before == 3
