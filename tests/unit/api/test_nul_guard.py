"""NUL characters in a request are a 422 before any route runs (PostgreSQL text cannot hold
them; the PostgreSQL case is in tests/integration/test_api_fuzz_stack.py)."""

from __future__ import annotations

import pytest

from tests.support.apps import running_app
from tests.support.users_api import PASSWORD, bearer, signup


@pytest.mark.parametrize("first_name", ["a\x00b", "\x00"])
async def test_a_nul_in_a_json_body_is_a_422_and_nothing_is_written(embedded_settings,
                                                                   first_name):
    async with running_app(embedded_settings) as (_, client):
        refused = await client.post("/api/auth/signup", json={
            "email": "nul@example.com", "username": "nul", "password": PASSWORD,
            "first_name": first_name})
        login = await client.post("/api/auth/login",
                                  json={"email": "nul@example.com", "password": PASSWORD})
    assert refused.status_code == 422
    assert refused.json() == {"detail": [{"type": "string_nul", "loc": ["body"], "input": None,
                                          "msg": "NUL characters (U+0000) are not accepted"}]}
    assert refused.headers["x-request-id"]
    assert login.status_code == 401  # no user was created


async def test_an_escaped_backslash_before_u0000_is_plain_text(embedded_settings):
    async with running_app(embedded_settings) as (_, client):
        _, token = await signup(client, "literal")
        # JSON text "\\u0000" is the six characters \u0000, no NUL
        changed = await client.patch("/api/users/me", headers={
            **bearer(token), "content-type": "application/json"},
            content=b'{"bio": "C: \\\\u0000 is NUL"}')
    assert changed.status_code == 200, changed.text
    assert changed.json()["bio"] == "C: \\u0000 is NUL"


@pytest.mark.parametrize(("url", "where"), [("/api/users?search=a%00b", "query"),
                                           ("/api/users/1%00", "path")])
async def test_a_nul_in_the_query_or_path_is_a_422(embedded_settings, url, where):
    async with running_app(embedded_settings) as (_, client):
        _, token = await signup(client, "querier")
        answer = await client.get(url, headers=bearer(token))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == [where] and "NUL" in answer.json()["detail"][0]["msg"]
