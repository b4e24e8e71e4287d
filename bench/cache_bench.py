"""`make bench-cache`: cached GET /api/users/{id} on one uvicorn worker pinned to one core.

    python bench/cache_bench.py run      seed, serve (taskset -c 0), wrk (taskset -c 1), report
    python bench/cache_bench.py serve    the bench app alone (used by `run`)

Needs the real stack (`make services-up`; the environment from `deploy/local/stack.py env`):
PostgreSQL with 10,000 seeded users, Redis through Sentinel. Measures req/s, p50/p99 (wrk),
the cache hit ratio under a Zipf(1.1) key mix, database queries per 1,000 requests, and how
long an invalidation takes to reach another instance's L1 (p50/p99), while under load; for a
start phase on an empty cache (--warmup seconds) and, apart, for the measured phase: after
it every user is read once and the load runs --settle seconds more (past the L1's TTL), so the
measured phase is the steady state, not the first reads of the Zipf tail.

The server is the gateway's own: `create_app()` served by `serving.run`, as `snaproom-gateway
serve` runs it (uvicorn, uvloop, the fast-path HTTP protocol), with ACCESS_LOG=false and
KAFKA_BROKERS unset (see `run`).
"""


import argparse
import asyncio
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
USERS = 10_000
ZIPF_S = 1.1


# --------------------------------------------------------------------------- the app under test


def build_app():
    """The gateway as `create_app` builds it (the real GET /api/users/{id}), plus what the
    benchmark reads: a DB query counter and when probe invalidations arrived."""
    from fastapi import Request
    from sqlalchemy import event

    from snaproom_gateway.api.app import create_app
    from snaproom_gateway.api.deps import CacheDep

    app = create_app()
    counters = {"db_queries": 0}
    probes: dict[str, float] = {}
    breakers_opened: dict[str, int] = {}

    @app.get("/bench/stats")
    async def bench_stats(cache: CacheDep, request: Request) -> dict[str, Any]:
        return {"db_queries": counters["db_queries"], "cache": await cache.stats(),
                "probes": probes, "views": request.app.state.runtime.profile_views.written,
                "breakers_opened": breakers_opened}

    original_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_counters(application):
        async with original_lifespan(application):
            instrument(application)
            yield

    app.router.lifespan_context = lifespan_with_counters

    def instrument(application) -> None:
        def count(*_args: Any) -> None:
            counters["db_queries"] += 1

        event.listen(application.state.runtime.engine.sync_engine, "before_cursor_execute", count)

        async def count_opened(change: Any) -> None:  # load must not open a breaker
            if change.new.value == "open":
                breakers_opened[change.dependency] = breakers_opened.get(change.dependency, 0) + 1

        application.state.runtime.breakers.add_listener(count_opened)
        cache = application.state.runtime.cache
        remote = cache._remote_invalidation

        def record(tags: list[str], keys: list[str]) -> None:
            now = time.time()
            for tag in tags:
                if tag.startswith("probe:"):
                    probes[tag] = now
            remote(tags, keys)

        if cache.subscriber is not None:
            cache.subscriber.on_message = record

    return app


def raw_asgi_app():
    """The ceiling on this machine: uvicorn with an ASGI app that sends fixed bytes. The
    cached route is compared with it under the same load."""
    body = orjson.dumps({"id": 1, "username": "x" * 300})
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    message = {"type": "http.response.body", "body": body}

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send(start)
            await send(message)
    return app


def serve(port: int, raw: bool = False) -> None:
    if raw:
        import uvicorn

        uvicorn.run(raw_asgi_app(), host="127.0.0.1", port=port, loop="uvloop",
                    http="httptools", log_level="warning", access_log=False, lifespan="off")
        return
    from snaproom_gateway.api import serving
    from snaproom_gateway.core.settings import load_settings

    serving.run(load_settings(), build_app(), host="127.0.0.1", port=port, workers=1)


# --------------------------------------------------------------------------- seeding


