"""The cache tags the users domain's events make stale (included by the app into the cache)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snaproom_gateway.cache.invalidation import CacheTagRules

USERS_LIST_TAG = "users:list"


def _list_only(_user_id: Any, _data: Mapping[str, Any]) -> list[str]:
    return [USERS_LIST_TAG]


def _user_and_list(user_id: Any, _data: Mapping[str, Any]) -> list[str]:
    return [f"user:{user_id}", USERS_LIST_TAG] if user_id is not None else [USERS_LIST_TAG]


# user.login and user.logout change nothing cached.
user_cache_tags = CacheTagRules("user.*", {
    "user.created": _list_only,
    "user.updated": _user_and_list,
    "user.deleted": _user_and_list,
    "user.restored": _user_and_list,
})
