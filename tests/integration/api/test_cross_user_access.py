"""Every route that takes an id, given another user's id and the ids around it, answers as the
README documents (403 or 404, or the caller's own empty data), never with another user's data.
Plus session fixation and token reuse after logout, across two instances sharing Redis.

The world (PostgreSQL + Redis of the harness, in-process bus): Alice and Bob are connected and
have talked; Dave has asked Alice to connect; Bob has a notification. Carol is the outsider who
probes, Dave the requester who tries to accept his own request.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.support.domain_events import deliver_events
from tests.support.domain_stack import app_on_stack, migrate, stack_settings, unique
from tests.support.users_api import bearer, signup

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class World:
    app: Any
    client: httpx.AsyncClient
    ids: dict[str, int]
    tokens: dict[str, str]
    private: list[str]  # strings only Alice and Bob may ever read


@pytest.fixture(scope="module")
def settings(domain_stack_env):
    configured = stack_settings(domain_stack_env, kafka_brokers=[])
    asyncio.run(migrate(configured))
    return configured


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(settings):
    async with app_on_stack(settings) as (app, client):
        names = {who: unique(who) for who in ("alice", "bob", "carol", "dave")}
        users, tokens = {}, {}
        for who, name in names.items():
            users[who], tokens[who] = await signup(client, name)
        ids = {who: user["id"] for who, user in users.items()}
        asked = await client.post("/api/connections", json={"to_user_id": ids["bob"]},
                                  headers=bearer(tokens["alice"]))
        ids["accepted"] = asked.json()["id"]
        assert (await client.post(f"/api/connections/{ids['accepted']}/accept",
                                  headers=bearer(tokens["bob"]))).status_code == 200
        pending = await client.post("/api/connections", json={"to_user_id": ids["alice"]},
                                    headers=bearer(tokens["dave"]))
        ids["pending"] = pending.json()["id"]
        secret_text = f"between alice and bob {uuid.uuid4().hex}"
        sent = await client.post("/api/messages", json={"to_user_id": ids["bob"],
                                                        "text": secret_text},
                                 headers=bearer(tokens["alice"]))
        assert sent.status_code == 201, sent.text
        ids["message"] = sent.json()["id"]
        await deliver_events(app)  # Bob was offline: a notification of the message
        notes = (await client.get("/api/notifications", headers=bearer(tokens["bob"]))).json()
        ids["notification"] = next(n["id"] for n in notes["items"]
                                   if n["payload"].get("message_id") == ids["message"])
        private = [secret_text, *(f"{names[w]}@example.com" for w in ("alice", "bob"))]
        yield World(app, client, ids, tokens, private)


# (who asks, method, path with {placeholders}, statuses the README allows for the id itself,
#  statuses allowed for the ids around it). `{id}` is the probed id; `around` shifts it by ±1.
CASES = [
    ("carol", "POST", "/api/connections/{pending}/accept", {403}, {403, 404}),
    ("carol", "POST", "/api/connections/{pending}/reject", {403}, {403, 404}),
    ("dave", "POST", "/api/connections/{pending}/accept", {403}, {403, 404}),
    ("carol", "POST", "/api/connections/{accepted}/accept", {403}, {403, 404}),
    ("carol", "POST", "/api/connections/{accepted}/reject", {403}, {403, 404}),
    # Around: 200 only for the caller's own notification (checked below).
    ("carol", "POST", "/api/notifications/{notification}/read", {404}, {200, 404}),
    ("alice", "POST", "/api/notifications/{notification}/read", {404}, {200, 404}),
    # Around: 400 when the id next to it is the caller's own ("a conversation needs another user").
    ("carol", "GET", "/api/messages/{alice}", {200}, {200, 400, 404}),
    ("carol", "GET", "/api/messages/{bob}", {200}, {200, 400, 404}),
    ("dave", "GET", "/api/messages/{bob}", {200}, {200, 400, 404}),
    ("carol", "GET", "/api/users/{alice}", {200}, {200, 404}),
    ("bob", "GET", "/api/users/{alice}", {200}, {200, 404}),
    ("carol", "GET", "/api/admin/audit?user_id={alice}", {403}, {403}),
    ("alice", "GET", "/api/admin/audit?user_id={bob}", {403}, {403}),
    ("carol", "GET", "/api/notifications?before={notification}", {200}, {200}),
    ("carol", "GET", "/api/connections", {200}, {200}),
    ("carol", "GET", "/api/connections/requests?direction=incoming", {200}, {200}),
    ("carol", "GET", "/api/connections/requests?direction=outgoing", {200}, {200}),
    ("carol", "GET", "/api/admin/kafka/cluster", {403}, {403}),
    ("carol", "GET", "/api/admin/kafka/consumers", {403}, {403}),
    ("carol", "GET", "/api/admin/cache/stats", {403}, {403}),
    ("carol", "GET", "/api/admin/breakers", {403}, {403}),
]
SEND_CASES = [  # POST /api/messages to someone not connected: 403, nothing stored
    ("carol", "alice"), ("carol", "bob"), ("dave", "alice"), ("dave", "bob")]


def _probe_paths(world: World, template: str) -> list[tuple[str, bool]]:
    """The path with the real id, then with each id one below and above it."""
    names = [n for n in world.ids if "{" + n + "}" in template]
    exact = template.format(**world.ids)
    if not names:
        return [(exact, True)]
    probes = [(exact, True)]
    for shift in (-1, 1):
        shifted = dict(world.ids)
        shifted[names[0]] = max(1, world.ids[names[0]] + shift)
        probes.append((template.format(**shifted), False))
    return probes


@pytest.mark.parametrize(("who", "method", "template", "exact", "around"), CASES,
                         ids=[f"{c[0]} {c[1]} {c[2]}" for c in CASES])
async def test_another_users_id_and_its_neighbours_give_nothing_of_theirs(
        world, who, method, template, exact, around):
    for path, is_exact in _probe_paths(world, template):
        response = await world.client.request(method, path, headers=bearer(world.tokens[who]))
        allowed = exact if is_exact else around
        assert response.status_code in allowed, (path, response.status_code, response.text)
        body = response.text
        leaked = [p for p in world.private if p in body and who not in ("alice", "bob")]
        assert leaked == [], (path, leaked)
        if path.startswith("/api/users/") and response.status_code == 200:
            shown = response.json()
            if shown["id"] != world.ids[who]:  # only the owner sees the private fields
                assert {"email", "role", "profile_views"} & shown.keys() == set(), path
        if path.startswith("/api/messages/") and response.status_code == 200:
            # The caller's own conversation with that user: never one they are not part of.
            assert all(world.ids[who] in (m["sender_id"], m["receiver_id"])
                       for m in response.json()["items"]), path
        if response.status_code == 200 and template.startswith("/api/notifications/"):
            own = (await world.client.get("/api/notifications?limit=100",
                                          headers=bearer(world.tokens[who]))).json()["items"]
            assert response.json()["id"] in {n["id"] for n in own}, path
        if response.status_code == 200 and template.startswith("/api/notifications?"):
            assert response.json()["items"] == []
        if response.status_code == 200 and template.startswith("/api/connections"):
            assert response.json()["items"] == [] or who == "dave"


@pytest.mark.parametrize("template", sorted({c[2] for c in CASES}))
async def test_every_route_that_takes_an_id_refuses_no_session(world, template):
    method = next(c[1] for c in CASES if c[2] == template)
    if template.startswith("/api/users/"):
        return  # public profiles are readable without a session (the anonymous view)
    response = await world.client.request(method, template.format(**world.ids))
    assert response.status_code == 401


@pytest.mark.parametrize(("who", "to"), SEND_CASES, ids=[f"{w} to {t}" for w, t in SEND_CASES])
async def test_a_message_to_someone_not_connected_is_refused(world, who, to):
    response = await world.client.post("/api/messages", json={
        "to_user_id": world.ids[to], "text": "let me in"}, headers=bearer(world.tokens[who]))
    assert response.status_code == 403


async def test_login_ignores_a_session_cookie_the_client_chose(world):
    client = world.client
    name = unique("fix")
    await signup(client, name)
    planted = "attacker-chosen-" + uuid.uuid4().hex
    client.cookies.set("snaproom_session", planted)
    try:
        login = await client.post("/api/auth/login", json={
            "email": f"{name}@example.com", "password": "correct horse battery"})
    finally:
        client.cookies.clear()
    assert login.status_code == 200
    issued = login.json()["token"]
    assert issued != planted
    assert login.cookies.get("snaproom_session") == issued
    assert (await client.get("/api/auth/me", headers=bearer(planted))).status_code == 401
    # Signing in again (from the same browser) gives another token, never the one it had.
    again = await client.post("/api/auth/login", json={
        "email": f"{name}@example.com", "password": "correct horse battery"},
        headers=bearer(issued))
    client.cookies.clear()
    assert again.json()["token"] != issued


async def test_a_token_is_refused_after_logout_on_every_instance_by_bearer_and_cookie(
        world, settings):
    client = world.client
    name = unique("out")
    _, token = await signup(client, name)
    async with app_on_stack(settings) as (_, other):
        assert (await other.get("/api/auth/me", headers=bearer(token))).status_code == 200
        assert (await client.post("/api/auth/logout", headers=bearer(token))).status_code == 204
        for instance in (client, other):
            assert (await instance.get("/api/auth/me", headers=bearer(token))).status_code == 401
            assert (await instance.get("/api/auth/me",
                                       headers={"Cookie": f"snaproom_session={token}"})
                    ).status_code == 401
            assert (await instance.post("/api/auth/logout", headers=bearer(token))
                    ).status_code == 401