async def seed() -> list[int]:
    from sqlalchemy import func, insert, select

    from snaproom_gateway.core.settings import load_settings
    from snaproom_gateway.infra import database, migrations
    from snaproom_gateway.users.models import User

    settings = load_settings()
    engine = database.create_engine(settings)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as conn:
            bench = User.username.like("bench%")
            taken = set((await conn.scalars(select(User.username).where(bench))).all())
            live = await conn.scalar(select(func.count()).select_from(User).where(
                bench, User.deleted_at.is_(None)))
            if live < USERS:
                numbers = (i for i in itertools.count() if f"bench{i}" not in taken)
                rows = [{"email": f"bench{i}@example.com", "username": f"bench{i}",
                         "password_hash": "x", "first_name": f"First{i}", "last_name": f"Last{i}",
                         "display_name": f"Bench User {i}", "bio": "Writes benchmarks. " * 8,
                         "avatar_url": f"https://cdn.example.com/avatars/{i}.png"}
                        for i in itertools.islice(numbers, USERS - live)]
                await conn.execute(insert(User), rows)
            # Only live bench users: a row another run deleted would answer 404.
            ids = (await conn.scalars(
                select(User.id).where(bench, User.deleted_at.is_(None))
                .order_by(User.id).limit(USERS))).all()
    finally:
        await engine.dispose()
    return list(ids)


# --------------------------------------------------------------------------- load


def zipf_paths(ids: list[int], count: int, seed: int = 11) -> list[str]:
    """`count` request paths whose ids follow a bounded Zipf(1.1) over the users, hot ids
    scattered over the table (rank -> id is a random permutation)."""
    rng = random.Random(seed)
    ranked = ids[:]
    rng.shuffle(ranked)
    weights = [1.0 / (rank ** ZIPF_S) for rank in range(1, len(ranked) + 1)]
    return [f"/api/users/{i}" for i in rng.choices(ranked, weights=weights, k=count)]


def wrk_script(paths: list[str]) -> str:
    return wrk_requests_script([(path, {}) for path in paths])


def wrk_requests_script(rows: list[tuple[str, dict[str, str]]]) -> str:
    """A wrk script cycling through GET requests (path, headers), from a random start.

    Requests are formatted once, in init: formatting one per request in Lua made wrk, not the
    server, the bottleneck once the server answered from its protocol. The rows travel as one
    string parsed in init: a Lua table literal of 200,000 rows passes LuaJIT's 65,536-constant
    limit, the script fails to load, and wrk silently sends `GET /` instead."""
    for path, headers in rows:
        for text in (path, *headers, *headers.values()):
            if any(c in text for c in "\t\n\x1f") or not text.isascii():
                raise ValueError(f"wrk row field {text!r}: ASCII without tabs or newlines only")
    if "]==]" in "".join(path for path, _ in rows):
        raise ValueError("wrk rows must not contain ]==]")
    lines = "\n".join("\t".join([path, *(f"{k}\x1f{v}" for k, v in headers.items())])
                      for path, headers in rows)
    return f"""
local rows = [==[
{lines}
]==]
local requests = {{}}
local n = 0
local i = 0
function init(args)
  for line in string.gmatch(rows, "[^\\n]+") do
    local path, headers = nil, {{}}
    for field in string.gmatch(line, "[^\\t]+") do
      if path == nil then
        path = field
      else
        local sep = string.find(field, "\\31", 1, true)
        headers[string.sub(field, 1, sep - 1)] = string.sub(field, sep + 1)
      end
    end
    n = n + 1
    requests[n] = wrk.format("GET", path, headers)
  end
  i = math.random(n)
end
function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end
"""


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               f"http://127.0.0.1:{port}"]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": requests, "p50": latency.get("50"), "p99": latency.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else None, "raw": out}


async def probe_invalidations(count: int, interval: float) -> dict[str, float]:
    """Instance A (this process) invalidates probe tags while the server (instance B) is under
    load; B records when each reached it (same clock: one machine)."""
    from snaproom_gateway.cache.builder import build_cache
    from snaproom_gateway.core.settings import load_settings
    from snaproom_gateway.infra import redis as redis_infra

    settings = load_settings()
    clients = redis_infra.create_clients(settings)
    cache = build_cache(settings, clients)
    await cache.redis.connect()
    sent: dict[str, float] = {}
    try:
        for i in range(count):
            tag = f"probe:{os.getpid()}:{i}"
            sent[tag] = time.time()
            await cache.invalidate_tags([tag])
            await asyncio.sleep(interval)
    finally:
        await redis_infra.close(clients)
    return sent


