"""`snaproom-gateway serve --workers 2`: /metrics, whichever worker answers it, reports the sum
of both workers' counts (prometheus-client multiprocess mode, directory set up by `serve`).
The gateway runs on its embedded defaults: no servers needed, a real served process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

REPO = Path(__file__).resolve().parents[3]
MIN_REQUESTS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _samples(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line.rpartition(" ")
            found[labels] = float(value)
    return found


@pytest.fixture
def two_workers(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REDIS_", "KAFKA_", "DATABASE_", "PROMETHEUS_"))}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/gw.db", "LOG_FORMAT": "json",
            "APP_ENV": "testing", "PYTHONPATH": str(REPO), "CACHE_DRIVER": "memory"}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "snaproom_gateway", "serve", "--port",
                             str(port), "--workers", "2"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # a guard against a hang, not a speed check
        started: set[int] = set()
        while len(started) < 2:  # both workers have finished their start-up
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.2)
            started = {line["pid"] for line in _lines(tmp_path / "serve.log")
                       if line.get("message") == "Application startup complete."}
        yield base, tmp_path / "serve.log"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _lines(path: Path) -> list[dict]:
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
    return out


def _pids(log_path: Path, path: str) -> set[int]:
    return {line["pid"] for line in _lines(log_path)
            if line.get("logger") == "uvicorn.access" and line.get("path") == path}


def test_metrics_add_up_across_two_workers(two_workers):
    base, log_path = two_workers
    route = 'method="GET",route="/api/users/{user_id}",status="404"'
    # A new connection per request: the kernel hands them to either worker. Go on until both
    # served some (bounded), so the sum below differs from each worker's own count.
    sent = 0
    while sent < MIN_REQUESTS or len(_pids(log_path, "/api/users/987654")) < 2:
        assert sent < 200, "one worker served every request"
        with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
            assert client.get("/api/users/987654").status_code == 404
        sent += 1
    # uvicorn's access lines are the gateway's JSON, with the request's ids.
    access = [line for line in _lines(log_path) if line.get("logger") == "uvicorn.access"]
    assert all(line["method"] == "GET" and len(line["trace_id"]) == 32 and line["request_id"]
               for line in access)
    assert {line["status"] for line in access if line["path"] == "/api/users/987654"} == {404}

    scrapes = 0
    while scrapes < 4 or len(_pids(log_path, "/metrics")) < 2:
        assert scrapes < 40, "every scrape was answered by the same worker"
        with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
            text = client.get("/metrics").text
        scrapes += 1
        counts = _samples(text, "snaproom_http_requests_total")
        assert counts.get("snaproom_http_requests_total{" + route + "}") == sent, counts
        assert "snaproom_http_request_duration_seconds_bucket" in text
