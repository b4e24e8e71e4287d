"""The publishers of the event benchmarks, run as a process of their own.

In production the events are written by request handlers spread over the gateway instances,
while each instance's relay and consumers run in its own event loop. Publishing 1,000 events/s
from the same process as the relay and the consumer under test would make them share one core
with the load generator, so the benchmarks start this script as a child instead. It writes the
events the product way: `publish()` inside a database transaction (10 per transaction), so the
relay is woken by PostgreSQL NOTIFY as it is for commits of other instances.

    python bench/events_loadgen.py --rate 1000 --seconds 10 --warmup 2 [--stamps FILE]

Warm-up events carry data.phase = "warmup", the measured ones "measure". At the end one JSON
line on stdout: {"measured": <events published in the measured phase>, "rate": <achieved>}.
With --stamps, each measured event's commit time (epoch ms) is written as "<id> <ms>" lines.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import orjson
import uvloop

from snaproom_gateway.core import gc_tuning
from snaproom_gateway.core.settings import load_settings
from snaproom_gateway.events.publisher import publish
from snaproom_gateway.infra import database

PER_TX = 10


async def produce(sessionmaker, rate: int, seconds: float, phase: str,
                  stamps: list[tuple[str, float]] | None) -> int:
    sent = 0
    interval = PER_TX / rate
    next_at = time.perf_counter()
    end = next_at + seconds
    while time.perf_counter() < end:
        ids = []
        async with sessionmaker() as session:
            for _ in range(PER_TX):
                envelope = await publish(session, "user.updated", user_id=sent % 100,
                                         data={"fields": ["bio"], "n": sent, "phase": phase})
                ids.append(envelope.id)
                sent += 1
            await session.commit()
        if stamps is not None:
            at = time.time() * 1000
            stamps.extend((event_id, at) for event_id in ids)
        next_at += interval
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent


async def run(rate: int, seconds: float, warmup: float, keep_stamps: bool
              ) -> tuple[int, float, list[tuple[str, float]]]:
    settings = load_settings()
    engine = database.create_engine(settings)
    sessionmaker = database.create_sessionmaker(engine)
    if settings.gc_freeze:  # as a started gateway instance (gc_tuning.py)
        gc_tuning.freeze_startup_heap()
    stamps: list[tuple[str, float]] = []
    try:
        await produce(sessionmaker, rate, warmup, "warmup", None)
        started = time.perf_counter()
        measured = await produce(sessionmaker, rate, seconds, "measure",
                                 stamps if keep_stamps else None)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return measured, elapsed, stamps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--stamps", default=None, help="file for commit stamps")
    args = parser.parse_args()
    measured, elapsed, stamps = uvloop.run(
        run(args.rate, args.seconds, args.warmup, bool(args.stamps)))
    if args.stamps:
        Path(args.stamps).write_text("".join(f"{event_id} {at:.3f}\n" for event_id, at in stamps))
    print(orjson.dumps({"measured": measured, "rate": round(measured / elapsed)}).decode(),
          flush=True)


if __name__ == "__main__":
    main()
