"""Domain errors answered by the one handler: the bytes and headers the routes sent by hand."""

from snaproom_gateway.connections.exceptions import ConnectionError_
from snaproom_gateway.core.errors import DomainError
from snaproom_gateway.messages.exceptions import MessageError
from snaproom_gateway.users.exceptions import DeletionInProgress, UserExists
from tests.support.users_api import PASSWORD, bearer, signup

RATE_LIMIT_HEADERS = {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


def test_every_domain_error_derives_from_the_one_base():
    for error in (ConnectionError_, MessageError, UserExists, DeletionInProgress):
        assert issubclass(error, DomainError)


async def test_a_wrong_password_is_401_with_bearer_challenge_and_rate_limit_headers(app_client):
    _, client = app_client
    await signup(client, "ada")
    answer = await client.post("/api/auth/login", json={"email": "ada@example.com",
                                                        "password": PASSWORD + "x"})
    assert answer.status_code == 401
    assert answer.content == b'{"detail":"Invalid email or password"}'
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"] == "application/json"
    assert RATE_LIMIT_HEADERS <= set(answer.headers)


async def test_a_taken_email_is_409_with_rate_limit_headers(app_client):
    _, client = app_client
    await signup(client, "ada")
    answer = await client.post("/api/auth/signup", json={
        "email": "ada@example.com", "username": "other", "password": PASSWORD})
    assert answer.status_code == 409
    assert answer.content == b'{"detail":"Email already registered"}'
    assert RATE_LIMIT_HEADERS <= set(answer.headers)
    assert "www-authenticate" not in answer.headers


async def test_social_errors_keep_their_status_and_detail_without_extra_headers(app_client):
    _, client = app_client
    alice, token = await signup(client, "alice")
    to_self = await client.post("/api/connections", json={"to_user_id": alice["id"]},
                                headers=bearer(token))
    assert to_self.status_code == 400
    assert to_self.content == b'{"detail":"You cannot connect to yourself"}'
    assert not RATE_LIMIT_HEADERS & set(to_self.headers)
    message = await client.post("/api/messages", json={"to_user_id": alice["id"], "text": "hi"},
                                headers=bearer(token))
    assert message.status_code == 400
    assert message.content == b'{"detail":"You cannot message yourself"}'
    unknown = await client.post("/api/messages", json={"to_user_id": 999_999, "text": "hi"},
                                headers=bearer(token))
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "User not found"})
