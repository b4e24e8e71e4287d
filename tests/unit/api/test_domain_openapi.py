"""Every domain route is in the OpenAPI schema with the error answers it can give."""

import pytest

EXPECTED = {
    ("post", "/api/auth/signup"): {"201", "409", "422", "429"},
    ("post", "/api/auth/login"): {"200", "401", "422", "429"},
    ("post", "/api/auth/logout"): {"204", "401"},
    ("get", "/api/auth/me"): {"200", "401"},
    ("get", "/api/users"): {"200", "422"},
    ("get", "/api/users/{user_id}"): {"200", "404", "422"},
    ("patch", "/api/users/me"): {"200", "401", "422", "429"},
    ("delete", "/api/users/me"): {"202", "401", "409", "429"},
    ("get", "/api/admin/audit"): {"200", "401", "403", "422"},
    ("get", "/api/admin/breakers"): {"200", "401", "403"},
    ("get", "/api/admin/kafka/cluster"): {"200", "401", "403"},
    ("get", "/api/admin/cache/stats"): {"200", "401", "403"},
    ("post", "/api/admin/cache/invalidate"): {"200", "401", "403", "422"},
}


@pytest.fixture
async def schema(app_client):
    _, client = app_client
    return (await client.get("/openapi.json")).json()


async def test_every_domain_route_lists_its_error_responses(schema):
    for (method, path), codes in EXPECTED.items():
        operation = schema["paths"][path][method]
        assert codes <= set(operation["responses"]), (method, path, operation["responses"])


async def test_errors_are_documented_as_detail_objects_with_their_headers(schema):
    login = schema["paths"]["/api/auth/login"]["post"]["responses"]
    assert login["401"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorDetail")
    assert "Retry-After" in login["429"]["headers"]
    assert "WWW-Authenticate" in login["401"]["headers"]


async def test_both_session_carriers_are_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schemes)
    assert schemes["APIKeyCookie"]["name"] == "snaproom_session"
