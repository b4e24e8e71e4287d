"""Bad input on every social route answers 4xx with a detail, never a 500."""

import pytest

from tests.support.social_api import connected_pair
from tests.support.users_api import bearer

BAD_BODIES = [None, "", "[]", "{", '"text"', "null", '{"to_user_id": null}',
              '{"to_user_id": 1.5}', '{"to_user_id": true}', '{"to_user_id": "1"}',
              '{"to_user_id": 99999999999999999999999}', '{"text": 5, "to_user_id": 2}',
              '{"text": ["x"], "to_user_id": 2}', '{"text": "\\u0000", "to_user_id": 1}']
BAD_PATHS = ["/api/connections/-1/accept", "/api/connections/abc/reject",
             "/api/connections/99999999999999999999999/accept", "/api/messages/0",
             "/api/messages/-5", "/api/messages/1?before=-1", "/api/messages/1?limit=1e3",
             "/api/notifications/abc/read", "/api/notifications?before=abc",
             "/api/presence?user_ids=" + "1," * 500, "/api/presence?user_ids=%00",
             "/api/connections/requests?direction="]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("path", ["/api/connections", "/api/messages"])
async def test_a_bad_body_is_4xx(app_client, path, body):
    _, client = app_client
    _, token_a, _, _ = await connected_pair(client, "alice", "bob")
    response = await client.post(path, content=body, headers={
        **bearer(token_a), "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_a_bad_path_or_query_is_4xx(app_client, path):
    _, client = app_client
    _, token_a, _, _ = await connected_pair(client, "alice", "bob")
    method = "POST" if path.endswith(("/accept", "/reject", "/read")) else "GET"
    response = await client.request(method, path, headers=bearer(token_a))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