def listen_for_probes(seconds: float) -> dict[str, float]:
    """The floor for the probe delays: a bare redis-py subscriber in its own process (no
    gateway, no event loop) stamps when each probe tag reaches it, in the same run."""
    import orjson

    from snaproom_gateway.cache.keys import INVALIDATION_CHANNEL
    from snaproom_gateway.core.settings import load_settings
    from snaproom_gateway.infra import redis as redis_infra

    client = redis_infra.subscriber_client(load_settings())
    pubsub = client.pubsub()
    pubsub.subscribe(INVALIDATION_CHANNEL)
    seen: dict[str, float] = {}
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not stopped:
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            if message["type"] == "subscribe":
                PROBE_LISTENER_READY.touch()
            elif message["type"] == "message":
                now = time.time()
                for tag in orjson.loads(message["data"]).get("tags", ()):
                    if tag.startswith("probe:"):
                        seen[tag] = now
    finally:
        pubsub.close()
        redis_infra.close_subscriber_client(client)
    return seen


PROBES_SENT = Path(tempfile.gettempdir(), "cache_bench_probes.json")
PROBES_SEEN_BARE = Path(tempfile.gettempdir(), "cache_bench_probes_bare.json")
PROBE_LISTENER_READY = Path(tempfile.gettempdir(), "cache_bench_listener.ready")


def start_probes(seconds: int) -> tuple[subprocess.Popen, subprocess.Popen]:
    """The bare listener, then the prober (instance A) once the listener is subscribed."""
    PROBE_LISTENER_READY.unlink(missing_ok=True)
    PROBES_SEEN_BARE.unlink(missing_ok=True)
    listener = subprocess.Popen([sys.executable, __file__, "listen", "--seconds",
                                 str(seconds + 60)], env=os.environ.copy())
    deadline = time.monotonic() + 30
    while not PROBE_LISTENER_READY.exists():
        if time.monotonic() > deadline or listener.poll() is not None:
            raise SystemExit("the bare probe listener did not subscribe")
        time.sleep(0.05)
    prober = subprocess.Popen([sys.executable, __file__, "probe", "--count",
                               str(max(50, seconds * 20)), "--interval", "0.04"],
                              env=os.environ.copy())
    return prober, listener


def wait_probes(prober: subprocess.Popen, listener: subprocess.Popen, seconds: int) -> None:
    prober.wait(timeout=seconds + 60)
    listener.terminate()  # it writes what it saw and exits
    listener.wait(timeout=30)


def probe_figures(seen: dict[str, float]) -> dict[str, Any]:
    """Delays (ms) from each probe's send to the gateway's L1 drop (`seen`, from /bench/stats),
    to the bare listener, and what the gateway adds over the bare listener, probe by probe."""
    sent = json.loads(PROBES_SENT.read_text())
    bare = json.loads(PROBES_SEEN_BARE.read_text()) if PROBES_SEEN_BARE.exists() else {}

    def summary(delays: list[float]) -> dict[str, Any]:
        if not delays:
            return {"seen": 0}
        return {"seen": len(delays), "p50": round(percentile(delays, 50), 2),
                "p99": round(percentile(delays, 99), 2), "max": round(max(delays), 2)}

    return {"probes": len(sent),
            **summary([(seen[tag] - t) * 1000 for tag, t in sent.items() if tag in seen]),
            "bare_redis_py_subscriber": summary(
                [(bare[tag] - t) * 1000 for tag, t in sent.items() if tag in bare]),
            "added_by_gateway": summary(
                [(seen[tag] - bare[tag]) * 1000 for tag in sent if tag in seen and tag in bare])}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def read_each_once(port: int, ids: list[int], concurrency: int = 16) -> None:
    gate = asyncio.Semaphore(concurrency)
    failed = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        async def read(user_id: int) -> None:
            nonlocal failed
            async with gate:
                failed += (await client.get(f"/api/users/{user_id}")).status_code != 200

        await asyncio.gather(*(read(user_id) for user_id in ids))
    if failed:
        raise SystemExit(f"{failed} of {len(ids)} user reads failed")


