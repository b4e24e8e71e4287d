"""Event backbone benchmark on the local stack (not a test): `make bench-events`.

1. Relay throughput: N outbox rows are written first, then one relay publishes them to Kafka
   (acks=all, idempotent producer); events/s = N / time until the last row is marked sent.
2. Publish-to-handler latency: events are published at a steady rate (default 1,000/s, in
   transactions of 10) while the relay and a consumer group (with the processed-events record)
   run; the handler measures now - envelope timestamp. Prints p50/p95/p99. The publishers run
   in a child process (bench/events_loadgen.py), as they run in request handlers of other
   instances in production: in this process they would take the relay's and consumer's CPU.

Needs DATABASE_URL (PostgreSQL) and KAFKA_BROKERS: `eval "$(python3 deploy/local/stack.py env)"`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import uvloop
from sqlalchemy import func, insert, select, text

from snaproom_gateway.core import gc_tuning
from snaproom_gateway.core.settings import load_settings
from snaproom_gateway.events.consumer import KafkaGroupRunner, kafka_dead_letter
from snaproom_gateway.events.dispatch import Dispatcher
from snaproom_gateway.events.kafka_sink import KafkaSink
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.offsets import kafka_group_id
from snaproom_gateway.events.publisher import build_envelope
from snaproom_gateway.events.relay import OutboxRelay
from snaproom_gateway.events.subscribers import Subscribers
from snaproom_gateway.infra import database, migrations
from snaproom_gateway.infra.kafka import KafkaConnection


def _progress(message: str) -> None:
    print(message, flush=True)


async def _pending(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(OutboxEvent)
                                    .where(OutboxEvent.sent_at.is_(None)))


async def relay_throughput(settings, engine, sessionmaker, kafka, count: int) -> float:
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE outbox"))
    _progress(f"writing {count} outbox rows ...")
    rows = []
    for n in range(count):
        envelope = build_envelope("user.updated", user_id=n % 1000,
                                  data={"fields": ["bio"], "n": n})
        rows.append({"event_id": envelope.id, "topic": "user-events", "key": str(n % 1000),
                     "payload": envelope.to_bytes(), "attempts": 0,
                     "created_at": datetime.now(UTC)})
    async with engine.begin() as conn:
        for start in range(0, count, 5000):
            await conn.execute(insert(OutboxEvent), rows[start:start + 5000])
    relay = OutboxRelay(engine, sessionmaker, settings, KafkaSink(kafka, settings))
    await relay.sink.ready()
    _progress(f"relaying (batch {settings.events.outbox_batch_size}) ...")
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    while relay.sent_total < count:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
    elapsed = time.perf_counter() - started
    relay.stop()
    await task
    assert await _pending(sessionmaker) == 0
    return count / elapsed


async def start_relay_and_group(settings, engine, sessionmaker, kafka, group: str,
                                subscribers: Subscribers):
    """The gateway's side of the latency run: a relay and a consumer group on user-events
    running `subscribers`' handlers of `group`, started and assigned. Returns (relay, runner,
    tasks)."""
    relay = OutboxRelay(engine, sessionmaker, settings, KafkaSink(kafka, settings))
    await relay.sink.ready()
    dispatcher = Dispatcher(group, subscribers=subscribers, sessionmaker=sessionmaker,
                            settings=settings,
                            slots=asyncio.Semaphore(settings.handler_concurrency),
                            dead_letter=kafka_dead_letter(kafka, group, 10))
    runner = KafkaGroupRunner(settings, kafka, dispatcher, ["user-events"],
                              kafka_group_id(settings, group), from_latest=True)
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(runner.run())]
    while not runner.assignment:  # noqa: ASYNC110 - polling the consumer's state
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # the fetcher has its positions
    if settings.gc_freeze:  # as the gateway's lifespan does once started (gc_tuning.py)
        gc_tuning.freeze_startup_heap()
    return relay, runner, tasks


async def run_loadgen(rate: int, seconds: float, warmup: float,
                      stamps: str | None = None) -> dict:
    """Run bench/events_loadgen.py as a child process; returns its summary line."""
    args = [sys.executable, str(Path(__file__).with_name("events_loadgen.py")),
            "--rate", str(rate), "--seconds", str(seconds), "--warmup", str(warmup)]
    if stamps:
        args += ["--stamps", stamps]
    before, wall = _children_cpu(), time.perf_counter()
    child = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"load generator failed with exit code {child.returncode}")
    summary = orjson.loads(out.splitlines()[-1])
    # Its share of the machine: it runs beside the relay, the brokers and PostgreSQL.
    summary["loadgen_cpu"] = (_children_cpu() - before) / (time.perf_counter() - wall)
    return summary


def server_cpu_ticks() -> dict[str, int]:
    """CPU ticks (user + system) of the stack's Kafka brokers and PostgreSQL (all backends)."""
    state = Path(os.environ.get("SNAPROOM_STACK_DIR", ".stack"))
    kafka = {int((state / f"kafka-{n}" / "pid").read_text().split()[0]) for n in (1, 2, 3)
             if (state / f"kafka-{n}" / "pid").exists()}
    postmaster = {int((state / "postgres" / "pid").read_text().split()[0])} \
        if (state / "postgres" / "pid").exists() else set()
    ticks = {"kafka": 0, "postgres": 0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        pid, ppid, used = int(stat.parent.name), int(fields[1]), int(fields[11]) + int(fields[12])
        if pid in kafka:
            ticks["kafka"] += used
        elif pid in postmaster or ppid in postmaster:
            ticks["postgres"] += used
    return ticks


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def latency(settings, engine, sessionmaker, kafka, rate: int, seconds: float,
                  warmup: float) -> tuple[list[float], dict]:
    group = f"bench-{int(time.time())}"
    samples: list[float] = []
    async with engine.begin() as conn:
        # The relay run's 100,000 sent rows would be vacuumed during this run: the steady
        # state of an outbox is a few seconds of rows, which autovacuum keeps up with.
        await conn.execute(text("TRUNCATE outbox"))

    subscribers = Subscribers()

    @subscribers.subscriber("user.updated", group=group)
    async def measure(envelope, ctx) -> None:
        if envelope.payload.get("phase") == "measure":
            samples.append((datetime.now(UTC) - envelope.timestamp).total_seconds() * 1000)

    relay, runner, tasks = await start_relay_and_group(settings, engine, sessionmaker, kafka,
                                                       group, subscribers)
    _progress(f"publishing {rate} events/s from a separate process: {warmup:.0f} s warm-up, "
              f"{seconds:.0f} s measured ...")
    cpu, wall, servers = time.process_time(), time.perf_counter(), server_cpu_ticks()
    summary = await run_loadgen(rate, seconds, warmup)
    wall = time.perf_counter() - wall
    summary["cpu"] = (time.process_time() - cpu) / wall
    summary["servers"] = {name: (ticks - servers[name]) / os.sysconf("SC_CLK_TCK") / wall
                          for name, ticks in server_cpu_ticks().items()}
    deadline = time.monotonic() + 30
    while len(samples) < summary["measured"] and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    relay.stop()
    runner.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    gc_tuning.unfreeze()
    _progress(f"handled {len(samples)} of {summary['measured']} measured events")
    return samples, summary


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="rows for the relay run")
    parser.add_argument("--batch", type=int, default=None, help="OUTBOX_BATCH_SIZE override")
    parser.add_argument("--rate", type=int, default=1_000, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency run length")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds published before the measured ones (JIT of the brokers)")
    args = parser.parse_args()
    overrides = {"outbox_batch_size": args.batch} if args.batch else {}
    settings = load_settings(**overrides)
    if settings.database.uses_sqlite or not settings.kafka.configured:
        raise SystemExit("bench-events needs DATABASE_URL (PostgreSQL) and KAFKA_BROKERS; "
                         "run: eval \"$(python3 deploy/local/stack.py env)\"")
    engine = database.create_engine(settings)
    sessionmaker = database.create_sessionmaker(engine)
    kafka = KafkaConnection(settings)
    await kafka.start()
    try:
        await migrations.upgrade(engine)
        if not await kafka.wait_connected(30):
            raise SystemExit(f"kafka not reachable: {kafka.last_error}")
        throughput = await relay_throughput(settings, engine, sessionmaker, kafka, args.events)
        samples, summary = await latency(settings, engine, sessionmaker, kafka, args.rate,
                                         args.seconds, args.warmup)
    finally:
        await kafka.close()
        await engine.dispose()
    print()
    print(f"relay outbox -> kafka : {throughput:,.0f} events/s "
          f"({args.events:,} events, batch {settings.events.outbox_batch_size}, "
          "acks=all, idempotent)")
    if samples:
        print(f"publish -> handler    : p50 {_pct(samples, 50):.1f} ms, "
              f"p95 {_pct(samples, 95):.1f} ms, p99 {_pct(samples, 99):.1f} ms, "
              f"max {max(samples):.1f} ms at {summary['rate']:,} events/s "
              f"({len(samples):,} events)")
        servers = summary["servers"]
        print(f"CPU, % of one core    : relay + consumer {100 * summary['cpu']:.0f}, "
              f"load generator {100 * summary['loadgen_cpu']:.0f}, "
              f"kafka brokers {100 * servers['kafka']:.0f}, "
              f"postgres {100 * servers['postgres']:.0f} (of {os.cpu_count()} cores)")


if __name__ == "__main__":
    uvloop.run(main())  # the loop the gateway serves on
