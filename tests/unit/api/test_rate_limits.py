"""Rate limits per IP (signup, login) and per user (writes), and failing open without Redis."""

from snaproom_gateway.core.settings import Settings
from tests.support.apps import running_app
from tests.support.users_api import PASSWORD, bearer, signup


async def test_login_is_limited_per_ip_with_429_retry_after_and_ratelimit_headers(
        domain_settings):
    settings = domain_settings.with_changes(**{"rate_limit_login": "3/minute"})
    async with running_app(settings) as (_, client):
        await signup(client, "brute")
        good = await client.post("/api/auth/login", json={
            "email": "brute@example.com", "password": PASSWORD})
        answers = [await client.post("/api/auth/login", json={
            "email": "brute@example.com", "password": "guess"}) for _ in range(3)]
    assert good.status_code == 200
    assert (good.headers["x-ratelimit-limit"], good.headers["x-ratelimit-remaining"]) == ("3", "2")
    assert [a.status_code for a in answers] == [401, 401, 429]
    # A failed login tells the client how many tries are left too.
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    refused = answers[2]
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert int(refused.headers["x-ratelimit-reset"]) > 0
    assert refused.json()["detail"].startswith("Too many requests")


async def test_the_login_limit_counts_each_ip_apart(domain_settings):
    settings = domain_settings.with_changes(**{"rate_limit_login": "1/minute"})
    async with running_app(settings) as (app, client):
        import httpx

        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 1)),
                                  base_url="http://gateway")
        body = {"email": "who@example.com", "password": PASSWORD}
        first = await client.post("/api/auth/login", json=body)
        second = await client.post("/api/auth/login", json=body)
        from_elsewhere = await other.post("/api/auth/login", json=body)
        await other.aclose()
    assert (first.status_code, second.status_code, from_elsewhere.status_code) == (401, 429, 401)


async def test_signup_is_limited_per_ip(domain_settings):
    settings = domain_settings.with_changes(**{"rate_limit_signup": "2/hour"})
    async with running_app(settings) as (_, client):
        await signup(client, "first_one")
        await signup(client, "second_one")
        third = await client.post("/api/auth/signup", json={
            "email": "third@example.com", "username": "third", "password": PASSWORD})
    assert third.status_code == 429 and "retry-after" in third.headers


async def test_writes_are_limited_per_user_not_per_ip(domain_settings):
    settings = domain_settings.with_changes(**{"rate_limit_writes": "2/minute"})
    async with running_app(settings) as (app, client):
        _, alice = await signup(client, "alice")
        _, bob = await signup(client, "bob")
        codes = [(await client.patch("/api/users/me", headers=bearer(alice),
                                     json={"bio": f"v{i}"})).status_code for i in range(3)]
        bobs = await client.patch("/api/users/me", headers=bearer(bob), json={"bio": "b"})
        refused_delete = await client.delete("/api/users/me", headers=bearer(alice))
    assert codes == [200, 200, 429]
    assert bobs.status_code == 200
    assert refused_delete.status_code == 429  # deletion is a write too


async def test_without_redis_the_limiter_fails_open_and_says_so_in_health(tmp_path):
    # Port 1: Redis configured but unreachable; a refused connection must not refuse logins.
    settings = Settings(_env_file=None, app_env="testing", rate_limit_login="1/minute",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db",
                        redis_host="127.0.0.1", redis_port=1)
    async with running_app(settings) as (_, client):
        answers = [await client.post("/api/auth/login", json={
            "email": "x@example.com", "password": PASSWORD}) for _ in range(3)]
        health = (await client.get("/api/health/full")).json()
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert "x-ratelimit-limit" not in answers[0].headers
    limiter = health["components"]["rate_limiter"]
    assert limiter["status"] == "degraded" and limiter["failing_open"] is True
    assert limiter["backend"] == "redis" and limiter["failed_open_requests"] == 3


async def test_the_in_memory_limiter_reports_healthy(domain_settings):
    async with running_app(domain_settings) as (_, client):
        limiter = (await client.get("/api/health/full")).json()["components"]["rate_limiter"]
    assert limiter == {"status": "healthy", "backend": "memory", "strategy": "moving-window",
                       "enabled": True, "failing_open": False, "failed_open_requests": 0, "busy_requests": 0,
                       "last_error": None}


def test_a_bad_rate_limit_setting_names_the_variable(monkeypatch, tmp_path):
    import pytest

    from snaproom_gateway.core.settings import SettingsError, load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "ten per fortnight")
    with pytest.raises(SettingsError, match="invalid setting RATE_LIMIT_LOGIN"):
        load_settings()


async def test_every_limits_strategy_refuses_the_request_over_the_limit(domain_settings):
    for strategy in ("moving-window", "sliding-window-counter", "fixed-window"):
        settings = domain_settings.with_changes(**{"rate_limit_login": "2/minute",
                                                      "rate_limit_strategy": strategy})
        async with running_app(settings) as (_, client):
            codes = [(await client.post("/api/auth/login", json={
                "email": "s@example.com", "password": PASSWORD})).status_code for _ in range(3)]
        assert codes == [401, 401, 429], strategy


async def test_cors_lets_the_frontend_origin_send_credentials(domain_settings):
    async with running_app(domain_settings) as (_, client):
        preflight = await client.options("/api/auth/login", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        stranger = await client.options("/api/auth/login", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in stranger.headers
