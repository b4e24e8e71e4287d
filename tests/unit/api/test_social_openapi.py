"""Every social route is in the OpenAPI schema with the error answers it can give."""

import pytest

EXPECTED = {
    ("post", "/api/connections"): {"201", "400", "401", "404", "409", "422", "429"},
    ("post", "/api/connections/{connection_id}/accept"): {"200", "401", "403", "404", "409",
                                                          "422", "429"},
    ("post", "/api/connections/{connection_id}/reject"): {"200", "401", "403", "404", "409",
                                                          "422", "429"},
    ("get", "/api/connections"): {"200", "401"},
    ("get", "/api/connections/requests"): {"200", "401", "422"},
    ("post", "/api/messages"): {"201", "400", "401", "403", "404", "422", "429"},
    ("get", "/api/messages/{user_id}"): {"200", "400", "401", "404", "422"},
    ("post", "/api/presence/heartbeat"): {"200", "401", "503"},
    ("get", "/api/presence"): {"200", "400", "401", "422", "503"},
    ("get", "/api/notifications"): {"200", "401", "422"},
    ("post", "/api/notifications/{notification_id}/read"): {"200", "401", "404", "422", "429"},
}


@pytest.fixture
async def schema(app_client):
    _, client = app_client
    return (await client.get("/openapi.json")).json()


async def test_every_social_route_lists_its_error_responses(schema):
    for (method, path), codes in EXPECTED.items():
        operation = schema["paths"][path][method]
        assert codes <= set(operation["responses"]), (method, path, operation["responses"])
        for code in codes - {"200", "201", "422"}:
            ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("ErrorDetail"), (method, path, code)


async def test_social_answers_have_response_models(schema):
    ok = schema["paths"]["/api/messages/{user_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("MessagePage")
    listed = schema["paths"]["/api/connections"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("ConnectionList")
