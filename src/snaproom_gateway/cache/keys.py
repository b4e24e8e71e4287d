"""The cache key scheme, shared by every reader and writer of an entry.

Keys are namespaced and versioned (`snaproom:v1:...`): bumping KEY_VERSION after a change of the
stored shape makes every old entry unreachable at once, with no flush. The domain route and the
HTTP fast path both derive keys here, so the route fills exactly the entry the fast path serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from hashlib import blake2b
from urllib.parse import urlencode

from snaproom_gateway.core.constants import user_tag

KEY_VERSION = "v1"
NAMESPACE = f"snaproom:{KEY_VERSION}:"
TAG_SET_PREFIX = f"{NAMESPACE}tag:"      # one sorted set per tag (members: keys, score: expiry)
TAG_GENERATION_PREFIX = f"{NAMESPACE}taggen:"  # bumped on every invalidation (fill races)
LOCK_PREFIX = f"{NAMESPACE}lock:"        # single-flight locks across instances
INVALIDATION_CHANNEL = f"{NAMESPACE}invalidations"

# Tags go into Redis key names and into the header stored before each value: no spaces or
# newlines (the header's separators), and a bounded length.
_TAG_RE = re.compile(r"^[A-Za-z0-9_.:\-{}/@=]{1,200}$")
# Longer query strings are hashed so a key never grows with the request.
_MAX_PARAMS_CHARS = 200


class InvalidTagError(ValueError):
    """A tag with characters the key scheme cannot hold."""


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    checked = tuple(dict.fromkeys(tags))  # unique, order kept
    for tag in checked:
        if not isinstance(tag, str) or not _TAG_RE.match(tag):
            raise InvalidTagError(f"invalid cache tag {tag!r}")
    return checked


def full_key(key: str) -> str:
    """A caller's key, namespaced (idempotent: an already namespaced key is kept)."""
    return key if key.startswith(NAMESPACE) else NAMESPACE + key


def key_prefix(key: str) -> str:
    """The first segment after the namespace (`user`, `api`, ...): the unit of per-prefix stats."""
    rest = key[len(NAMESPACE):] if key.startswith(NAMESPACE) else key
    return rest.split(":", 1)[0]


def user_key(user_id: int | str) -> str:
    return f"{NAMESPACE}user:{user_id}"


def user_tags(user_id: int | str) -> list[str]:
    # Invalidating `users` drops every cached user at once.
    return [user_tag(user_id), "users"]


def conversation_id(user_a: int | str, user_b: int | str) -> str:
    """One id for the pair, whichever side asks: the smaller id first."""
    low, high = sorted((user_a, user_b), key=lambda v: (len(str(v)), str(v)))
    return f"{low}:{high}"


def conversation_tag(user_a: int | str, user_b: int | str) -> str:
    return f"conversation:{conversation_id(user_a, user_b)}"


def recent_messages_key(user_a: int | str, user_b: int | str) -> str:
    return f"{NAMESPACE}messages:recent:{conversation_id(user_a, user_b)}"


def api_key(path: str, params: Mapping[str, object] | None = None) -> str:
    """Key of a cached API response: the path plus its query parameters in sorted order."""
    query = ""
    if params:
        items = sorted((str(k), _param_text(v)) for k, v in params.items())
        query = urlencode(items)
        if len(query) > _MAX_PARAMS_CHARS:
            query = "h=" + blake2b(query.encode(), digest_size=16).hexdigest()
    return f"{NAMESPACE}api:{path}" + (f"?{query}" if query else "")


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def tag_set_key(tag: str) -> str:
    return TAG_SET_PREFIX + tag


def tag_generation_key(tag: str) -> str:
    return TAG_GENERATION_PREFIX + tag


def lock_key(key: str) -> str:
    return LOCK_PREFIX + key[len(NAMESPACE):]
