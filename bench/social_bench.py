"""Benchmark the social hot paths: reading a conversation (the recent-messages set) and the
delivery latency of a message to a WebSocket, across two instances when Redis is configured.

Starts `snaproom-gateway serve` (one worker each) with the current environment (embedded
defaults: one instance; with REDIS_* set: two instances sharing Redis), connects two users,
sends 60 messages, runs wrk against GET /api/messages/{peer}, then sends messages over HTTP on
instance A and times their arrival on a socket held on instance B. One line per figure.

    python bench/social_bench.py [--port 8775] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
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
import orjson
import websockets
from gateway_process import wait_ready  # bench/ is on sys.path when run as a script


def signup(base: str) -> tuple[dict, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    body = {"email": f"{name}@example.com", "username": name, "password": "bench-password"}
    answer = httpx.post(f"{base}/api/auth/signup", json=body, timeout=10).json()
    return answer["user"], answer["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def delivery_latency(base_a: str, ws_b: str, token_a: str, token_b: str, to_id: int,
                           count: int) -> list[float]:
    timings = []
    async with websockets.connect(f"{ws_b}/ws?token={token_b}") as socket, \
            httpx.AsyncClient(base_url=base_a, timeout=10) as client:
        for i in range(count):
            started = time.perf_counter()
            sent = await client.post("/api/messages", json={"to_user_id": to_id,
                                                            "text": f"latency {i}"},
                                     headers=auth(token_a))
            message_id = sent.json()["id"]
            while True:
                frame = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame.get("type") == "message" and frame["message"]["id"] == message_id:
                    break
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8775)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    workdir = tempfile.mkdtemp(prefix="snaproom-bench-")
    env = dict(os.environ, LOG_LEVEL="warning", RATE_LIMIT_WRITES="1000000/minute",
               RATE_LIMIT_SIGNUP="1000000/minute", APP_ENV="testing")
    env.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{workdir}/bench.db")
    shared = any(env.get(v) for v in ("REDIS_SENTINELS", "REDIS_URL", "REDIS_HOST"))
    ports = [args.port, args.port + 1] if shared else [args.port]
    servers = []
    try:
        for port in ports:  # one at a time: the first migrates an empty database
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "snaproom_gateway", "serve", "--port", str(port)],
                env=env, cwd=workdir))
            wait_ready(f"http://127.0.0.1:{port}")
        base_a, base_b = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[-1]}"
        alice, token_a = signup(base_a)
        bob, token_b = signup(base_a)
        asked = httpx.post(f"{base_a}/api/connections", json={"to_user_id": bob["id"]},
                           headers=auth(token_a), timeout=10).json()
        httpx.post(f"{base_a}/api/connections/{asked['id']}/accept", headers=auth(token_b),
                   timeout=10).raise_for_status()
        for i in range(60):
            httpx.post(f"{base_a}/api/messages", json={"to_user_id": bob["id"], "text": f"m{i}"},
                       headers=auth(token_a), timeout=10).raise_for_status()
        backend = ("postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite") + \
            (" + redis" if shared else ", in-process")
        url = f"{base_a}/api/messages/{bob['id']}"
        httpx.get(url, headers=auth(token_a), timeout=10).raise_for_status()  # fill the set
        for label, target in (("GET /api/health/live", f"{base_a}/api/health/live"),
                              ("GET /api/messages/{peer} (last 50, cached)", url)):
            wrk = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                                  "--latency", "-H", f"Authorization: Bearer {token_a}", target],
                                 capture_output=True, text=True, check=True)
            rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout).group(1)
            p50 = re.search(r"^\s+50%\s+(\S+)", wrk.stdout, re.M).group(1)
            p99 = re.search(r"^\s+99%\s+(\S+)", wrk.stdout, re.M).group(1)
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
            print(f"{label} ({backend}, wrk -c{args.connections} {args.seconds}s): {rps} req/s, "
                  f"p50 {p50}, p99 {p99}, non-2xx {errors.group(1) if errors else 0}")
        timings = asyncio.run(delivery_latency(base_a, base_b.replace("http", "ws"), token_a,
                                               token_b, bob["id"], args.messages))
        timings.sort()
        where = "instance A -> socket on instance B" if shared else "one instance"
        print(f"POST /api/messages -> WebSocket frame ({where}, {backend}, sequential "
              f"x{args.messages}): p50 {statistics.median(timings):.1f} ms, "
              f"p95 {timings[int(len(timings) * 0.95) - 1]:.1f} ms, max {timings[-1]:.1f} ms")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
