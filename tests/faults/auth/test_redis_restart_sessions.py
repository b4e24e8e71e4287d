"""Redis going away and coming back: nobody is logged out, the limiter fails open, then recovers."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.domain_stack import app_on_stack, migrate, stack_settings, unique, unique_ip
from tests.support.users_api import PASSWORD, bearer, signup

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def test_a_redis_restart_logs_nobody_out_and_the_limiter_fails_open(domain_stack_env):
    from tests.support.servers import Stack

    settings = stack_settings(domain_stack_env, kafka_brokers=[], rate_limit_login="100/minute",
                              rate_limit_timeout=0.25)
    await migrate(settings)
    stack = Stack(verbose=False)
    name = unique("survivor")
    async with app_on_stack(settings, unique_ip()) as (app, client):
        _, token = await signup(client, name)
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200
        await asyncio.to_thread(stack.down, "redis")
        try:
            during = await client.get("/api/auth/me", headers=bearer(token))
            login = await client.post("/api/auth/login",
                                      json={"email": f"{name}@example.com", "password": PASSWORD})
            health = (await client.get("/api/health/full")).json()
        finally:
            await asyncio.to_thread(stack.up, "redis")
        assert during.status_code == 200
        assert login.status_code == 200  # limiter failed open rather than refusing the login
        assert "x-ratelimit-limit" not in login.headers
        assert health["components"]["rate_limiter"]["failing_open"] is True
        assert health["components"]["rate_limiter"]["status"] == "degraded"
        after = await client.get("/api/auth/me", headers=bearer(token))
        assert after.status_code == 200
        # The limiter decides again once Redis answers (the pool reconnects on its own).
        for _ in range(60):
            relogin = await client.post("/api/auth/login", json={
                "email": f"{name}@example.com", "password": PASSWORD})
            if "x-ratelimit-limit" in relogin.headers:
                break
            await asyncio.sleep(0.5)
        assert relogin.headers["x-ratelimit-limit"] == "100"
        recovered = (await client.get("/api/health/full")).json()["components"]["rate_limiter"]
        assert recovered["failing_open"] is False