def run(seconds: int, connections: int, warmup: int, calibrate_ceiling: bool,
        cold: bool, settle: int) -> int:
    ids = asyncio.run(seed())
    script = Path(tempfile.gettempdir(), "cache_bench_zipf.lua")
    script.write_text(wrk_script(zipf_paths(ids, 200_000)))

    port = free_port()
    server_cmd = [sys.executable, __file__, "serve", "--port", str(port)]
    if shutil.which("taskset"):
        server_cmd = ["taskset", "-c", "0", *server_cmd]
    if cold:
        asyncio.run(flush_user_entries())  # no entry of an earlier run may count as a hit
    # The bench needs no Kafka: its producer would only take CPU from the measured core.
    # A fixed pool: with overflow connections, every burst of misses opens and closes
    # PostgreSQL connections, and each SCRAM login costs milliseconds of CPU on the measured core.
    server = subprocess.Popen(server_cmd, env=os.environ | {
        "KAFKA_BROKERS": "", "ACCESS_LOG": os.environ.get("ACCESS_LOG", "false"),
        "DB_POOL_SIZE": os.environ.get("DB_POOL_SIZE", "20"),
        "DB_MAX_OVERFLOW": os.environ.get("DB_MAX_OVERFLOW", "0")})
    try:
        wait_for(port)
        warm = None
        if warmup:
            # The start phase: empty L1 (and, with --cold, no user in Redis). Reported on its
            # own; the measured phase below is the steady state after it.
            print(f"start phase: {warmup} s of load on an empty L1 ...", flush=True)
            warm_before = bench_stats(port)
            warm_cpu = server_cpu_seconds(server.pid)
            warm_result = run_wrk(port, script, warmup, connections)
            warm = phase_figures(warm_result, warm_before, bench_stats(port),
                                 server_cpu_seconds(server.pid) - warm_cpu)
        # The Zipf tail is read for the first time long after the start phase (each such read a
        # database query and a Redis fill, and the L1's growth brings full garbage collections):
        # read every user once, then let the L1 settle past its TTL under the same load, so
        # the measured phase is the steady state.
        print(f"reading each of the {len(ids):,} users once, then {settle} s of load ...",
              flush=True)
        asyncio.run(read_each_once(port, ids))
        if settle:
            run_wrk(port, script, settle, connections)
        print(f"measured phase: {seconds} s ...", flush=True)
        before = bench_stats(port)
        cpu_before = server_cpu_seconds(server.pid)
        prober, listener = start_probes(seconds)
        result = run_wrk(port, script, seconds, connections)
        wait_probes(prober, listener, seconds)
        cpu_used = server_cpu_seconds(server.pid) - cpu_before
        after = bench_stats(port)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    ceiling = calibrate(script, seconds, connections) if calibrate_ceiling else None
    report(result, before, after, cpu_used, ceiling, warm)
    return 0


def bench_stats(port: int) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{port}/bench/stats", timeout=10).json()


