"""deploy/health_check.py against a fake gateway (a stdlib HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "health_check.py"
ENDPOINTS = (
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/api/health/detailed",
    "/api/health/database",
    "/api/health/redis",
    "/api/health/kafka",
    "/api/health/full",
)


class FakeGateway:
    """Answers every path from `responses`: path -> (HTTP status, body or None to stall)."""

    def __init__(self) -> None:
        self.responses: dict[str, tuple[int, object]] = {
            path: (200, {"status": "healthy", "service": "snaproom-gateway"}) for path in ENDPOINTS
        }
        self.stall = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.responses.get(self.path, (404, {"detail": "Not Found"}))
                if body is None:
                    fake.stall.wait(10)  # longer than any --timeout the tests pass
                    return
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.stall.set()
    fake.server.shutdown()
    fake.server.server_close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def row(output: str, endpoint: str) -> list[str]:
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == endpoint:
            return cells
    raise AssertionError(f"no row for {endpoint} in:\n{output}")


def test_all_endpoints_healthy_exits_zero_with_one_row_each(gateway):
    result = run("--base-url", gateway.base_url)
    assert result.returncode == 0, result.stdout
    for endpoint in ENDPOINTS:
        cells = row(result.stdout, endpoint)
        assert cells[1:3] == ["200", "healthy"]
        float(cells[3])  # response time in ms
        assert cells[4] == "ok"


def test_table_columns_are_aligned(gateway):
    output = run("--base-url", gateway.base_url).stdout.splitlines()
    lines = [line for line in output if line.startswith("/api")]
    header = next(line for line in output if line.startswith("ENDPOINT"))
    status_column = header.index("STATUS")
    assert all(line[status_column:].startswith("healthy") for line in lines)


def test_one_unhealthy_503_exits_one_and_names_it(gateway):
    gateway.responses["/api/health/kafka"] = (503, {"status": "unhealthy", "dependencies": {}})
    result = run("--base-url", gateway.base_url)
    assert result.returncode == 1
    assert row(result.stdout, "/api/health/kafka")[1:3] == ["503", "unhealthy"]
    assert row(result.stdout, "/api/health/kafka")[-1] == "FAIL"
    assert row(result.stdout, "/api/health/redis")[-1] == "ok"
    assert "/api/health/kafka" in result.stdout.splitlines()[-1]


def test_degraded_passes_unless_strict(gateway):
    gateway.responses["/api/health/redis"] = (200, {"status": "degraded"})
    assert run("--base-url", gateway.base_url).returncode == 0
    assert run("--base-url", gateway.base_url, "--strict").returncode == 1


def test_unhealthy_status_field_fails_even_with_200(gateway):
    gateway.responses["/api/health/full"] = (200, {"status": "unhealthy"})
    assert run("--base-url", gateway.base_url).returncode == 1


def test_a_body_without_json_status_fails(gateway):
    gateway.responses["/api/health/database"] = (200, b"<html>proxy error</html>")
    result = run("--base-url", gateway.base_url)
    assert result.returncode == 1
    assert "invalid JSON" in row_line(result.stdout, "/api/health/database")


def row_line(output: str, endpoint: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(endpoint + " "))


def test_unreachable_gateway_exits_one():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` now that the socket is closed.
    result = run("--base-url", f"http://127.0.0.1:{port}", "--timeout", "2")
    assert result.returncode == 1
    assert "unreachable" in row_line(result.stdout, "/api/health")


def test_a_hanging_endpoint_times_out_instead_of_hanging(gateway):
    gateway.responses["/api/health/detailed"] = (200, None)
    started = time.monotonic()
    result = run("--base-url", gateway.base_url, "--timeout", "0.5")
    assert result.returncode == 1
    assert "timeout" in row_line(result.stdout, "/api/health/detailed")
    assert time.monotonic() - started < 8


def test_help_describes_the_options():
    result = run("--help")
    assert result.returncode == 0
    for option in ("--base-url", "--timeout", "--strict"):
        assert option in result.stdout
