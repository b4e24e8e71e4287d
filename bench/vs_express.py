"""`make bench-vs-express`: the gateway against Express 5 + ioredis, same bytes, same core.

    python bench/vs_express.py [--seconds 15] [--warmup 20] [--connections 64]

Needs the local stack's PostgreSQL and Redis (the Makefile target starts them). It seeds 10,000
users, 1,000 signed-in viewers (sessions) and 200 conversations, serves the gateway (one uvicorn
worker, as `serve` runs it) and the Express peer (bench/peers/express, installed with npm on
first use), both pinned to core 0, and copies into the peer's Redis keys the exact bytes the
gateway answers each request with. Then, for each work item, each server is loaded alone by wrk
on core 1 while the other is paused (SIGSTOP):

  anonymous profile        GET /api/users/{id}, Zipf(1.1) ids
  /api/auth/me             Bearer token of one of the 1,000 viewers
  profile, signed in       GET /api/users/{id} with a viewer's session cookie (a counted view)
  newest conversation page GET /api/messages/{peer} with the cookie of one party
  1-connection p50         the anonymous profile with one connection

While the gateway serves the signed-in profiles, another instance sends cache invalidations
through Redis and the gateway records when each reached its L1: the cross-instance delay of a
profile invalidation or a session revocation (both travel on that channel). A bare redis-py
subscriber in its own process records the same messages: the floor this machine sets under
that load, and, probe by probe, what the gateway adds to it.
Prints a table (req/s, p50, p99, errors, ratio) and each server's RSS, and writes the figures
to bench/results/vs-express-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER = BENCH / "peers" / "express"
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))

import cache_bench  # noqa: E402  (bench/ holds the shared seeding, wrk and probe helpers)

VIEWERS = 1_000
CONVERSATIONS = 200
MESSAGES_PER_CONVERSATION = 30


# --------------------------------------------------------------------------- seeding


async def seed_signed_in(ids: list[int]) -> tuple[list[tuple[int, str]], list[tuple[int, int]]]:
    """Sessions for VIEWERS bench users (fresh tokens each run) and CONVERSATIONS accepted
    connections with messages: ([(user id, token)], [(user id, peer id)])."""
    from sqlalchemy import delete, func, insert, select

    from snaproom_gateway.auth.models import UserSession
    from snaproom_gateway.auth.tokens import token_hash
    from snaproom_gateway.connections.models import Connection
    from snaproom_gateway.core.settings import load_settings
    from snaproom_gateway.infra import database
    from snaproom_gateway.messages.models import Message

    settings = load_settings()
    engine = database.create_engine(settings)
    viewers = ids[:VIEWERS]
    sessions = [(user_id, secrets.token_urlsafe(32)) for user_id in viewers]
    pairs = [(viewers[i], ids[VIEWERS + i]) for i in range(CONVERSATIONS)]
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(UserSession).where(UserSession.user_id.in_(viewers)))
            expires = datetime.now(UTC) + timedelta(days=1)
            await conn.execute(insert(UserSession), [
                {"token_hash": token_hash(token), "user_id": user_id, "expires_at": expires}
                for user_id, token in sessions])
            for a, b in pairs:
                low, high = min(a, b), max(a, b)
                found = await conn.scalar(select(Connection.id).where(
                    Connection.user_low == low, Connection.user_high == high))
                if found is None:
                    await conn.execute(insert(Connection).values(
                        requester_id=a, addressee_id=b, user_low=low, user_high=high,
                        status="accepted", responded_at=datetime.now(UTC)))
                count = await conn.scalar(select(func.count()).select_from(Message).where(
                    Message.user_low == low, Message.user_high == high))
                if count < MESSAGES_PER_CONVERSATION:
                    await conn.execute(insert(Message), [
                        {"sender_id": a if n % 2 else b, "receiver_id": b if n % 2 else a,
                         "user_low": low, "user_high": high, "created_at": datetime.now(UTC),
                         "text": f"Message {n} of a benchmark conversation, long enough to "
                                 f"look like one."}
                        for n in range(MESSAGES_PER_CONVERSATION - count)])
    finally:
        await engine.dispose()
    return sessions, pairs


# --------------------------------------------------------------------------- work items


def work_items(ids: list[int], sessions: list[tuple[int, str]], pairs: list[tuple[int, int]],
               count: int = 20_000) -> dict[str, list[tuple[str, str | None, str | None]]]:
    """Requests per item: (path, bearer token, cookie token)."""
    rng = random.Random(7)
    profiles = [p.rsplit("/", 1)[1] for p in cache_bench.zipf_paths(ids, count)]
    by_user = dict(sessions)
    items: dict[str, list[tuple[str, str | None, str | None]]] = {
        "anonymous profile": [(f"/api/users/{i}", None, None) for i in profiles],
        "/api/auth/me": [("/api/auth/me", token, None)
                         for _, token in rng.choices(sessions, k=count)],
        "profile, signed in": [],
        "newest conversation page": [],
    }
    for i in profiles:
        viewer, token = rng.choice(sessions)
        if str(viewer) == i:
            continue  # the owner's own view is another answer
        items["profile, signed in"].append((f"/api/users/{i}", None, token))
    for _ in range(count):
        a, b = rng.choice(pairs)
        reader, peer = (a, b) if rng.random() < 0.5 else (b, a)
        if reader in by_user:
            items["newest conversation page"].append((f"/api/messages/{peer}", None,
                                                      by_user[reader]))
        else:  # the peer of a pair is not a viewer: the viewer reads
            items["newest conversation page"].append((f"/api/messages/{reader}", None,
                                                      by_user[peer]))
    return items


def headers_of(bearer: str | None, cookie: str | None) -> dict[str, str]:
    if bearer:
        return {"Authorization": f"Bearer {bearer}"}
    if cookie:
        return {"Cookie": f"snaproom_session={cookie}"}
    return {}


def wrk_script(requests: list[tuple[str, str | None, str | None]]) -> str:
    return cache_bench.wrk_requests_script(
        [(path, headers_of(bearer, cookie)) for path, bearer, cookie in requests])


# --------------------------------------------------------------------------- peer bytes


async def copy_answers(gateway: str, items: dict[str, list[tuple[str, str | None, str | None]]],
                       sessions: list[tuple[int, str]], redis_port: int,
                       password: str | None) -> dict[str, int]:
    """Ask the gateway once for every distinct request (this also fills its caches) and store
    its answer bytes where the peer reads them. Returns the number of distinct answers."""
    import redis.asyncio as aioredis

    peer = aioredis.Redis(port=redis_port, password=password)
    limits = httpx.Limits(max_connections=32)
    counts: dict[str, int] = {}
    try:
        await peer.mset({f"bx:session:{hashlib.sha256(t.encode()).hexdigest()}":
                         json.dumps({"user_id": u}) for u, t in sessions})
        owner_of = {t: u for u, t in sessions}
        async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as client:
            for name, requests in items.items():
                if name == "profile, signed in":
                    continue  # the public bytes, as the anonymous item's (checked before load)
                distinct = list(dict.fromkeys(requests))
                counts[name] = len(distinct)
                gate = asyncio.Semaphore(16)

                async def fetch(request, name=name, gate=gate):
                    path, bearer, cookie = request
                    async with gate:
                        for attempt in range(3):  # a keep-alive connection closed under us
                            try:
                                answer = await client.get(path,
                                                          headers=headers_of(bearer, cookie))
                                break
                            except httpx.TransportError:
                                if attempt == 2:
                                    raise
                    if answer.status_code != 200:
                        raise SystemExit(f"{name}: {path} answered {answer.status_code}: "
                                         f"{answer.text[:200]}")
                    user = owner_of.get(bearer or cookie or "")
                    if name == "/api/auth/me":
                        return f"bx:me:{user}", answer.content
                    if name == "newest conversation page":
                        peer_id = int(path.rsplit("/", 1)[1])
                        low, high = sorted((user, peer_id))
                        return f"bx:conversation:{low}:{high}", answer.content
                    return f"bx:user:{path.rsplit('/', 1)[1]}", answer.content

                written: dict[str, bytes] = {}
                for key, body in await asyncio.gather(*(fetch(r) for r in distinct)):
                    if key in written and written[key] != body:
                        raise SystemExit(f"{name}: two answers for {key}")
                    written[key] = body
                await peer.mset(written)
    finally:
        await peer.aclose()
    return counts


# --------------------------------------------------------------------------- servers


def pinned(command: list[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *command] if shutil.which("taskset") else command


def install_peer() -> None:
    if (PEER / "node_modules" / "express").exists():
        return
    if not shutil.which("npm"):
        raise SystemExit("npm is needed for the Express peer (apt-get install npm)")
    print("installing the Express peer (npm ci) ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER,
                   check=True)


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    # taskset execs into the server: the pid is the server's own
    return round(process.memory_info().rss / 2**20, 1)


def set_paused(pid: int, paused: bool) -> None:
    os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    result = cache_bench.run_wrk(port, script, seconds, connections)
    result.pop("raw", None)
    return result


def millis(value: str | None) -> float | None:
    if value is None:
        return None
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for unit in ("us", "ms", "s"):
        if value.endswith(unit):
            return round(float(value[: -len(unit)]) * units[unit], 3)
    return None


# --------------------------------------------------------------------------- the run


def run(seconds: int, warmup: int, connections: int) -> int:
    install_peer()
    ids = asyncio.run(cache_bench.seed())
    sessions, pairs = asyncio.run(seed_signed_in(ids))
    items = work_items(ids, sessions, pairs)
    scripts = {}
    for name, requests in items.items():
        scripts[name] = Path(tempfile.gettempdir(), f"vs_express_{len(scripts)}.lua")
        scripts[name].write_text(wrk_script(requests))

    sys.path.insert(0, str(REPO / "deploy" / "local"))
    from stack import REDIS_PASSWORD, Stack  # noqa: PLC0415

    redis_port = Stack(verbose=False).redis_master_port()
    if redis_port is None:
        raise SystemExit("no Redis master: start the stack (make services-up)")
    gateway_port, peer_port = cache_bench.free_port(), cache_bench.free_port()
    gateway = subprocess.Popen(
        pinned([sys.executable, str(BENCH / "cache_bench.py"), "serve", "--port",
                str(gateway_port)], 0),
        env=os.environ | {"KAFKA_BROKERS": "", "ACCESS_LOG": "false", "DB_POOL_SIZE": "20",
                          "DB_MAX_OVERFLOW": "0", "LOG_LEVEL": "warning"})
    peer = subprocess.Popen(pinned(["node", "server.js"], 0), cwd=PEER, env=os.environ | {
        "PORT": str(peer_port), "REDIS_PORT": str(redis_port),
        "REDIS_PASSWORD": os.environ.get("REDIS_PASSWORD", REDIS_PASSWORD)})
    servers = {"gateway": (gateway, gateway_port), "express": (peer, peer_port)}
    figures: dict[str, Any] = {"items": {}, "command": " ".join(sys.argv),
                               "seconds": seconds, "connections": connections}
    try:
        cache_bench.wait_for(gateway_port)
        cache_bench.wait_for(peer_port, path="/api/health")
        print("copying the gateway's answers into the peer's Redis keys ...", flush=True)
        figures["distinct_requests"] = asyncio.run(copy_answers(
            f"http://127.0.0.1:{gateway_port}", items, sessions, redis_port,
            os.environ.get("REDIS_PASSWORD", REDIS_PASSWORD)))
        check_same_bytes(items, gateway_port, peer_port)
        plan = [(name, connections) for name in items] + [("anonymous profile", 1)]
        for name, conns in plan:
            label = name if conns == connections else "1-connection p50"
            figures["items"][label] = {}
            for server, (process, port) in servers.items():
                other = next(p for s, (p, _) in servers.items() if s != server)
                set_paused(other.pid, True)
                try:
                    print(f"{label}: {server} ...", flush=True)
                    run_wrk(port, scripts[name], warmup, conns)
                    probes = None
                    if server == "gateway" and name == "profile, signed in":
                        probes = cache_bench.start_probes(seconds)
                    before = cache_bench.server_cpu_seconds(process.pid)
                    result = run_wrk(port, scripts[name], seconds, conns)
                    result["server_cpu_seconds"] = round(
                        cache_bench.server_cpu_seconds(process.pid) - before, 2)
                    if probes is not None:
                        cache_bench.wait_probes(*probes, seconds)
                        figures["invalidation_to_other_instance_ms"] = cache_bench.probe_figures(
                            httpx.get(f"http://127.0.0.1:{port}/bench/stats",
                                      timeout=10).json()["probes"])
                    figures["items"][label][server] = result
                finally:
                    set_paused(other.pid, False)
        figures["rss_mb"] = {name: rss_mb(process.pid) for name, (process, _) in servers.items()}
        stats = httpx.get(f"http://127.0.0.1:{gateway_port}/bench/stats", timeout=10).json()
        figures["profile_views_written"] = stats.get("views")
        figures["gateway_breakers_opened"] = stats.get("breakers_opened")
    finally:
        for process, _ in servers.values():
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process, _ in servers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    report(figures)
    return 0


def check_same_bytes(items: dict[str, list[tuple[str, str | None, str | None]]],
                     gateway_port: int, peer_port: int) -> None:
    """Both servers answer every item's first requests with the same body."""
    for name, requests in items.items():
        for path, bearer, cookie in requests[:20]:
            headers = headers_of(bearer, cookie)
            ours = httpx.get(f"http://127.0.0.1:{gateway_port}{path}", headers=headers)
            theirs = httpx.get(f"http://127.0.0.1:{peer_port}{path}", headers=headers)
            if ours.content != theirs.content:
                raise SystemExit(f"{name}: {path} differs between the servers")


