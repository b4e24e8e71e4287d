"""The tagged cache as the domains use it: only the contract's methods, never a wire protocol.

The runtime's `cache` is the TaggedCache of the cache package (absent where no app runs, as in
the CLI's consumers: every read is then a miss). A failing cache is a miss too: the cache speeds the
service up, it never takes it down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from snaproom_gateway.cache.keys import full_key
from snaproom_gateway.core.constants import user_tag

log = logging.getLogger(__name__)


def cache_of(state: Any) -> Any | None:
    return getattr(state, "cache", None)


async def get(state: Any, key: str) -> bytes | None:
    cache = cache_of(state)
    if cache is None:
        return None
    try:
        return await cache.get(key)
    except Exception as exc:  # a cache outage reads as a miss
        log.warning("cache get %s failed: %r", key, exc)
        return None


async def set(state: Any, key: str, value: bytes, *, ttl: int,  # noqa: A001 - mirrors the API
              tags: Iterable[str] = ()) -> None:
    cache = cache_of(state)
    if cache is None:
        return
    try:
        await cache.set(key, value, ttl=ttl, tags=tuple(tags))
    except Exception as exc:
        log.warning("cache set %s failed: %r", key, exc)


async def delete(state: Any, key: str) -> None:
    """Security deletes (a revoked session): failures are logged loudly, the database rules."""
    cache = cache_of(state)
    if cache is None:
        return
    try:
        await cache.delete(key)
    except Exception as exc:
        log.error("cache delete %s failed: %r", key, exc)


async def invalidate_tags(state: Any, tags: Iterable[str]) -> None:
    cache = cache_of(state)
    if cache is None:
        return
    try:
        await cache.invalidate_tags(list(tags))
    except Exception as exc:
        log.error("cache invalidate %s failed: %r", list(tags), exc)


class NotCached(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a loader for what must not be cached (an unknown or inactive user)."""


async def get_or_load_user(state: Any, user_id: int,
                           load: Callable[[], Awaitable[bytes]]) -> bytes | None:
    """The cached user, or load()'s value, stored; concurrent misses share one load (single
    flight). None when load() raises NotCached. The cache degrades to misses by itself; load()'s
    own errors (the database's) reach the caller."""
    cache = cache_of(state)
    try:
        if cache is None:
            return await load()
        return await cache.get_or_set_user(user_id, load)
    except NotCached:
        return None


def peek(state: Any, key: str) -> Any | None:
    """The L1 entry of `key` if it may be served now, else None: no I/O (the HTTP fast path)."""
    cache = cache_of(state)
    return None if cache is None else cache.peek_local(full_key(key))


async def get_or_load(state: Any, key: str, load: Callable[[], Awaitable[bytes]], *, ttl: int,
                      tags: Iterable[str]) -> bytes:
    """The cached value of `key`, or load()'s, stored (concurrent misses share one load). A
    failing cache degrades to load(); load()'s own errors reach the caller."""
    cache = cache_of(state)
    if cache is None:
        return await load()
    return await cache.get_or_set(key, load, ttl=ttl, tags=tuple(tags))


def user_tags(state: Any, user_id: int) -> list[str]:
    cache = cache_of(state)
    if cache is not None and hasattr(cache, "user_tags"):
        return list(cache.user_tags(user_id))
    return [user_tag(user_id)]


async def get_api_response(state: Any, path: str, params: dict[str, Any]) -> Any | None:
    cache = cache_of(state)
    if cache is None:
        return None
    try:
        return await cache.get_api_response(path, params)
    except Exception as exc:
        log.warning("api cache get %s failed: %r", path, exc)
        return None


async def cache_api_response(state: Any, path: str, params: dict[str, Any], response: Any, *,
                             ttl: int, tags: Iterable[str]) -> None:
    cache = cache_of(state)
    if cache is None:
        return
    try:
        await cache.cache_api_response(path, params, response, ttl=ttl, tags=tuple(tags))
    except Exception as exc:
        log.warning("api cache set %s failed: %r", path, exc)
