"""A 422 names the bad field but never echoes a password or token (redaction.py)."""

from __future__ import annotations

from snaproom_gateway.observability.redaction import MASK, redacted_errors
from tests.support.apps import running_app

LONG = "my very long passphrase that nobody else knows " * 3


async def test_refused_passwords_are_not_echoed_but_the_field_is_named(embedded_settings):
    async with running_app(embedded_settings) as (_, client):
        short = await client.post("/api/auth/signup", json={
            "email": "a@example.com", "username": "alice", "password": "hunter2"})
        long = await client.post("/api/auth/login", json={"email": "a@example.com",
                                                          "password": LONG})
    assert short.status_code == long.status_code == 422
    assert b"hunter2" not in short.content and b"passphrase" not in long.content
    assert [e["loc"] for e in short.json()["detail"]] == [["body", "password"]]
    assert [e["loc"] for e in long.json()["detail"]] == [["body", "password"]]
    assert "at least 8 characters" in short.json()["detail"][0]["msg"]


def test_secret_members_of_an_echoed_object_are_masked_and_the_rest_kept():
    errors = [{"loc": ("body",), "msg": "bad", "type": "model_attributes_type",
               "input": {"email": "a@example.com", "password": "hunter2",
                         "nested": [{"token": "abc", "n": 1}]}},
              {"loc": ("body", "refresh_token"), "msg": "bad", "type": "string_type",
               "input": 5, "ctx": {"x": 1}},
              {"loc": ("query", "limit"), "msg": "bad", "type": "int_parsing", "input": "x"}]
    assert redacted_errors(errors) == [
        {"loc": ("body",), "msg": "bad", "type": "model_attributes_type",
         "input": {"email": "a@example.com", "password": MASK,
                   "nested": [{"token": MASK, "n": 1}]}},
        {"loc": ("body", "refresh_token"), "msg": "bad", "type": "string_type"},
        {"loc": ("query", "limit"), "msg": "bad", "type": "int_parsing", "input": "x"}]
