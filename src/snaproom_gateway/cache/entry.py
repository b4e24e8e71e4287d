"""One cached value as the process holds it: the stored bytes plus what serving it needs."""

from __future__ import annotations

from hashlib import blake2b


class Entry:
    __slots__ = ("value", "expires_at", "refresh_at", "tags", "prefix", "_etag", "http_headers",
                 "http_head")

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

    @property
    def etag(self) -> bytes:
        """Strong ETag of the bytes, computed once per entry (not once per request)."""
        if self._etag is None:
            self._etag = strong_etag(self.value)
        return self._etag


def strong_etag(value: bytes) -> bytes:
    """A strong validator of the exact bytes (quoted, as the header wants it)."""
    return b'"' + blake2b(value, digest_size=16).hexdigest().encode() + b'"'
