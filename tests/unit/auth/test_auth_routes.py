"""Signup, login, logout and me on the embedded defaults (SQLite, in-process limiter)."""

import pytest
from sqlalchemy import select, text

from snaproom_gateway.auth.models import UserSession
from snaproom_gateway.auth.tokens import token_hash
from tests.support.apps import running_app
from tests.support.domain_events import deliver_events, pending_events
from tests.support.users_api import PASSWORD, bearer, signup


async def test_signup_answers_201_with_user_token_and_httponly_cookie(app_client):
    _, client = app_client
    response = await client.post("/api/auth/signup", json={
        "email": "Ada@Example.com", "username": "Ada_L", "password": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["username"] == "ada_l"
    assert body["user"]["first_name"] == "Ada"
    assert body["user"]["role"] == "user"
    assert "password_hash" not in body["user"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"snaproom_session={body['token']}")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie


async def test_signup_writes_created_login_and_audit_events_in_its_transaction(app_client):
    app, client = app_client
    user, _ = await signup(client, "grace")
    events = [(e["data"]["event"], e["_topic"], e["data"]["user_id"])
              for e in await pending_events(app)]
    assert ("user.created", "user-events", user["id"]) in events
    assert ("user.login", "user-events", user["id"]) in events
    assert ("audit.signup", "audit-events", user["id"]) in events
    created = next(e for e in await pending_events(app) if e["data"]["event"] == "user.created")
    assert created["data"]["data"] == {"email": "grace@example.com", "username": "grace"}


@pytest.mark.parametrize("taken", [{"email": "LIN@example.com", "username": "other"},
                                   {"email": "other@example.com", "username": "LIN"}])
async def test_signup_conflicts_on_taken_email_or_username_whatever_the_case(app_client, taken):
    _, client = app_client
    await signup(client, "lin")
    response = await client.post("/api/auth/signup", json={**taken, "password": PASSWORD})
    assert response.status_code == 409
    field = "Email" if taken["username"] == "other" else "Username"
    assert response.json() == {"detail": f"{field} already registered"}


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email", "username": "okname", "password": PASSWORD}, "email"),
    ({"email": "a@example.com", "username": "okname", "password": "short"}, "password"),
    ({"email": "a@example.com", "username": "no spaces!", "password": PASSWORD}, "username"),
    ({"email": "a@example.com", "username": "ab", "password": PASSWORD}, "username"),
    ({"email": "a@example.com", "password": PASSWORD}, "username"),
    ({"email": "a@example.com", "username": "okname", "password": "x" * 129}, "password"),
])
async def test_signup_rejects_bad_input_with_422_naming_the_field(app_client, body, field):
    _, client = app_client
    response = await client.post("/api/auth/signup", json=body)
    assert response.status_code == 422
    assert field in [error["loc"][-1] for error in response.json()["detail"]]


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"null", b""])
async def test_malformed_bodies_are_422_not_500(app_client, raw):
    _, client = app_client
    for path in ("/api/auth/signup", "/api/auth/login"):
        response = await client.post(path, content=raw,
                                     headers={"content-type": "application/json"})
        assert response.status_code == 422, (path, raw, response.text)
        assert "detail" in response.json()


