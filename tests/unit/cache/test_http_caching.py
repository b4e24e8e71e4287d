"""ETag / 304 / Cache-Control on cacheable routes, the fast path, and the admin endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from snaproom_gateway.api.app import create_app
from snaproom_gateway.api.deps import CacheDep
from snaproom_gateway.cache import user_key, user_tags
from snaproom_gateway.cache.http import cached_response, if_none_match_hits
from tests.support.users_api import admin_headers


@asynccontextmanager
async def app_with_profile_route(settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app plus a profile route built as the domain's will be: get_or_set on user_key."""
    app = create_app(settings)
    app.state.route_calls = 0
    app.state.loads = 0

    async def profile(user_id: int, request: Request, cache: CacheDep) -> Response:
        app.state.route_calls += 1

        async def load() -> bytes:
            app.state.loads += 1
            return orjson.dumps({"id": user_id, "name": f"user {user_id}"})

        body = await cache.get_or_set(user_key(user_id), load, ttl=1800, tags=user_tags(user_id))
        return cached_response(request, body)

    # In front of the domain's own profile route, so these tests count calls and loads.
    app.router.routes.insert(0, APIRoute("/api/users/{user_id}", profile, methods=["GET"]))

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield app, client


def test_if_none_match_uses_weak_comparison():
    etag = b'"abc"'
    assert if_none_match_hits(b'"abc"', etag)
    assert if_none_match_hits(b'W/"abc"', etag)
    assert if_none_match_hits(b'"x", "abc"', etag)
    assert if_none_match_hits(b"*", etag)
    assert not if_none_match_hits(b'"abd"', etag)
    assert not if_none_match_hits(None, etag)


async def test_route_answers_with_etag_and_cache_control_then_the_fast_path_serves_it(
        embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        first = await client.get("/api/users/3")
        assert first.status_code == 200
        assert first.json() == {"id": 3, "name": "user 3"}
        assert first.headers["cache-control"] == "public, no-cache"
        etag = first.headers["etag"]
        assert etag.startswith('"') and len(etag) == 34
        assert "x-cache" not in first.headers  # the route answered
        assert (app.state.route_calls, app.state.loads) == (1, 1)

        second = await client.get("/api/users/3")
        assert second.status_code == 200
        assert second.content == first.content
        assert second.headers["etag"] == etag
        assert second.headers["x-cache"] == "l1"
        assert second.headers["content-type"] == "application/json"
        assert len(second.headers["x-request-id"]) == 32
        assert second.headers["vary"] == "Origin"
        assert app.state.route_calls == 1  # served before routing

        echoed = await client.get("/api/users/3", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"


async def test_cross_origin_requests_take_the_full_stack_for_cors(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        await client.get("/api/users/3")
        response = await client.get("/api/users/3", headers={"Origin": "http://localhost:3000"})
        assert response.status_code == 200
        assert "x-cache" not in response.headers
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "ETag" in response.headers["access-control-expose-headers"]
        assert app.state.route_calls == 2
        assert app.state.loads == 1  # the route found it in the cache


async def test_if_none_match_gives_304_without_loading(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        etag = (await client.get("/api/users/4")).headers["etag"]
        cached = await client.get("/api/users/4", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.content == b""
        assert cached.headers["etag"] == etag
        assert app.state.loads == 1

        # the route itself gives 304 too (entry not in the cache any more -> route path)
        await app.state.runtime.cache.invalidate_tags(["user:4"])
        again = await client.get("/api/users/4", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert app.state.route_calls == 2


async def test_invalidation_makes_the_next_read_go_to_the_route(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        await client.get("/api/users/5")
        await client.get("/api/users/5")
        assert app.state.loads == 1
        await app.state.runtime.cache.invalidate_tags(["user:5"])
        third = await client.get("/api/users/5")
        assert "x-cache" not in third.headers
        assert app.state.loads == 2


async def test_the_fast_path_leaves_other_methods_and_paths_alone(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        await client.get("/api/users/6")
        assert (await client.post("/api/users/6")).status_code == 405
        assert (await client.get("/api/users/not-a-number")).status_code == 422
        assert (await client.get("/api/health/live")).status_code == 200


async def test_fast_path_can_be_switched_off(embedded_settings):
    settings = embedded_settings.with_changes(**{"cache_http_fast_path": False})
    async with app_with_profile_route(settings) as (app, client):
        await client.get("/api/users/7")
        second = await client.get("/api/users/7")
        assert "x-cache" not in second.headers
        assert app.state.route_calls == 2
        assert app.state.loads == 1  # the route's get_or_set still hit the cache


async def test_admin_cache_endpoints_need_an_admin(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (_app, client):
        assert (await client.get("/api/admin/cache/stats")).status_code == 401
        response = await client.post("/api/admin/cache/invalidate", json={"tags": ["users"]})
        assert response.status_code == 401


async def test_admin_stats_and_invalidate(embedded_settings):
    async with app_with_profile_route(embedded_settings) as (app, client):
        admin = await admin_headers(app, client)
        before = (await client.get("/api/admin/cache/stats", headers=admin)).json()
        await client.get("/api/users/8")
        await client.get("/api/users/8")
        await client.get("/api/users/9")
        stats = (await client.get("/api/admin/cache/stats", headers=admin)).json()
        assert stats["driver"] == "memory"
        user_before = before["by_prefix"].get("user", {"hits": 0, "misses": 0})
        assert stats["by_prefix"]["user"]["hits"] - user_before["hits"] == 1
        assert stats["by_prefix"]["user"]["misses"] - user_before["misses"] == 2

        response = await client.post("/api/admin/cache/invalidate", json={"tags": ["users"]},
                                     headers=admin)
        assert response.status_code == 200
        assert response.json()["tags"] == ["users"]
        assert response.json()["invalidated"] >= 2
        assert await app.state.runtime.cache.get_user(8) is None


@pytest.mark.parametrize("body", [{}, {"tags": []}, {"tags": ["bad tag"]}, {"tags": "users"},
                                  {"tags": ["x" * 201]}])
async def test_admin_invalidate_rejects_bad_input_with_422(embedded_settings, body):
    async with app_with_profile_route(embedded_settings) as (app, client):
        response = await client.post("/api/admin/cache/invalidate", json=body,
                                     headers=await admin_headers(app, client))
        assert response.status_code == 422
        assert "detail" in response.json()
