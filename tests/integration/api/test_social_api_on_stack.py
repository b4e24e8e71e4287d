"""Connections, messages, presence and notifications on real PostgreSQL and Redis (Sentinel)."""

from __future__ import annotations

import asyncio

import pytest

from snaproom_gateway.messages.recent_store import recent_key
from tests.support.domain_events import deliver_events
from tests.support.domain_stack import app_on_stack, unique, unique_ip
from tests.support.social_api import connected_pair
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


async def test_connect_message_read_and_notify_on_postgresql_and_redis(settings):
    async with app_on_stack(settings, unique_ip()) as (app, client):
        alice, token_a, bob, token_b = await connected_pair(client, unique("al"), unique("bo"))
        await deliver_events(app)
        notes = (await client.get("/api/notifications", headers=bearer(token_a))).json()
        assert [n["kind"] for n in notes["items"]] == ["connection.accepted"]
        sent = []
        for i in range(3):
            response = await client.post("/api/messages", json={
                "to_user_id": bob["id"], "text": f"hello {i}"}, headers=bearer(token_a))
            assert response.status_code == 201
            sent.append(response.json()["id"])
        page = (await client.get(f"/api/messages/{alice['id']}", headers=bearer(token_b))).json()
        assert [m["id"] for m in page["items"]] == sent
        # The recent set lives in Redis under one key per unordered pair, filled by the read.
        key = recent_key(bob["id"], alice["id"])
        assert key == recent_key(alice["id"], bob["id"])
        assert key == f"snaproom:v1:conversation:{min(alice['id'], bob['id'])}:" \
                      f"{max(alice['id'], bob['id'])}:recent"
        members = await app.state.runtime.redis.master.zrange(key, 0, -1, withscores=True)
        assert [int(score) for _, score in members[:-1]] == sent
        assert not any(b"hello" in member for member, _ in members)  # sealed (AES-GCM)
        assert 0 < await app.state.runtime.redis.master.ttl(key) <= settings.realtime.recent_messages_ttl
        again = (await client.get(f"/api/messages/{bob['id']}", headers=bearer(token_a))).json()
        assert again == page
        # Bob was offline: each message also became a notification for him.
        await deliver_events(app)
        to_bob = (await client.get("/api/notifications?unread=true",
                                   headers=bearer(token_b))).json()["items"]
        assert [n["kind"] for n in to_bob].count("message.received") == 3


async def test_each_listed_error_on_postgresql(settings):
    async with app_on_stack(settings, unique_ip()) as (_, client):
        alice, token_a = await signup(client, unique("al"))
        bob, token_b = await signup(client, unique("bo"))
        _, token_c = await signup(client, unique("ca"))
        conn = lambda body, token: client.post("/api/connections", json=body,  # noqa: E731
                                                headers=bearer(token))
        assert (await conn({"to_user_id": alice["id"]}, token_a)).status_code == 400
        assert (await conn({"to_user_id": 2**62}, token_a)).status_code == 404
        asked = await conn({"to_user_id": bob["id"]}, token_a)
        assert asked.status_code == 201
        assert (await conn({"to_user_id": bob["id"]}, token_a)).status_code == 409
        assert (await conn({"to_user_id": alice["id"]}, token_b)).status_code == 409
        cid = asked.json()["id"]
        assert (await client.post(f"/api/connections/{cid}/accept",
                                  headers=bearer(token_c))).status_code == 403
        assert (await client.post(f"/api/connections/{cid}/reject",
                                  headers=bearer(token_a))).status_code == 403
        assert (await client.post(f"/api/connections/{2**62}/accept",
                                  headers=bearer(token_b))).status_code == 404
        message = {"to_user_id": bob["id"], "text": "before acceptance"}
        assert (await client.post("/api/messages", json=message,
                                  headers=bearer(token_a))).status_code == 403
        assert (await client.post(f"/api/connections/{cid}/accept",
                                  headers=bearer(token_b))).status_code == 200
        assert (await client.post(f"/api/connections/{cid}/accept",
                                  headers=bearer(token_b))).status_code == 409
        assert (await client.post("/api/messages", json=message,
                                  headers=bearer(token_a))).status_code == 201
        assert (await client.post("/api/messages", json={**message, "text": "x" * 4001},
                                  headers=bearer(token_a))).status_code == 422
        # PostgreSQL text cannot hold NUL: refused as input, not a failed insert.
        assert (await client.post("/api/messages", json={**message, "text": "a\u0000b"},
                                  headers=bearer(token_a))).status_code == 422
        assert (await client.get("/api/presence?user_ids=1,x",
                                 headers=bearer(token_a))).status_code == 400
        to_self = {"to_user_id": alice["id"], "text": "me"}
        assert (await client.post("/api/messages", json=to_self,
                                  headers=bearer(token_a))).status_code == 400
        assert (await client.post("/api/messages", json={"to_user_id": 2**62, "text": "?"},
                                  headers=bearer(token_a))).status_code == 404
        assert (await client.get(f"/api/messages/{2**62}",
                                 headers=bearer(token_a))).status_code == 404
        assert (await client.post(f"/api/notifications/{2**62}/read",
                                  headers=bearer(token_a))).status_code == 404
        for method, path in (("GET", "/api/connections"), ("POST", "/api/messages"),
                             ("GET", "/api/notifications"), ("POST", "/api/presence/heartbeat")):
            assert (await client.request(method, path)).status_code == 401, path


