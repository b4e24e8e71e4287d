"""Property-based requests from the OpenAPI schema (schemathesis), sent over HTTP to the gateway
served by uvicorn on 127.0.0.1 in its zero-infra mode, with a signed-in user's token: whatever a
client sends, the answer is never a server error, its status code is one the schema documents,
and its body matches the schema."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from snaproom_gateway.app import create_app
from snaproom_gateway.settings import Settings
from tests.users_api import PASSWORD

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> tuple[str, str]:
    """The base URL of the gateway, served for this module's tests, and an admin's token."""
    path = tmp_path_factory.mktemp("fuzz") / "gateway.db"
    app = create_app(_settings(str(path)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    _token(base, "fuzzadmin")
    promoted = subprocess.run(  # as an operator makes the first admin
        [sys.executable, "-m", "snaproom_gateway", "users", "create-admin",
         "--email", "fuzzadmin@example.com"], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent),
             "DATABASE_URL": f"sqlite+aiosqlite:///{path}"}, cwd=path.parent)
    assert promoted.returncode == 0, promoted.stderr
    login = httpx.post(f"{base}/api/auth/login", timeout=30, json={
        "email": "fuzzadmin@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["role"] == "admin", login.text
    try:
        yield base, login.json()["token"]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _settings(database: str) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{database}",
                    app_env="testing", redis_sentinels=[], kafka_brokers=[], redis_url=None,
                    redis_host=None, cache_driver=None, rate_limit_enabled=False)


# The schema the app serves at /openapi.json (building it starts nothing).
SCHEMA = schemathesis.openapi.from_dict(create_app(_settings(":memory:")).openapi())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def _token(base: str, name: str) -> str:
    """A new user's token: each test has its own (DELETE /api/users/me ends one)."""
    signup = httpx.post(f"{base}/api/auth/signup", timeout=30, json={
        "email": f"{name}@example.com", "username": name, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    return signup.json()["token"]


# Negative cases need an input to get wrong: a query, path or body parameter (the
# Authorization header is always the test's own).
CASES = [(label, mode) for label, operation in sorted(OPERATIONS.items())
         for mode in GenerationMode
         if mode is GenerationMode.POSITIVE
         or len(operation.query) + len(operation.path_parameters) + len(operation.body)]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label} {mode.value}"
                                                        for label, mode in CASES])
def test_any_request_gets_a_documented_answer_and_never_a_server_error(label, mode, gateway):
    """Positive: requests the schema allows; negative: requests it does not. Admin routes with
    an admin's token, the others with a new user's."""
    base, admin_token = gateway
    token = admin_token if label.split()[1].startswith("/api/admin") else \
        _token(base, f"fuzz{sorted(OPERATIONS).index(label)}{mode.value[0]}")

    @given(OPERATIONS[label].as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def requests_from_the_schema(case):
        case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"},
                               checks=CHECKS, timeout=30)

    requests_from_the_schema()