def calibrate(script: Path, seconds: int, connections: int) -> dict[str, Any]:
    """The same load against the bare-ASGI server on the same core, right after: how much of
    this machine's ceiling the cached route reaches while the machine is as busy as it is."""
    port = free_port()
    command = [sys.executable, __file__, "serve", "--raw", "--port", str(port)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command)
    try:
        wait_for(port, path="/")
        cpu_before = server_cpu_seconds(server.pid)
        result = run_wrk(port, script, seconds, connections)
        cpu_used = server_cpu_seconds(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    return {"rps": result["rps"], "requests": result["requests"], "cpu": cpu_used}


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the server process (and the taskset wrapper's child it execs into)."""
    import psutil

    process = psutil.Process(pid)
    times = process.cpu_times()
    return times.user + times.system


def phase_figures(result: dict[str, Any], before: dict[str, Any], after: dict[str, Any],
                  cpu_used: float) -> dict[str, Any]:
    hits = after["cache"]["hits"] - before["cache"]["hits"]
    misses = after["cache"]["misses"] - before["cache"]["misses"]
    l1 = after["cache"]["l1_hits"] - before["cache"]["l1_hits"]
    queries = after["db_queries"] - before["db_queries"]
    return {
        "requests_per_second": result["rps"],
        # What one whole core would serve: requests over the server's own CPU time. The machine
        # is shared; when other work takes core 0, req/s drops but this figure does not.
        "requests_per_server_cpu_second": (round(result["requests"] / cpu_used)
                                           if cpu_used else None),
        "server_cpu_seconds": round(cpu_used, 2),
        "latency_p50": result["p50"],
        "latency_p99": result["p99"],
        "requests": result["requests"],
        "non_2xx": result["non_2xx"],
        "socket_errors": result["socket_errors"],
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        "l1_hit_share": round(l1 / (hits + misses), 4) if hits + misses else None,
        "db_queries_per_1000_requests": round(queries * 1000 / max(result["requests"], 1), 2),
    }


def report(result: dict[str, Any], before: dict[str, Any], after: dict[str, Any],
           cpu_used: float, ceiling: dict[str, Any] | None,
           start_phase: dict[str, Any] | None) -> None:
    figures = {
        "measured_phase": phase_figures(result, before, after, cpu_used),
        "start_phase": start_phase,
        "invalidation_to_other_instance_ms": probe_figures(after["probes"]),
        "bare_asgi_ceiling_now": ceiling and {
            "requests_per_second": ceiling["rps"],
            "requests_per_server_cpu_second": round(ceiling["requests"] / ceiling["cpu"]),
            # CPU cost per request relative to the bare server, both measured under the same
            # contention.
            "cost_ratio_vs_bare": round((ceiling["requests"] / ceiling["cpu"])
                                        / (result["requests"] / cpu_used), 2),
        } if ceiling and ceiling["cpu"] and cpu_used else None,
        "targets": {"requests_per_second": 29_000, "hit_ratio": 0.95,
                    "db_queries_per_1000_requests": 50, "invalidation_p99_ms": 50},
    }
    print(result["raw"])
    print(json.dumps(figures, indent=2))


async def flush_user_entries() -> None:
    from snaproom_gateway.cache.builder import build_cache
    from snaproom_gateway.core.settings import load_settings
    from snaproom_gateway.infra import redis as redis_infra

    settings = load_settings()
    clients = redis_infra.create_clients(settings)
    cache = build_cache(settings, clients)
    try:
        await cache.redis.connect()
        await cache.invalidate_tags(["users"])
    finally:
        await redis_infra.close(clients)


def wait_for(port: int, timeout: float = 60, path: str = "/api/health/live") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("bench server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seconds", type=int, default=20)
    r.add_argument("--connections", type=int, default=64)
    r.add_argument("--warmup", type=int, default=30,
                   help="seconds of the start phase (empty L1), reported apart")
    r.add_argument("--settle", type=int, default=40,
                   help="seconds of load after every user was read once, before the measured "
                        "phase (longer than the 30 s L1 TTL), unreported")
    r.add_argument("--cold", action="store_true",
                   help="invalidate every cached user first (else Redis keeps earlier fills; "
                        "the server's L1 always starts empty)")
    r.add_argument("--no-calibrate", action="store_true",
                   help="skip the bare-ASGI run that measures the machine's ceiling")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=8900)
    s.add_argument("--raw", action="store_true", help="the bare-ASGI ceiling instead")
    p = sub.add_parser("probe")
    p.add_argument("--count", type=int, default=400)
    p.add_argument("--interval", type=float, default=0.04)
    listen = sub.add_parser("listen", help="the bare subscriber that stamps probe arrivals")
    listen.add_argument("--seconds", type=float, default=30)
    sub.add_parser("seed")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.raw)
    elif args.command == "probe":
        sent = asyncio.run(probe_invalidations(args.count, args.interval))
        PROBES_SENT.write_text(json.dumps(sent))
    elif args.command == "listen":
        PROBES_SEEN_BARE.write_text(json.dumps(listen_for_probes(args.seconds)))
    elif args.command == "seed":
        asyncio.run(seed())
    else:
        return run(args.seconds, args.connections, args.warmup, not args.no_calibrate, args.cold,
                   args.settle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
