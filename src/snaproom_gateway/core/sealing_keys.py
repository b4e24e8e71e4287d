"""What a configured cache sealing key is: 32 bytes of base64. In core because Settings checks
CACHE_ENCRYPTION_KEY with the same parser the sealer (cache/sealing.py) uses."""

from __future__ import annotations

import base64
import binascii

KEY_BYTES = 32


class InvalidSealingKey(ValueError):
    """A configured key that is not 32 bytes of base64."""


def parse_key(text: str) -> bytes:
    """A key as configured: 32 bytes in base64 (standard or URL-safe alphabet, padding optional)."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4),
                               altchars=b"-_" if ("-" in cleaned or "_" in cleaned) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSealingKey("is not base64 (make one with `openssl rand -base64 32`)") from None
    if len(raw) != KEY_BYTES:
        raise InvalidSealingKey(f"must be {KEY_BYTES} bytes of base64, got {len(raw)} bytes "
                                "(make one with `openssl rand -base64 32`)")
    return raw
