"""Benchmark the auth hot path: session validation (GET /api/auth/me) and argon2 logins.

Starts `snaproom-gateway serve` (one worker) with the current environment (embedded defaults, or
the stack's variables), signs a user up, then runs wrk against /api/auth/me with a Bearer token
and times sequential logins. Prints one line per figure.

    python bench/auth_bench.py [--port 8765] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
from gateway_process import wait_ready  # bench/ is on sys.path when run as a script


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    workdir = tempfile.mkdtemp(prefix="snaproom-bench-")
    env = dict(os.environ, LOG_LEVEL="warning", RATE_LIMIT_LOGIN="1000000/minute",
               RATE_LIMIT_SIGNUP="1000000/minute", APP_ENV="testing")
    env.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{workdir}/bench.db")
    server = subprocess.Popen([sys.executable, "-m", "snaproom_gateway", "serve", "--port",
                               str(args.port)], env=env, cwd=workdir)
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_ready(base)
        name = f"bench_{uuid.uuid4().hex[:8]}"
        body = {"email": f"{name}@example.com", "username": name, "password": "bench-password"}
        token = httpx.post(f"{base}/api/auth/signup", json=body, timeout=10).json()["token"]
        timings = []
        for _ in range(args.logins):
            started = time.perf_counter()
            answer = httpx.post(f"{base}/api/auth/login", json=body, timeout=10)
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
        backend = "postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite"
        # The same server's bare liveness route: the machine's ceiling at this moment.
        for path, headers in (("/api/health/live", []),
                              ("/api/auth/me", ["-H", f"Authorization: Bearer {token}"])):
            wrk = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                                  "--latency", *headers, f"{base}{path}"],
                                 capture_output=True, text=True, check=True)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout).group(1)
            p50 = re.search(r"50%\s+(\S+)", wrk.stdout).group(1)
            p99 = re.search(r"99%\s+(\S+)", wrk.stdout).group(1)
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
            print(f"GET {path} ({backend}, wrk -c{args.connections} {args.seconds}s): "
                  f"{rps} req/s, p50 {p50}, p99 {p99}, "
                  f"non-2xx {errors.group(1) if errors else 0}")
        print(f"POST /api/auth/login (argon2id, sequential x{args.logins}): "
              f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
