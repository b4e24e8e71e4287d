"""The tagged cache: one API (TaggedCache), a memory or Redis (+ L1) backend, HTTP caching."""

from snaproom_gateway.cache.keys import api_key, user_key, user_tags
from snaproom_gateway.cache.tagged import CacheUnavailable, TaggedCache

__all__ = ["CacheUnavailable", "TaggedCache", "api_key", "user_key", "user_tags"]
