"""Cached JSON answers of the social routes (connections lists): one helper for read and fill.

Entries are keyed by path, parameters and the reader's id, tagged so that connection events
(and the writer itself, for read-your-writes) drop them. The cache is optional: a miss, a failure
or the embedded mode without a cache all read the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import Response

from snaproom_gateway.cache import domain_cache


async def cached_json(state: Any, path: str, params: dict[str, Any], *, ttl: int,
                      tags: Iterable[str], build: Callable[[], Awaitable[bytes]]) -> Response:
    cached = await domain_cache.get_api_response(state, path, params)
    if isinstance(cached, bytes):
        return Response(cached, media_type="application/json", headers={"X-Cache": "HIT"})
    body = await build()
    await domain_cache.cache_api_response(state, path, params, body, ttl=ttl, tags=tuple(tags))
    return Response(body, media_type="application/json", headers={"X-Cache": "MISS"})
