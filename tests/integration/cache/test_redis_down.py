"""A Redis that does not answer: reads are misses and writes no-ops, never errors."""

from __future__ import annotations

import socket

import pytest

from snaproom_gateway.cache import CacheUnavailable
from snaproom_gateway.cache.builder import build_cache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import redis as redis_infra

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_redis_degrades_to_misses():
    settings = Settings(_env_file=None, app_env="testing", cache_driver="redis",
                        redis_host="127.0.0.1", redis_port=closed_port(), redis_sentinels=[])
    clients = redis_infra.create_clients(settings)
    cache = build_cache(settings, clients)
    await cache.start()
    try:
        assert await cache.get("k") is None
        await cache.set("k", b"v", ttl=60, tags=["t"])
        await cache.cache_user(1, {"id": 1})
        assert await cache.get_user(1) is None
        calls = 0

        async def load() -> bytes:
            nonlocal calls
            calls += 1
            return b"from the database"

        assert await cache.get_or_set("k", load, ttl=60) == b"from the database"
        assert calls == 1
        with pytest.raises(CacheUnavailable):
            await cache.invalidate_tags(["t"])
        stats = await cache.stats()
        assert stats["redis"]["status"].startswith("unavailable")
        assert stats["redis"]["errors"] >= 1
        assert stats["misses"] >= 2
        assert stats["l1"]["active"] is False  # no invalidation channel, no L1
    finally:
        await cache.close()
        await redis_infra.close(clients)