async def test_concurrent_requests_for_one_pair_give_one_201_and_409s(settings):
    async with app_on_stack(settings, unique_ip()) as (_, client):
        alice, token_a = await signup(client, unique("al"))
        bob, token_b = await signup(client, unique("bo"))
        calls = [client.post("/api/connections", json={"to_user_id": bob["id"]},
                             headers=bearer(token_a)) for _ in range(4)]
        calls += [client.post("/api/connections", json={"to_user_id": alice["id"]},
                              headers=bearer(token_b)) for _ in range(4)]
        codes = sorted(r.status_code for r in await asyncio.gather(*calls))
    assert codes == [201] + [409] * 7


async def test_concurrent_sends_land_in_the_recent_set_in_id_order(settings):
    async with app_on_stack(settings, unique_ip()) as (app, client):
        alice, token_a, bob, token_b = await connected_pair(client, unique("al"), unique("bo"))
        await client.get(f"/api/messages/{bob['id']}", headers=bearer(token_a))  # fill (empty)

        async def send(i: int, token: str, to: int) -> int:
            response = await client.post("/api/messages", json={"to_user_id": to,
                                                                "text": f"m{i}"},
                                         headers=bearer(token))
            assert response.status_code == 201
            return response.json()["id"]

        ids = await asyncio.gather(*(send(i, token_a, bob["id"]) if i % 2 else
                                     send(i, token_b, alice["id"]) for i in range(60)))
        cached = (await client.get(f"/api/messages/{bob['id']}",
                                   headers=bearer(token_a))).json()["items"]
        async with app.state.runtime.sessionmaker() as session:
            from snaproom_gateway.messages import service
            rows = await service.conversation(session, alice["id"], bob["id"], limit=50)
    assert [m["id"] for m in cached] == [r.id for r in rows] == sorted(ids)[-50:]


async def test_presence_lives_in_redis_and_is_shared_by_instances(settings):
    async with app_on_stack(settings, unique_ip()) as (app_a, client_a), \
            app_on_stack(settings, unique_ip()) as (_, client_b):
        alice, token_a = await signup(client_a, unique("al"))
        assert (await client_a.post("/api/presence/heartbeat",
                                    headers=bearer(token_a))).status_code == 200
        seen = (await client_b.get(f"/api/presence?user_ids={alice['id']}",
                                   headers=bearer(token_a))).json()
        assert seen[str(alice["id"])]["online"] is True
        ttl = await app_a.state.runtime.redis.master.ttl(f"snaproom:v1:presence:online:{alice['id']}")
        assert 0 < ttl <= 300


async def test_deleting_a_user_purges_social_data_on_postgresql(settings):
    from sqlalchemy import text

    async with app_on_stack(settings, unique_ip()) as (app, client):
        alice, token_a, bob, token_b = await connected_pair(client, unique("al"), unique("bo"))
        await client.post("/api/messages", json={"to_user_id": bob["id"], "text": "bye"},
                          headers=bearer(token_a))
        await deliver_events(app)
        assert (await client.delete("/api/users/me", headers=bearer(token_a))).status_code == 202
        await deliver_events(app)
        async with app.state.runtime.sessionmaker() as session:
            counts = [await session.scalar(text(sql), {"id": alice["id"]}) for sql in (
                "SELECT count(*) FROM connections WHERE requester_id = :id OR addressee_id = :id",
                "SELECT count(*) FROM messages WHERE sender_id = :id OR receiver_id = :id",
                "SELECT count(*) FROM notifications WHERE user_id = :id")]
            status = await session.scalar(text("SELECT status FROM users WHERE id = :id"),
                                          {"id": alice["id"]})
    assert counts == [0, 0, 0] and status == "deleted"


async def test_connection_lists_are_cached_in_redis_and_a_write_on_another_instance_drops_them(
        settings):
    async with app_on_stack(settings, unique_ip()) as (app_a, client_a), \
            app_on_stack(settings, unique_ip()) as (_, client_b):
        alice, token_a = await signup(client_a, unique("al"))
        bob, token_b = await signup(client_a, unique("bo"))
        first = await client_a.get("/api/connections/requests", headers=bearer(token_b))
        again = await client_a.get("/api/connections/requests", headers=bearer(token_b))
        assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
        asked = await client_b.post("/api/connections", json={"to_user_id": bob["id"]},
                                    headers=bearer(token_a))
        assert asked.status_code == 201
        await deliver_events(app_a)
        after = await client_a.get("/api/connections/requests", headers=bearer(token_b))
    assert after.headers["x-cache"] == "MISS"
    assert [c["user"]["id"] for c in after.json()["items"]] == [alice["id"]]
