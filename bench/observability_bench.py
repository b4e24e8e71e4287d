"""`make bench-observability`: what logs, trace context, metrics and OpenTelemetry cost per request.

    python bench/observability_bench.py [--seconds 8] [--connections 32] [--rounds 2]
                                        [--baseline-python /path/to/other/checkout/.venv/bin/python]

Serves the gateway on its embedded defaults (SQLite, in-process cache; ACCESS_LOG=false as in
`make bench-cache`) with one uvicorn worker pinned to core 0 (`snaproom-gateway serve`, so the
fast-path HTTP protocol too), loads it with wrk from core 1, and prints req/s for:

* `/api/users/1`: a cached anonymous profile, answered by the fast path in the HTTP protocol;
* `/api/users?page=1&size=10`: a cached read that goes through the app (middleware, route);
* `/api/health/live`: the smallest route through the app.

Each in up to three configurations, alternated `--rounds` times (the host is shared: compare
ratios within a run): `baseline` (another checkout's interpreter, e.g. the main branch, when
`--baseline-python` is given), `otel-off` (this checkout as shipped) and `otel-on`
(OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local sink that accepts and drops the spans).
"""

from __future__ import annotations

import argparse
import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ROUTES = ["/api/users/1", "/api/users?page=1&size=10", "/api/health/live"]


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(python: str, env: dict[str, str], workdir: Path, port: int) -> subprocess.Popen:
    taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    return subprocess.Popen([*taskset, python, "-m", "snaproom_gateway", "serve", "--port",
                             str(port), "--workers", "1"], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gateway at {base} did not start")


def _seed(base: str) -> None:
    answer = httpx.post(f"{base}/api/auth/signup", timeout=10, json={
        "email": "bench@example.com", "username": "bench", "password": "correct-horse-battery"})
    assert answer.status_code in (201, 409), answer.text
    for route in ROUTES:  # fill the caches
        for _ in range(3):
            httpx.get(base + route, timeout=5)


def _wrk(base: str, route: str, seconds: int, connections: int) -> float:
    taskset = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    out = subprocess.run([*taskset, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                          base + route], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, f"{route}: {non2xx.group(0)}"
    return float(match.group(1))


def run_config(name: str, python: str, extra_env: dict[str, str], seconds: int,
               connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="obs-bench-") as tmp:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("REDIS_", "KAFKA_", "DATABASE_", "OTEL_", "PROMETHEUS_"))}
        env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "ACCESS_LOG": "false",
                "APP_ENV": "testing", "LOG_LEVEL": "warning", "RATE_LIMIT_ENABLED": "false",
                "CACHE_DRIVER": "memory"} | extra_env
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve(python, env, Path(tmp), port)
        try:
            _wait_up(base)
            _seed(base)
            results = {}
            for route in ROUTES:
                _wrk(base, route, 2, connections)  # warm-up
                results[route] = _wrk(base, route, seconds, connections)
            print(f"  {name:10} " + "  ".join(f"{results[r]:9.0f}" for r in ROUTES), flush=True)
            return results
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-python", default=None)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    otlp = f"http://127.0.0.1:{sink.server_address[1]}"
    configs = [("otel-off", sys.executable, {}),
               ("otel-on", sys.executable, {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp})]
    if args.baseline_python:
        configs.insert(0, ("baseline", args.baseline_python, {}))
    print(f"req/s, 1 worker on core 0, wrk -c{args.connections} {args.seconds}s on core 1")
    print(f"  {'config':10} " + "  ".join(f"{r[:9]:>9}" for r in ROUTES))
    totals: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        for name, python, env in configs:
            found = run_config(name, python, env, args.seconds, args.connections)
            for route, value in found.items():
                totals.setdefault(name, {}).setdefault(route, []).append(value)
    print("median of rounds, and against otel-off:")
    off = {r: sorted(v)[len(v) // 2] for r, v in totals["otel-off"].items()}
    for name, by_route in totals.items():
        medians = {r: sorted(v)[len(v) // 2] for r, v in by_route.items()}
        print(f"  {name:10} " + "  ".join(
            f"{medians[r]:7.0f} ({(medians[r] / off[r] - 1) * 100:+.0f}%)" for r in ROUTES))
    sink.shutdown()


if __name__ == "__main__":
    main()
