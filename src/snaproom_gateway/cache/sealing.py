"""Encryption at rest of what the gateway keeps in Redis: AES-256-GCM, a key and a previous one.

Every value the Redis tier of the cache stores (sessions, profiles, API answers) and every
member of the recent-messages sets is sealed before it leaves the process and opened after it
comes back; the in-process L1 keeps plain bytes. A sealed value is

    MAGIC (4 bytes) | key id (4) | nonce (12) | ciphertext + GCM tag (16)

and is bound to its Redis key (the key name is the associated data), so a value copied under
another key (one user's session entry under another session's key) does not open.

Keys: CACHE_ENCRYPTION_KEY seals and opens; CACHE_ENCRYPTION_KEY_PREVIOUS only opens, so a
rotation is: previous := current, current := new, restart the instances one by one. Entries sealed
with a key that is no longer configured read as misses and are filled again from the database.
Outside production-like environments, with no key set, one is derived from SECRET_KEY, so the
local stack runs the same code path (and is only as secret as SECRET_KEY).

Nonces: a random 96-bit start per process, incremented per seal. Two processes repeat a nonce
only if their ranges overlap, which is far less likely than with one random nonce per value
(whose birthday bound caps a key at about 2**32 values).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import weakref
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from snaproom_gateway.core.sealing_keys import KEY_BYTES, InvalidSealingKey, parse_key

if TYPE_CHECKING:
    from snaproom_gateway.core.settings import Settings

MAGIC = b"\x00sr1"
KEY_ID_BYTES = 4
NONCE_BYTES = 12
HEADER = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
_ID_AT, _NONCE_AT = len(MAGIC), len(MAGIC) + KEY_ID_BYTES
_NONCE_SPACE = 1 << (8 * NONCE_BYTES)
_DERIVE_INFO = b"snaproom-gateway cache sealing v1"


def derive_key(secret: str) -> bytes:
    """The development key: HKDF-like expansion of SECRET_KEY (HMAC-SHA256, one block)."""
    prk = hmac.new(b"snaproom-gateway", secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, _DERIVE_INFO + b"\x01", hashlib.sha256).digest()


def key_id(key: bytes) -> bytes:
    """A short public name of a key, so opening picks the right one without trying both."""
    return hashlib.sha256(b"snaproom-gateway key id\x00" + key).digest()[:KEY_ID_BYTES]


class Sealer:
    """Seals and opens values with AES-256-GCM; `open` returns None for anything it cannot open
    (a plain value, an unknown key, a value moved to another key, tampered bytes): a miss."""

    def __init__(self, key: bytes, previous: bytes | None = None) -> None:
        if len(key) != KEY_BYTES or (previous is not None and len(previous) != KEY_BYTES):
            raise InvalidSealingKey(f"keys must be {KEY_BYTES} bytes")
        self.key_id = key_id(key)
        self._current = AESGCM(key)
        self._by_id = {self.key_id: self._current}
        if previous is not None and key_id(previous) != self.key_id:
            self._by_id[key_id(previous)] = AESGCM(previous)
        self._reseed()
        _LIVE.add(self)

    def _reseed(self) -> None:
        # itertools.count's next() is atomic under the GIL: no lock on the hot path.
        self._counter = itertools.count(int.from_bytes(os.urandom(NONCE_BYTES), "big"))

    def _nonce(self) -> bytes:
        return (next(self._counter) % _NONCE_SPACE).to_bytes(NONCE_BYTES, "big")

    def seal(self, value: bytes, context: str | bytes) -> bytes:
        nonce = self._nonce()
        aad = context.encode() if isinstance(context, str) else context
        return MAGIC + self.key_id + nonce + self._current.encrypt(nonce, value, aad)

    def open(self, sealed: bytes, context: str | bytes) -> bytes | None:
        if sealed[:_ID_AT] != MAGIC or len(sealed) < HEADER + 16:
            return None
        cipher = self._by_id.get(sealed[_ID_AT:_NONCE_AT])
        if cipher is None:
            return None
        aad = context.encode() if isinstance(context, str) else context
        try:
            return cipher.decrypt(sealed[_NONCE_AT:HEADER], sealed[HEADER:], aad)
        except InvalidTag:
            return None

    def is_current(self, sealed: bytes) -> bool:
        return sealed[len(MAGIC):len(MAGIC) + KEY_ID_BYTES] == self.key_id


def _text(value: object) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


# A forked child must not replay its parent's nonces: every live Sealer draws a new start.
_LIVE: weakref.WeakSet[Sealer] = weakref.WeakSet()


def _reseed_after_fork() -> None:
    for sealer in list(_LIVE):
        sealer._reseed()


os.register_at_fork(after_in_child=_reseed_after_fork)


def build_sealer(settings: Settings) -> Sealer:
    """The process's Sealer from CACHE_ENCRYPTION_KEY(_PREVIOUS), or SECRET_KEY in development
    (settings validation already refused a production-like environment without a key)."""
    current, previous = settings.cache.encryption_key, settings.cache.encryption_key_previous
    key = parse_key(_text(current)) if current is not None else derive_key(settings.secret_key)
    return Sealer(key, parse_key(_text(previous)) if previous is not None else None)