async def test_login_answers_user_token_and_cookie(app_client):
    _, client = app_client
    user, _ = await signup(client, "hopper")
    response = await client.post("/api/auth/login",
                                 json={"email": "HOPPER@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user["id"]
    assert "snaproom_session=" in response.headers["set-cookie"]
    me = await client.get("/api/auth/me")  # the cookie alone signs in
    assert me.status_code == 200 and me.json()["id"] == user["id"]


async def test_login_failure_says_the_same_whether_the_email_exists_or_not(app_client):
    _, client = app_client
    await signup(client, "known")
    wrong_password = await client.post("/api/auth/login", json={
        "email": "known@example.com", "password": "not the password"})
    unknown_email = await client.post("/api/auth/login", json={
        "email": "nobody@example.com", "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json() == {"detail": "Invalid email or password"}
    assert "set-cookie" not in wrong_password.headers


async def test_failed_logins_are_published_for_the_audit_trail(app_client):
    app, client = app_client
    user, _ = await signup(client, "target")
    await client.post("/api/auth/login", json={"email": "target@example.com", "password": "x"})
    failed = [e for e in await pending_events(app) if e["data"]["event"] == "audit.login_failed"]
    assert failed and failed[0]["data"]["user_id"] == user["id"]
    assert failed[0]["data"]["data"]["context"]["email"] == "target@example.com"


async def test_me_accepts_bearer_token_and_rejects_missing_or_bad_tokens(app_client):
    _, client = app_client
    user, token = await signup(client, "bearer_user")
    assert (await client.get("/api/auth/me", headers=bearer(token))).json()["id"] == user["id"]
    for headers in ({}, bearer("nonsense"), bearer("x" * 5000), {"Authorization": "Basic abc"}):
        response = await client.get("/api/auth/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {"detail": "Not authenticated"}
        assert response.headers["www-authenticate"] == "Bearer"


async def test_logout_ends_the_session_and_clears_the_cookie(app_client):
    _, client = app_client
    _, token = await signup(client, "leaver")
    response = await client.post("/api/auth/logout", headers=bearer(token))
    assert response.status_code == 204
    assert 'snaproom_session=""' in response.headers["set-cookie"]
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401
    again = await client.post("/api/auth/logout", headers=bearer(token))
    assert again.status_code == 401


async def test_logout_on_one_instance_ends_the_session_on_the_other(domain_settings):
    async with running_app(domain_settings) as (app_a, client_a), \
            running_app(domain_settings) as (app_b, client_b):
        # Both instances share Redis in production.
        app_b.state.runtime.cache = app_a.state.runtime.cache
        _, token = await signup(client_a, "twoinst")
        assert (await client_b.get("/api/auth/me", headers=bearer(token))).status_code == 200
        assert (await client_a.post("/api/auth/logout", headers=bearer(token))).status_code == 204
        assert (await client_b.get("/api/auth/me", headers=bearer(token))).status_code == 401


async def test_sessions_store_only_the_token_hash(app_client):
    app, client = app_client
    _, token = await signup(client, "hashed")
    async with app.state.runtime.sessionmaker() as session:
        rows = (await session.execute(text("SELECT * FROM sessions"))).all()
    assert len(rows) == 1
    assert token not in repr(rows)
    assert rows[0].token_hash == token_hash(token)


async def test_validation_is_a_cache_hit_once_the_session_is_cached(app_client):
    app, client = app_client
    _, token = await signup(client, "hot")
    # Let signup's events run first (user.created drops the user's tags, sessions included),
    # then fill the cache with one validation.
    await deliver_events(app)
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    # Remove the row behind the cache's back: a hit must not need the database.
    async with app.state.runtime.sessionmaker() as session:
        await session.execute(text("DELETE FROM sessions"))
        await session.commit()
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
    assert await app.state.runtime.cache.get(f"session:{token_hash(token)}") is not None


async def test_losing_the_cache_logs_nobody_out(app_client):
    app, client = app_client
    user, token = await signup(client, "durable")
    await deliver_events(app)  # signup's user.created drops the user's tags once; let it pass
    app.state.runtime.cache.local.clear()  # a Redis restart without persistence
    response = await client.get("/api/auth/me", headers=bearer(token))
    assert response.status_code == 200 and response.json()["id"] == user["id"]
    assert await app.state.runtime.cache.get(f"session:{token_hash(token)}") is not None  # written back


async def test_sessions_are_served_on_the_embedded_defaults(domain_settings):
    async with running_app(domain_settings) as (_, client):
        user, token = await signup(client, "nocache")
        me = await client.get("/api/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["id"] == user["id"]


async def test_an_expired_session_is_rejected(app_client):
    app, client = app_client
    _, token = await signup(client, "expired")
    app.state.runtime.cache.local.clear()
    async with app.state.runtime.sessionmaker() as session:
        row = await session.scalar(select(UserSession))
        row.expires_at = row.expires_at.replace(year=2000)
        await session.commit()
    assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 401


async def test_signup_succeeds_and_keeps_its_events_while_kafka_is_unreachable(tmp_path):
    from snaproom_gateway.core.settings import Settings

    settings = Settings(_env_file=None, app_env="testing",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/k.db",
                        kafka_brokers=["127.0.0.1:1"])
    async with running_app(settings) as (app, client):
        user, _ = await signup(client, "offline")
        events = await pending_events(app)
    assert user["username"] == "offline"
    assert "user.created" in [e["data"]["event"] for e in events]


async def test_the_janitor_removes_expired_session_rows_only(app_client):
    from snaproom_gateway.auth import janitor

    app, client = app_client
    await signup(client, "fresh")
    _, old_token = await signup(client, "stale")
    async with app.state.runtime.sessionmaker() as session:
        row = await session.get(UserSession, token_hash(old_token))
        row.expires_at = row.expires_at.replace(year=2000)
        await session.commit()
    assert await janitor.purge_once(app.state.runtime.sessionmaker) == 1
    async with app.state.runtime.sessionmaker() as session:
        left = (await session.scalars(select(UserSession))).all()
    assert len(left) == 1 and left[0].token_hash != token_hash(old_token)
