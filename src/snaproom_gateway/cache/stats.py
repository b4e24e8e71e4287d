"""Counters of the cache, kept as plain ints: they are touched on every hit."""

from __future__ import annotations

from typing import Any


class CacheCounters:
    __slots__ = ("hits", "misses", "l1_hits", "l2_hits", "sets", "sets_skipped", "deletes",
                 "computations", "single_flight_joined", "lock_waits", "invalidations",
                 "invalidated_tags", "invalidated_keys", "remote_invalidations",
                 "l1_resets", "l1_refreshes", "by_prefix")

    def __init__(self) -> None:
        self.hits = self.misses = self.l1_hits = self.l2_hits = 0
        self.sets = self.sets_skipped = self.deletes = 0
        self.computations = self.single_flight_joined = self.lock_waits = 0
        self.invalidations = self.invalidated_tags = self.invalidated_keys = 0
        self.remote_invalidations = self.l1_resets = self.l1_refreshes = 0
        # prefix -> [hits, misses]
        self.by_prefix: dict[str, list[int]] = {}

    def hit(self, prefix: str) -> None:
        self.hits += 1
        counts = self.by_prefix.get(prefix)
        if counts is None:
            self.by_prefix[prefix] = [1, 0]
        else:
            counts[0] += 1

    def miss(self, prefix: str) -> None:
        self.misses += 1
        counts = self.by_prefix.get(prefix)
        if counts is None:
            self.by_prefix[prefix] = [0, 1]
        else:
            counts[1] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": ratio(self.hits, self.misses),
            "l1_hits": self.l1_hits,
            "l2_hits": self.l2_hits,
            "by_prefix": {
                prefix: {"hits": h, "misses": m, "hit_ratio": ratio(h, m)}
                for prefix, (h, m) in sorted(self.by_prefix.items())
            },
            "sets": self.sets,
            "sets_skipped_after_invalidation": self.sets_skipped,
            "deletes": self.deletes,
            "computations": self.computations,
            "single_flight_joined": self.single_flight_joined,
            "lock_waits": self.lock_waits,
            "invalidations": self.invalidations,
            "invalidated_tags": self.invalidated_tags,
            "invalidated_keys": self.invalidated_keys,
            "remote_invalidations": self.remote_invalidations,
            "l1_resets": self.l1_resets,
            "l1_refreshes": self.l1_refreshes,
        }


def ratio(hits: int, misses: int) -> float:
    total = hits + misses
    return round(hits / total, 4) if total else 0.0
