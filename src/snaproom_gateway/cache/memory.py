"""The in-process store: LRU-bounded, with TTL and a tag index.

It is the whole cache with CACHE_DRIVER=memory and the L1 in front of Redis otherwise. Every way
an entry leaves (expiry, eviction, delete, invalidation) also unlinks it from its tags, so the tag
index never holds stale members beyond entries that expired and were not touched since; `prune()`
sweeps those.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

from snaproom_gateway.cache.entry import Entry

MAX_GENERATIONS = 100_000


class MemoryStore:
    def __init__(self, max_entries: int, refresh_after: float | None = None) -> None:
        """refresh_after (a fraction of an entry's TTL): as the L1 in front of Redis, an entry
        read after that much of its life is put in `due_refresh`, once, for the cache to renew
        it from Redis in the background before it expires (TaggedCache._refresh_due)."""
        self.max_entries = max_entries
        self.refresh_after = refresh_after
        self.due_refresh: dict[str, Entry] = {}
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._tag_index: dict[str, set[str]] = {}
        self._generations: dict[str, int] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = time.monotonic()
        if entry.expires_at <= now:
            self._remove(key)
            return None
        if entry.refresh_at <= now:
            entry.refresh_at = float("inf")  # asked once; renew() sets the next time
            self.due_refresh[key] = entry
        self._entries.move_to_end(key)
        return entry

    def renew(self, key: str, entry: Entry, value: bytes, ttl: float) -> bool:
        """Extend `entry`'s life if it is still the one held for `key` (an invalidation, delete
        or eviction since it was read removes it, and then nothing is renewed) and still holds
        `value`; False otherwise."""
        if self._entries.get(key) is not entry or entry.value != value:
            return False
        now = time.monotonic()
        entry.expires_at = now + ttl
        entry.refresh_at = now + ttl * self.refresh_after if self.refresh_after else float("inf")
        return True

    def set(self, key: str, value: bytes, ttl: float, tags: tuple[str, ...], prefix: str,
            expect_generations: dict[str, int] | None = None) -> Entry | None:
        """Store; with expect_generations, store only if none of the tags was invalidated since
        they were read (a value computed before an invalidation must not outlive it)."""
        if expect_generations is not None and expect_generations != self.generations(tags):
            return None
        if key in self._entries:
            self._remove(key)
        now = time.monotonic()
        entry = Entry(value, now + ttl, tags, prefix)
        if self.refresh_after:
            entry.refresh_at = now + ttl * self.refresh_after
        self._entries[key] = entry
        for tag in tags:
            self._tag_index.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evictions += 1
        return entry

    def delete(self, key: str) -> bool:
        return self._remove(key)

    def generations(self, tags: Iterable[str]) -> dict[str, int]:
        return {tag: self._generations.get(tag, 0) for tag in tags}

    def invalidate_tags(self, tags: Iterable[str]) -> int:
        removed = 0
        for tag in tags:
            self._generations[tag] = self._generations.pop(tag, 0) + 1
            if len(self._generations) > MAX_GENERATIONS:
                # Forget the tag invalidated longest ago: only a fill that spans that very
                # invalidation could slip through, and only in-process.
                del self._generations[next(iter(self._generations))]
            for key in self._tag_index.pop(tag, ()):
                removed += self._remove(key)
        return removed

    def tag_members(self, tag: str) -> set[str]:
        return set(self._tag_index.get(tag, ()))

    def prune(self) -> int:
        """Drop expired entries (and so their tag members); returns how many."""
        now = time.monotonic()
        expired = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in expired:
            self._remove(key)
        return len(expired)

    def clear(self) -> None:
        self._entries.clear()
        self._tag_index.clear()
        self.due_refresh.clear()

    def _remove(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        for tag in entry.tags:
            members = self._tag_index.get(tag)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._tag_index[tag]
        return True
