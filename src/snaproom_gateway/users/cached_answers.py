"""The users routes the HTTP fast path may answer, and the bytes they answer with.

The route and the fast path build a signed-in answer with the same functions, so the bytes are
the same whichever answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.cache.entry import Entry
from snaproom_gateway.cache.http import CacheableRoute, api_response_key
from snaproom_gateway.cache.keys import user_key
from snaproom_gateway.users.schemas import DEFAULT_PAGE, DEFAULT_PAGE_SIZE


def views_key(user_id: int) -> str:
    """A profile's cached view count: analytics fills it, the owner's profile answer reads it
    (defined here because analytics depends on users, never the reverse)."""
    return f"profile_views:{user_id}"


def private_profile_body(public: bytes, email: str, role: str, views: int | None) -> bytes:
    """A profile as its owner sees it: the cached public bytes, email, role and view count."""
    return orjson.dumps(orjson.loads(public) | {"email": email, "role": role,
                                                "profile_views": views})


def profile_key(params: Mapping[str, Any], _query: str) -> str:
    return user_key(params["user_id"])


def profile_for_viewer(state: Any, params: Mapping[str, Any], viewer: Any) -> Entry | None:
    """GET /api/users/{id} for a signed-in viewer: the public bytes (the view counted), or the
    owner's private view."""
    user_id = params["user_id"]
    profile = domain_cache.peek(state, user_key(user_id))
    if profile is None:
        return None
    if user_id != viewer.user_id:
        state.profile_views.record(user_id)
        return profile.derive("viewer", (), lambda: profile.value)
    views = domain_cache.peek(state, views_key(user_id))
    if views is None:
        return None
    return profile.derive("owner", (viewer.email, viewer.role, views), lambda: (
        private_profile_body(profile.value, viewer.email, viewer.role, int(views.value))))


def me_for_viewer(state: Any, _params: Mapping[str, Any], viewer: Any) -> Entry | None:
    """GET /api/auth/me: the signed-in user's own profile, without the view count."""
    profile = domain_cache.peek(state, user_key(viewer.user_id))
    if profile is None:
        return None
    return profile.derive("me", (viewer.email, viewer.role), lambda: (
        private_profile_body(profile.value, viewer.email, viewer.role, None)))


def profile_keys(params: Mapping[str, Any], viewer: Any) -> list[str]:
    user_id = params["user_id"]
    if user_id == viewer.user_id:
        return [user_key(user_id), views_key(user_id)]
    return [user_key(user_id)]


CACHEABLE_ROUTES = (
    CacheableRoute("/api/users/{user_id:int}", profile_key, private=profile_for_viewer,
                   private_keys=profile_keys),
    CacheableRoute("/api/users", api_response_key(
        "/api/users", {"page": DEFAULT_PAGE, "size": DEFAULT_PAGE_SIZE})),
    CacheableRoute("/api/auth/me", private=me_for_viewer,
                   private_keys=lambda _params, viewer: [user_key(viewer.user_id)]),
)
