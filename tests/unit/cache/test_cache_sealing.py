"""Encryption at rest of Redis values (cache/sealing.py) and the settings that carry its keys."""

from __future__ import annotations

import base64
import os

import pytest

from snaproom_gateway.cache.sealing import (
    MAGIC,
    Sealer,
    build_sealer,
    derive_key,
    parse_key,
)
from snaproom_gateway.core.settings import Settings, SettingsError, load_settings

KEY = os.urandom(32)
OTHER = os.urandom(32)
EMAIL = b'{"email":"alice@example.com","user_id":7}'


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_sealed_value_hides_its_bytes_and_opens_only_under_its_own_key_name():
    sealer = Sealer(KEY)
    sealed = sealer.seal(EMAIL, "snaproom:v1:session:abc")
    assert sealed.startswith(MAGIC)
    assert b"alice" not in sealed and b"example.com" not in sealed
    assert sealer.open(sealed, "snaproom:v1:session:abc") == EMAIL
    # Copied under another key (another user's session), it does not open.
    assert sealer.open(sealed, "snaproom:v1:session:def") is None


def test_the_same_value_sealed_twice_differs_so_equal_values_cannot_be_matched():
    sealer = Sealer(KEY)
    assert sealer.seal(EMAIL, "k") != sealer.seal(EMAIL, "k")


def test_tampered_plain_and_foreign_values_are_misses_not_errors():
    sealer = Sealer(KEY)
    sealed = bytearray(sealer.seal(EMAIL, "k"))
    sealed[-1] ^= 1
    assert sealer.open(bytes(sealed), "k") is None
    assert sealer.open(EMAIL, "k") is None                       # written before sealing
    assert sealer.open(Sealer(OTHER).seal(EMAIL, "k"), "k") is None  # a key not configured
    assert sealer.open(b"", "k") is None


def test_rotation_opens_values_of_the_previous_key_and_seals_with_the_new_one():
    old = Sealer(KEY)
    before = old.seal(EMAIL, "k")
    rotated = Sealer(OTHER, previous=KEY)
    assert rotated.open(before, "k") == EMAIL
    after = rotated.seal(EMAIL, "k")
    assert rotated.is_current(after) and not rotated.is_current(before)
    assert old.open(after, "k") is None  # an instance not yet rotated: a miss, refilled
    # Once the previous key is dropped, what it sealed is unreadable (a miss).
    assert Sealer(OTHER).open(before, "k") is None


@pytest.mark.parametrize("text", ["", "not base64!", b64(os.urandom(16)), b64(os.urandom(33))])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(text):
    with pytest.raises(ValueError):
        parse_key(text)


def test_keys_are_read_in_either_base64_alphabet_with_or_without_padding():
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    assert parse_key(base64.b64encode(raw).decode()) == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw


def test_settings_refuse_a_bad_key_naming_the_variable_without_echoing_it():
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, cache_encryption_key="c2hvcnQ=")
    assert "CACHE_ENCRYPTION_KEY" in str(caught.value)
    assert "c2hvcnQ=" not in str(caught.value)


def test_production_refuses_to_start_without_an_encryption_key(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault")
    monkeypatch.delenv("CACHE_ENCRYPTION_KEY", raising=False)
    with pytest.raises(SettingsError, match="CACHE_ENCRYPTION_KEY must be set"):
        load_settings(_env_file=None)
    monkeypatch.setenv("CACHE_ENCRYPTION_KEY", b64(KEY))
    settings = load_settings(_env_file=None)
    assert b64(KEY) not in repr(settings)  # SecretStr: never in a repr or a log of the settings
    assert build_sealer(settings).open(Sealer(KEY).seal(EMAIL, "k"), "k") == EMAIL


def test_development_without_a_key_seals_with_one_derived_from_secret_key():
    settings = Settings(_env_file=None, app_env="local", secret_key="dev-secret")
    sealer = build_sealer(settings)
    assert sealer.open(Sealer(derive_key("dev-secret")).seal(EMAIL, "k"), "k") == EMAIL
    assert derive_key("dev-secret") != derive_key("other-secret")


def test_a_forked_child_does_not_reuse_its_parents_nonces():
    sealer = Sealer(KEY)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one value, its nonce to the parent
        os.write(write, sealer.seal(b"x", "k")[8:20])
        os._exit(0)
    os.waitpid(pid, 0)
    child_nonce = os.read(read, 12)
    parent_nonces = {sealer.seal(b"x", "k")[8:20] for _ in range(1000)}
    assert len(child_nonce) == 12 and child_nonce not in parent_nonces
