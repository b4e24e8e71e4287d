"""The messages route the HTTP fast path may answer: a conversation's newest page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snaproom_gateway.cache import domain_cache
from snaproom_gateway.cache.entry import Entry
from snaproom_gateway.cache.http import CacheableRoute
from snaproom_gateway.cache.keys import conversation_id, conversation_tag
from snaproom_gateway.core.constants import user_tag

NEWEST_PAGE_LIMIT = 50  # the route's default `limit`: the page a URL without query asks for


def newest_page_key(user_a: int, user_b: int) -> str:
    return f"conversation:{conversation_id(user_a, user_b)}:newest"


def newest_page_tags(user_a: int, user_b: int) -> list[str]:
    # A new message drops the conversation's tag; a deleted user, the user tags.
    return [conversation_tag(user_a, user_b), user_tag(user_a), user_tag(user_b)]


def newest_page_for_viewer(state: Any, params: Mapping[str, Any], viewer: Any) -> Entry | None:
    """GET /api/messages/{user_id}: the viewer's own conversation with that user only."""
    peer = params["user_id"]
    if peer == viewer.user_id:
        return None  # the route's 400
    return domain_cache.peek(state, newest_page_key(viewer.user_id, peer))


CACHEABLE_ROUTES = (
    CacheableRoute("/api/messages/{user_id:int}", private=newest_page_for_viewer,
                   private_keys=lambda params, viewer: [
                       newest_page_key(viewer.user_id, params["user_id"])]),
)
