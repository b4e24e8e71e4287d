"""Auth, users, audit and rate limits against real PostgreSQL and Redis (Sentinel)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from snaproom_gateway.auth.tokens import token_hash
from snaproom_gateway.users import service as users_service
from snaproom_gateway.users.models import User, UserDeletion
from tests.support.domain_events import deliver_events, pending_events
from tests.support.domain_stack import (
    app_on_stack,
    migrate,
    stack_settings,
    unique,
    unique_ip,
)
from tests.support.users_api import PASSWORD, bearer, signup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(domain_stack_env):
    import asyncio

    # In-process bus until the events package lands: tests deliver the outbox themselves.
    configured = stack_settings(domain_stack_env, kafka_brokers=[])
    asyncio.run(migrate(configured))
    return configured


async def test_signup_login_me_logout_on_postgresql(settings):
    name = unique("pg")
    async with app_on_stack(settings, unique_ip()) as (app, client):
        user, token = await signup(client, name)
        assert (await client.get("/api/auth/me", headers=bearer(token))).json()["id"] == user["id"]
        login = await client.post("/api/auth/login",
                                  json={"email": f"{name}@example.com", "password": PASSWORD})
        assert login.status_code == 200
        assert "HttpOnly" in login.headers["set-cookie"]
        second = login.json()["token"]
        client.cookies.clear()
        assert (await client.post("/api/auth/logout", headers=bearer(second))).status_code == 204
        assert (await client.get("/api/auth/me", headers=bearer(second))).status_code == 401
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        async with app.state.runtime.sessionmaker() as session:
            stored = (await session.execute(text(
                "SELECT token_hash FROM sessions WHERE user_id = :id"), {"id": user["id"]})).all()
        assert [row.token_hash for row in stored] == [token_hash(token)]


async def test_signup_and_login_errors_on_postgresql(settings):
    name = unique("err")
    async with app_on_stack(settings, unique_ip()) as (_, client):
        await signup(client, name)
        taken_email = await client.post("/api/auth/signup", json={
            "email": f"{name.upper()}@example.com", "username": unique("x"), "password": PASSWORD})
        taken_name = await client.post("/api/auth/signup", json={
            "email": f"{unique('y')}@example.com", "username": name, "password": PASSWORD})
        bad = await client.post("/api/auth/signup", json={
            "email": "nope", "username": "!", "password": "short"})
        wrong = await client.post("/api/auth/login", json={
            "email": f"{name}@example.com", "password": "wrong password"})
        unknown = await client.post("/api/auth/login", json={
            "email": f"{unique('ghost')}@example.com", "password": PASSWORD})
    assert taken_email.status_code == taken_name.status_code == 409
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"email", "username", "password"}
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_concurrent_signups_for_one_username_give_one_201_and_409s(settings):
    import asyncio

    name = unique("race")
    async with app_on_stack(settings, unique_ip()) as (_, client):
        answers = await asyncio.gather(*(client.post("/api/auth/signup", json={
            "email": f"{name}{i}@example.com", "username": name, "password": PASSWORD})
            for i in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]


async def test_logout_on_one_instance_is_seen_by_another(settings):
    async with app_on_stack(settings, unique_ip()) as (_, client_a), \
            app_on_stack(settings, unique_ip()) as (_, client_b):
        _, token = await signup(client_a, unique("two"))
        assert (await client_b.get("/api/auth/me", headers=bearer(token))).status_code == 200
        assert (await client_a.post("/api/auth/logout", headers=bearer(token))).status_code == 204
        assert (await client_b.get("/api/auth/me", headers=bearer(token))).status_code == 401
        assert (await client_a.get("/api/auth/me", headers=bearer(token))).status_code == 401


async def test_login_rate_limit_in_redis_is_shared_by_instances(settings, domain_stack_env):
    limited = stack_settings(domain_stack_env, kafka_brokers=[], rate_limit_login="3/minute")
    ip = unique_ip()
    body = {"email": f"{unique('brute')}@example.com", "password": PASSWORD}
    async with app_on_stack(limited, ip) as (app_a, client_a), \
            app_on_stack(limited, ip) as (_, client_b):
        codes = [(await client.post("/api/auth/login", json=body)).status_code
                 for client in (client_a, client_b, client_a, client_b)]
        refused = await client_b.post("/api/auth/login", json=body)
        health = (await client_a.get("/api/health/full")).json()
    assert codes == [401, 401, 401, 429]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert health["components"]["rate_limiter"]["backend"] == "redis"
    assert health["components"]["rate_limiter"]["failing_open"] is False


async def test_writes_rate_limit_per_user_in_redis(settings, domain_stack_env):
    limited = stack_settings(domain_stack_env, kafka_brokers=[], rate_limit_writes="2/minute")
    async with app_on_stack(limited, unique_ip()) as (_, client):
        _, token = await signup(client, unique("writer"))
        codes = [(await client.patch("/api/users/me", headers=bearer(token),
                                     json={"bio": str(i)})).status_code for i in range(3)]
    assert codes == [200, 200, 429]


async def test_users_profile_views_and_patch_on_postgresql(settings):
    async with app_on_stack(settings, unique_ip()) as (app, client):
        owner, owner_token = await signup(client, unique("owner"))
        _, viewer_token = await signup(client, unique("viewer"))
        for _ in range(2):
            seen = await client.get(f"/api/users/{owner['id']}", headers=bearer(viewer_token))
            assert seen.status_code == 200 and "email" not in seen.json()
        patched = await client.patch("/api/users/me", headers=bearer(owner_token),
                                     json={"display_name": "Owner", "bio": "hi"})
        assert patched.status_code == 200
        await app.state.runtime.profile_views.flush()  # the batch the flush interval would write
        await deliver_events(app)
        mine = await client.get(f"/api/users/{owner['id']}", headers=bearer(owner_token))
        listed = await client.get("/api/users", params={"size": 100},
                                  headers=bearer(owner_token))
        missing = await client.get("/api/users/999999999", headers=bearer(owner_token))
        bad = await client.patch("/api/users/me", headers=bearer(owner_token),
                                 json={"role": "admin"})
    assert mine.json()["profile_views"] == 2 and mine.json()["display_name"] == "Owner"
    assert listed.status_code == 200 and listed.json()["total"] >= 2
    assert missing.status_code == 404 and bad.status_code == 422


async def test_deletion_saga_on_postgresql_completes_and_frees_the_email(settings):
    name = unique("del")
    async with app_on_stack(settings, unique_ip()) as (app, client):
        user, token = await signup(client, name)
        assert (await client.delete("/api/users/me", headers=bearer(token))).status_code == 202
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401
        again = await client.delete("/api/users/me", headers=bearer(token))
        assert again.status_code == 401
        await deliver_events(app)
        async with app.state.runtime.sessionmaker() as session:
            row = await session.get(User, user["id"])
            saga = await session.scalar(select(UserDeletion).where(
                UserDeletion.user_id == user["id"]))
        assert (row.status, saga.status) == ("deleted", "completed")
        reborn, _ = await signup(client, name)
    assert reborn["id"] != user["id"]


async def test_deletion_saga_on_postgresql_compensates_when_a_step_keeps_failing(settings):
    from snaproom_gateway.users import deletion

    name = unique("keep")
    async with app_on_stack(settings, unique_ip()) as (app, client):
        user, token = await signup(client, name)

        async def always_fails(session, user_id):
            await session.execute(text("SELECT * FROM no_such_table"))  # a real database error

        deletion.purge_steps["always_fails"] = always_fails  # run last, after the domains' steps

        try:
            await client.delete("/api/users/me", headers=bearer(token))
            await deliver_events(app)
        finally:
            deletion.purge_steps.pop("always_fails")
        async with app.state.runtime.sessionmaker() as session:
            row = await session.get(User, user["id"])
            saga = await session.scalar(select(UserDeletion).where(
                UserDeletion.user_id == user["id"]))
        login = await client.post("/api/auth/login",
                                  json={"email": f"{name}@example.com", "password": PASSWORD})
    assert row.status == "active" and saga.status == "compensated"
    assert "no_such_table" in saga.last_error
    assert login.status_code == 200


async def test_admin_audit_on_postgresql_and_the_trail_is_append_only(settings):
    admin_name, user_name = unique("adm"), unique("usr")
    async with app_on_stack(settings, unique_ip()) as (app, client):
        _, admin_token = await signup(client, admin_name)
        user, user_token = await signup(client, user_name)
        assert (await client.get("/api/admin/audit")).status_code == 401
        forbidden = await client.get("/api/admin/audit", headers=bearer(user_token))
        assert forbidden.status_code == 403
        async with app.state.runtime.sessionmaker() as session:
            await users_service.create_admin(session, email=f"{admin_name}@example.com",
                                             username=None, password=None)
            await session.commit()
        await client.post("/api/auth/login", json={"email": f"{user_name}@example.com",
                                                   "password": "bad"},
                          headers={"X-Request-ID": f"corr-{user_name}"})
        assert [e for e in await pending_events(app)]
        await deliver_events(app)
        trail = await client.get("/api/admin/audit", headers=bearer(admin_token),
                                 params={"user_id": user["id"], "action": "login_failed"})
        assert trail.status_code == 200
        assert [e["correlation_id"] for e in trail.json()] == [f"corr-{user_name}"]
        async with app.state.runtime.sessionmaker() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text("UPDATE audit_log SET action = 'x'"))
            await session.rollback()
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text("DELETE FROM audit_log"))


async def test_nul_characters_are_a_422_not_a_database_error_on_postgresql(settings):
    """PostgreSQL text cannot hold U+0000 (asyncpg raised 'invalid byte sequence', a 500)."""
    name = unique("nul")
    async with app_on_stack(settings, unique_ip()) as (_, client):
        signup_answer = await client.post("/api/auth/signup", json={
            "email": f"{name}@example.com", "username": name, "password": PASSWORD,
            "first_name": "a\x00b"})
        _, token = await signup(client, unique("nulpatch"))
        patched = await client.patch("/api/users/me", headers=bearer(token),
                                     json={"bio": "x\x00y"})
        searched = await client.get("/api/users", params={"search": "a\x00"},
                                    headers=bearer(token))
        kept = await client.get("/api/auth/me", headers=bearer(token))
    assert [signup_answer.status_code, patched.status_code, searched.status_code] == [422] * 3
    assert kept.status_code == 200 and kept.json()["bio"] is None  # nothing was written
