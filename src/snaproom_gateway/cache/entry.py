"""One cached value as the process holds it: the stored bytes plus what serving it needs."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b
from typing import Any


class Entry:
    __slots__ = ("value", "expires_at", "refresh_at", "tags", "prefix", "_etag", "http_headers",
                 "http_head", "derived")

    def __init__(self, value: bytes, expires_at: float, tags: tuple[str, ...], prefix: str) -> None:
        self.value = value
        self.expires_at = expires_at
        # When a read of this L1 entry asks for a refresh from Redis (MemoryStore refresh_after).
        self.refresh_at = float("inf")
        self.tags = tags
        self.prefix = prefix
        self._etag: bytes | None = None
        # The response headers the HTTP fast path sends with this entry, built on first use.
        self.http_headers: list[tuple[bytes, bytes]] | None = None
        # The same as one header block, for the server protocol's single write (http_protocol).
        self.http_head: bytes | None = None
        # What readers computed from this entry (a parsed session, a composed answer), kept as
        # long as the entry: an invalidation or a new value is a new Entry, so never stale.
        self.derived: dict[str, Any] | None = None

    def memo(self, name: str, build: Callable[[Entry], Any]) -> Any:
        """build(self), computed once per entry and name."""
        derived = self.derived
        if derived is None:
            derived = self.derived = {}
        try:
            return derived[name]
        except KeyError:
            value = derived[name] = build(self)
            return value

    def derive(self, name: str, inputs: tuple[Any, ...], build: Callable[[], bytes]) -> Entry:
        """An entry of the bytes build() composes from this one and `inputs` (values, or other
        entries, which compare by identity), built again only when an input changes."""
        derived = self.derived
        if derived is None:
            derived = self.derived = {}
        held = derived.get(name)
        if held is not None and held[0] == inputs:
            return held[1]
        entry = Entry(build(), self.expires_at, (), self.prefix)
        derived[name] = (inputs, entry)
        return entry

    @property
    def etag(self) -> bytes:
        """Strong ETag of the bytes, computed once per entry (not once per request)."""
        if self._etag is None:
            self._etag = strong_etag(self.value)
        return self._etag


def strong_etag(value: bytes) -> bytes:
    """A strong validator of the exact bytes (quoted, as the header wants it)."""
    return b'"' + blake2b(value, digest_size=16).hexdigest().encode() + b'"'
