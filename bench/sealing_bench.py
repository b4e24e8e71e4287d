"""What encryption at rest costs on the signed-in path: seal/open per value, and a Redis read.

    .venv/bin/python bench/sealing_bench.py                 # seal/open only, no servers
    .venv/bin/python bench/sealing_bench.py --redis         # also RedisStore.get on the local
                                                            # stack (deploy/local/stack.py env)

A signed-in request opens at most one value per Redis hit (the session entry; the profile for a
profile read); an L1 hit opens nothing, the L1 keeps plain bytes. Writes seal once per fill.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from snaproom_gateway.cache.sealing import Sealer  # noqa: E402

SESSION = orjson.dumps({"user_id": 123456, "expires_at": 1767225600.0,
                        "email": "someone.with.a.long.name@example.com",
                        "username": "someone_long_name", "role": "user",
                        "display_name": "Someone With A Long Name"})
PROFILE = orjson.dumps({"id": 123456, "username": "someone_long_name",
                        "display_name": "Someone With A Long Name", "first_name": "Someone",
                        "last_name": "Long-Name", "bio": "x" * 180,
                        "avatar_url": "https://cdn.example.com/avatars/123456.png",
                        "status": "active", "created_at": "2026-01-15T10:30:00Z"})
MESSAGE = orjson.dumps({"id": 987654321, "sender_id": 123456, "receiver_id": 654321,
                        "text": "y" * 160, "created_at": "2026-01-15T10:30:00Z"})
VALUES = {"session entry": SESSION, "public profile": PROFILE, "recent message": MESSAGE,
          "4 KiB answer": b"z" * 4096}


def per_call_us(fn, rounds: int) -> float:
    """Best of 7 batches, in microseconds per call: on a shared machine the least disturbed
    batch is the closest to the cost itself."""
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return min(runs)


def micro(rounds: int) -> None:
    sealer = Sealer(os.urandom(32), previous=os.urandom(32))
    key = "snaproom:v1:session:" + "ab" * 32
    print(f"{'value':<16}{'bytes':>7}{'seal µs':>10}{'open µs':>10}{'sealed bytes':>14}")
    for name, value in VALUES.items():
        sealed = sealer.seal(value, key)
        seal = per_call_us(lambda v=value: sealer.seal(v, key), rounds)
        open_ = per_call_us(lambda s=sealed: sealer.open(s, key), rounds)
        print(f"{name:<16}{len(value):>7}{seal:>10.2f}{open_:>10.2f}{len(sealed):>14}")


def stack_env() -> dict[str, str]:
    env = subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), "env"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in env.splitlines()
                if "=" in line)


async def redis_round_trips(rounds: int, values: dict[str, str]) -> None:
    from snaproom_gateway.cache.redis_store import RedisStore
    from snaproom_gateway.core.settings import Settings
    from snaproom_gateway.infra import redis as redis_infra

    settings = Settings(_env_file=None, app_env="testing", cache_driver="redis",
                        redis_sentinels=values["REDIS_SENTINELS"].strip("'\""),
                        redis_password=values["REDIS_PASSWORD"].strip("'\""),
                        redis_sentinel_master=values["REDIS_SENTINEL_MASTER"].strip("'\""))
    clients = redis_infra.create_clients(settings)
    try:
        print(f"\nRedisStore.get of the session entry, {rounds} sequential reads per batch, "
              "plain and sealed batches alternating (best and median of 9 each):")
        stores = {}
        for label, sealer in (("plain", None), ("sealed", Sealer(os.urandom(32)))):
            stores[label] = RedisStore(clients.master, op_timeout=2.0, cooldown=0.5,
                                       sealer=sealer)
            await stores[label].set(f"snaproom:v1:bench:sealing:{label}", SESSION, 60,
                                    ["bench:sealing"])
        runs: dict[str, list[float]] = {label: [] for label in stores}
        for _ in range(9):
            for label, store in stores.items():
                key = f"snaproom:v1:bench:sealing:{label}"
                started = time.perf_counter()
                for _ in range(rounds):
                    assert await store.get(key) is not None
                runs[label].append((time.perf_counter() - started) / rounds * 1e6)
        for label, times in runs.items():
            print(f"  {label:<7}best {min(times):7.1f} µs   median {statistics.median(times):7.1f}"
                  " µs per read")
            await stores[label].delete(f"snaproom:v1:bench:sealing:{label}")
    finally:
        await redis_infra.close(clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--redis", action="store_true", help="also time reads on the local stack")
    args = parser.parse_args()
    micro(args.rounds)
    if args.redis:
        asyncio.run(redis_round_trips(max(1, args.rounds // 10), stack_env()))


if __name__ == "__main__":
    main()
