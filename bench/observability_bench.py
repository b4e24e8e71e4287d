"""`make bench-observability`: what logs, trace context, metrics and OpenTelemetry cost per request.

    python bench/observability_bench.py [--seconds 8] [--connections 32] [--rounds 2]
                                        [--baseline-python /path/to/other/checkout/.venv/bin/python]

Serves the gateway on its embedded defaults (SQLite, in-process cache; ACCESS_LOG=false as in
`make bench-cache`) with one uvicorn worker pinned to core 0 (`snaproom-gateway serve`, so the
fast-path HTTP protocol too), loads it with wrk from core 1, and prints req/s for:

* `fast-path`: `GET /api/users/1` anonymous, a cached profile answered by the fast path in
  the HTTP protocol (no middleware, no span);
* `owner-read`: the same read by its owner (signed in): through the app, session and profile
  from the cache;
* `live`: `/api/health/live`, the app's smallest route (no span: excluded from tracing).

req/s on a shared 2-core host moves with the neighbours' load; the server's own CPU time per
request (user + system, from /proc through psutil) does much less, so both are printed. Each
in up to three configurations, alternated `--rounds` times (the host is shared: compare
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
from pathlib import Path

import httpx
import psutil
from gateway_process import wait_ready  # bench/ is on sys.path when run as a script
from observability_cpu import _Sink  # the OTLP collector stand-in both benches send spans to

REPO = Path(__file__).resolve().parents[1]
# (label, path, signed in): the anonymous profile read is answered by the fast path (in the HTTP
# protocol, before the app); the owner's own read goes through the app (session and profile
# from the cache); the liveness route is the app's smallest (and has no span: excluded).
ROUTES = [("fast-path", "/api/users/1", False), ("owner-read", "/api/users/1", True),
          ("live", "/api/health/live", False)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(python: str, env: dict[str, str], workdir: Path, port: int) -> subprocess.Popen:
    taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    return subprocess.Popen([*taskset, python, "-m", "snaproom_gateway", "serve", "--port",
                             str(port), "--workers", "1"], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _seed(base: str) -> str:
    """The one user, signed up; returns its session token. Fills the caches."""
    answer = httpx.post(f"{base}/api/auth/signup", timeout=10, json={
        "email": "bench@example.com", "username": "bench", "password": "correct-horse-battery"})
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    for _, path, signed_in in ROUTES:
        for _ in range(3):
            headers = {"Authorization": f"Bearer {token}"} if signed_in else {}
            assert httpx.get(base + path, headers=headers, timeout=5).status_code == 200
    return token


def _wrk(base: str, route: str, seconds: int, connections: int,
         server: psutil.Process | None = None, token: str | None = None) -> tuple[float, float]:
    """(req/s, server CPU microseconds per request)."""
    taskset = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    before = server.cpu_times() if server is not None else None
    out = subprocess.run([*taskset, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *auth,
                          base + route], capture_output=True, text=True, check=True).stdout
    cpu = 0.0
    if server is not None:
        after = server.cpu_times()
        cpu = (after.user - before.user) + (after.system - before.system)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    assert match and total, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, f"{route}: {non2xx.group(0)}"
    return float(match.group(1)), cpu / int(total.group(1)) * 1e6


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
            wait_ready(base, timeout=90)
            token = _seed(base)
            process = _server_process(server, port)
            results = {}
            for label, path, signed_in in ROUTES:
                own = token if signed_in else None
                _wrk(base, path, 2, connections, token=own)  # warm-up
                results[label] = _wrk(base, path, seconds, connections, process, own)
            print(f"  {name:10} " + "  ".join(
                f"{rps:7.0f} {cpu:6.1f}" for rps, cpu in (results[r] for r, _, _ in ROUTES)),
                flush=True)
            return results
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _server_process(server: subprocess.Popen, port: int) -> psutil.Process:
    """The process listening on `port` (the server; taskset execs it in place)."""
    process = psutil.Process(server.pid)
    for candidate in [process, *process.children(recursive=True)]:
        if any(c.laddr.port == port for c in candidate.net_connections(kind="tcp")
               if c.status == psutil.CONN_LISTEN):
            return candidate
    return process


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
    print(f"req/s and server CPU us/request; 1 worker on core 0, wrk -c{args.connections} "
          f"{args.seconds}s on core 1")
    print(f"  {'config':10} " + "  ".join(f"{label:>14}" for label, _, _ in ROUTES))
    totals: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for _ in range(args.rounds):
        for name, python, env in configs:
            found = run_config(name, python, env, args.seconds, args.connections)
            for route, value in found.items():
                totals.setdefault(name, {}).setdefault(route, []).append(value)
    print("CPU us/request, median of rounds, and against otel-off:")

    def median(values: list[tuple[float, float]]) -> float:
        cpus = sorted(cpu for _, cpu in values)
        return cpus[len(cpus) // 2]

    off = {r: median(v) for r, v in totals["otel-off"].items()}
    for name, by_route in totals.items():
        cpu = {r: median(v) for r, v in by_route.items()}
        print(f"  {name:10} " + "  ".join(
            f"{cpu[r]:6.1f} ({(cpu[r] / off[r] - 1) * 100:+4.0f}%)" for r, _, _ in ROUTES))
    sink.shutdown()


if __name__ == "__main__":
    main()
