"""Schemathesis requests against a served gateway (tests/unit/test_api_fuzz.py on the zero-infra
mode, tests/integration/test_api_fuzz_stack.py on PostgreSQL, Redis and Kafka).

Every operation of /openapi.json gets generated requests, sent over HTTP to uvicorn on
127.0.0.1: valid ones, and (where the operation takes input) invalid ones. Checks: never a
server error, a documented status code and content type, a body that matches the schema."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
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

from snaproom_gateway.api.app import create_app
from snaproom_gateway.core.settings import Settings
from tests.support.users_api import PASSWORD

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 25

# The schema the app serves at /openapi.json (building it starts nothing; it is the same in
# every mode).
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(
    _env_file=None, database_url="sqlite+aiosqlite:///:memory:", redis_sentinels=[],
    kafka_brokers=[], redis_url=None, redis_host=None, cache_driver=None)).openapi())
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
# Invalid requests need an input to get wrong: a query, path or body parameter (the
# Authorization header is always the test's own).
CASES = [(label, mode) for label, operation in sorted(OPERATIONS.items())
         for mode in GenerationMode
         if mode is GenerationMode.POSITIVE
         or len(operation.query) + len(operation.path_parameters) + len(operation.body)]
CASE_IDS = [f"{label} {mode.value}" for label, mode in CASES]


@contextmanager
def served(settings: Settings) -> Iterator[tuple[str, str]]:
    """The gateway behind uvicorn on a free port, in a thread of its own (the generated calls
    are blocking): (base URL, an admin's token)."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield base, _admin_token(base, settings)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def new_user_token(base: str) -> str:
    """A new user's token: each test has its own (DELETE /api/users/me ends one)."""
    name = f"fz{uuid.uuid4().hex[:12]}"
    signup = httpx.post(f"{base}/api/auth/signup", timeout=30, json={
        "email": f"{name}@example.com", "username": name, "password": PASSWORD})
    assert signup.status_code == 201, signup.text
    return signup.json()["token"]


def _admin_token(base: str, settings: Settings) -> str:
    name = f"fzadmin{uuid.uuid4().hex[:8]}"
    assert httpx.post(f"{base}/api/auth/signup", timeout=30, json={
        "email": f"{name}@example.com", "username": name, "password": PASSWORD},
    ).status_code == 201
    promoted = subprocess.run(  # as an operator makes an admin
        [sys.executable, "-m", "snaproom_gateway", "users", "create-admin",
         "--email", f"{name}@example.com"], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": settings.database.url})
    assert promoted.returncode == 0, promoted.stderr
    login = httpx.post(f"{base}/api/auth/login", timeout=30, json={
        "email": f"{name}@example.com", "password": PASSWORD})
    assert login.status_code == 200 and login.json()["user"]["role"] == "admin", login.text
    return login.json()["token"]


def run_case(label: str, mode: GenerationMode, gateway: tuple[str, str]) -> None:
    """Generated requests for one operation: admin routes with the admin's token, the others
    with a new user's."""
    base, admin_token = gateway
    token = admin_token if label.split()[1].startswith("/api/admin") else new_user_token(base)

    @given(OPERATIONS[label].as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def requests_from_the_schema(case):
        case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"},
                               checks=CHECKS, timeout=30)

    requests_from_the_schema()