def report(figures: dict[str, Any]) -> None:
    lines = ["| work | gateway req/s | p50 | p99 | errors | Express req/s | p50 | p99 | errors "
             "| ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, pair in figures["items"].items():
        ours, theirs = pair["gateway"], pair["express"]
        ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else float("inf")
        pair["ratio"] = round(ratio, 2)
        errors = [errs(r) for r in (ours, theirs)]
        lines.append(f"| {name} | {ours['rps']:,.0f} | {ours['p50']} | {ours['p99']} | "
                     f"{errors[0]} | {theirs['rps']:,.0f} | {theirs['p50']} | {theirs['p99']} "
                     f"| {errors[1]} | {ratio:.2f}x |")
    print("\n".join(lines))
    print(f"RSS after the run (MB): {figures['rss_mb']}")
    print(f"gateway breakers opened during the run: {figures.get('gateway_breakers_opened')}")
    delays = figures.get("invalidation_to_other_instance_ms") or {}
    bare, added = delays.get("bare_redis_py_subscriber", {}), delays.get("added_by_gateway", {})
    print(f"cross-instance invalidation under the signed-in load: {delays.get('seen')} of "
          f"{delays.get('probes')} probes, p50 {delays.get('p50')} ms, p99 {delays.get('p99')} "
          f"ms; a bare redis-py subscriber: p50 {bare.get('p50')}, p99 {bare.get('p99')} ms; "
          f"added by the gateway: p50 {added.get('p50')}, p99 {added.get('p99')} ms")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"vs-express-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures: {out.relative_to(REPO)}")


def errs(result: dict[str, Any]) -> str:
    socket_errors = result.get("socket_errors")
    return f"{result['non_2xx']}" + (f" ({socket_errors})" if socket_errors else "")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="measured seconds per item")
    # 20 s: the items before it leave the signed-in profile item with an L1 whose profiles have
    # expired (30 s L1 TTL); after 5 s it was still refilling them from Redis (p99 0.3 s).
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    started = time.monotonic()
    code = run(args.seconds, args.warmup, args.connections)
    print(f"done in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
