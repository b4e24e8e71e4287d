"""An in-memory object with the TaggedCache contract's methods, for unit tests only.

The real TaggedCache (cache branch) is tested against Redis there; here it lets the domain's
cache paths run without servers. TTLs are recorded, not enforced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson


class FakeTaggedCache:
    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, int] = {}
        self.tags: dict[str, set[str]] = {}
        self.calls: list[tuple[str, str]] = []

    async def get(self, key: str) -> bytes | None:
        self.calls.append(("get", key))
        return self.values.get(key)

    async def set(self, key: str, value: bytes, *, ttl: int, tags: Iterable[str] = ()) -> None:
        assert isinstance(value, bytes)
        self.values[key], self.ttls[key] = value, ttl
        for tag in tags:
            self.tags.setdefault(tag, set()).add(key)

    async def get_or_set(self, key: str, factory: Callable[[], Awaitable[bytes]], *, ttl: int,
                         tags: Iterable[str] = ()) -> bytes:
        if (value := await self.get(key)) is None:
            value = await factory()
            await self.set(key, value, ttl=ttl, tags=tags)
        return value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)

    async def invalidate_tags(self, tags: Iterable[str]) -> None:
        for tag in tags:
            for key in self.tags.pop(tag, set()):
                self.values.pop(key, None)

    def user_key(self, user_id: int) -> str:
        return f"user:{user_id}"

    def user_tags(self, user_id: int) -> list[str]:
        return [f"user:{user_id}"]

    async def cache_user(self, user_id: int, data: dict[str, Any] | bytes,
                         ttl: int = 1800) -> None:
        body = data if isinstance(data, bytes) else orjson.dumps(data)
        await self.set(self.user_key(user_id), body, ttl=ttl,
                       tags=self.user_tags(user_id))

    async def get_user(self, user_id: int) -> bytes | None:
        return await self.get(self.user_key(user_id))

    @staticmethod
    def _api_key(path: str, params: dict[str, Any]) -> str:
        return "api:" + path + "?" + orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()

    async def cache_api_response(self, path: str, params: dict[str, Any], response: Any,
                                 ttl: int = 300, tags: Iterable[str] = ()) -> None:
        body = response if isinstance(response, bytes) else orjson.dumps(response)
        await self.set(self._api_key(path, params), body, ttl=ttl, tags=tags)

    async def get_api_response(self, path: str, params: dict[str, Any]) -> bytes | None:
        return await self.get(self._api_key(path, params))

    def clear(self) -> None:
        """What a Redis restart without persistence does."""
        self.values.clear()
        self.tags.clear()
