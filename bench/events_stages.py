"""Where publish-to-handler latency goes (diagnosis, not a test): `make bench-events-stages`.

Runs the latency part of events_bench (publishers in a child process; relay, consumer group
with the processed-events record and one handler in this one) and timestamps every event at
each stage by wrapping the product's stage functions from outside:

  build    envelope built (its `timestamp`)
  commit   the publisher's transaction committed
  claim    the relay's claim returned the row (relay pick-up)
  acked    the relay's sink.send returned (every row of the round acknowledged, acks=all)
  marked   the round's rows marked sent (transaction committed; in the background of the next
           round on PostgreSQL)
  fetched  the consumer's getmany() returned the message
  handler  the handler ran (inside the processed-events transaction)

Prints p50/p99 of each stage-to-stage gap, plus per-round relay and consumer figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer
from events_bench import (  # the sibling script: bench/ is on sys.path
    run_loadgen,
    server_cpu_ticks,
    start_relay_and_group,
)
from sqlalchemy import text

from snaproom_gateway.core.settings import load_settings
from snaproom_gateway.events import outbox
from snaproom_gateway.events.consumer import KafkaGroupRunner
from snaproom_gateway.events.dispatch import Dispatcher
from snaproom_gateway.events.kafka_sink import KafkaSink
from snaproom_gateway.events.relay import OutboxRelay
from snaproom_gateway.events.subscribers import Subscribers
from snaproom_gateway.infra import database, migrations
from snaproom_gateway.infra.kafka import KafkaConnection

STAGES = ["build", "commit", "claim", "acked", "marked", "fetched", "handler"]
stamps: dict[str, dict[str, float]] = defaultdict(dict)
rounds: dict[str, list[float]] = defaultdict(list)


def now_ms() -> float:
    return time.time() * 1000


def _probe_rows(owner, name: str, stage: str, timing: str, rows_of,
                count: str | None = None) -> None:
    """Wrap the coroutine `owner.name`: time it into rounds[timing] (and its row count into
    rounds[count]) and stamp `stage` on every outbox row it handled (rows_of(args, result))."""
    original = getattr(owner, name)

    async def timed(*args, **kwargs):
        started = now_ms()
        result = await original(*args, **kwargs)
        at = now_ms()
        rows = rows_of(args, result)
        if rows:
            rounds[timing].append(at - started)
            if count:
                rounds[count].append(len(rows))
        for row in rows:
            stamps[row.event_id][stage] = at
        return result

    setattr(owner, name, timed)


def install_probes() -> None:
    _probe_rows(outbox, "claim", "claim", "claim_ms", lambda args, rows: rows, "claim_rows")
    _probe_rows(KafkaSink, "send", "acked", "send_ms", lambda args, _: args[1])
    _probe_rows(OutboxRelay, "_mark_and_commit", "marked", "mark_ms", lambda args, _: args[2])

    getmany = AIOKafkaConsumer.getmany

    async def timed_getmany(self, *partitions, timeout_ms=0, max_records=None):
        batches = await getmany(self, *partitions, timeout_ms=timeout_ms,
                                max_records=max_records)
        at = now_ms()
        count = 0
        for records in batches.values():
            for record in records:
                count += 1
                event_id = orjson.loads(record.value)["id"]
                stamps[event_id]["fetched"] = at
        if count:
            rounds["fetch_records"].append(count)
        return batches

    AIOKafkaConsumer.getmany = timed_getmany

    handle_batch = Dispatcher.handle_batch

    async def timed_handle_batch(self, deliveries):
        started = now_ms()
        await handle_batch(self, deliveries)
        rounds["dispatch_ms"].append(now_ms() - started)

    Dispatcher.handle_batch = timed_handle_batch

    commit = KafkaGroupRunner._commit

    async def timed_commit(self, consumer, offsets):
        started = now_ms()
        await commit(self, consumer, offsets)
        rounds["offset_commit_ms"].append(now_ms() - started)

    KafkaGroupRunner._commit = timed_commit


async def run(rate: int, seconds: float) -> None:
    settings = load_settings()
    engine = database.create_engine(settings)
    sessionmaker = database.create_sessionmaker(engine)
    kafka = KafkaConnection(settings)
    await kafka.start()
    await migrations.upgrade(engine)
    async with engine.begin() as conn:  # no backlog left by an earlier run
        await conn.execute(text("TRUNCATE outbox"))
    if not await kafka.wait_connected(30):
        raise SystemExit(f"kafka not reachable: {kafka.last_error}")
    group = f"stages-{int(time.time())}"
    measuring = {"on": False}

    subscribers = Subscribers()

    @subscribers.subscriber("user.updated", group=group)
    async def measure(envelope, ctx) -> None:
        if measuring["on"] and envelope.payload.get("phase") == "measure":
            s = stamps[envelope.id]
            s["build"] = envelope.timestamp.timestamp() * 1000
            s["handler"] = now_ms()

    install_probes()
    relay, runner, tasks = await start_relay_and_group(settings, engine, sessionmaker, kafka,
                                                       group, subscribers)
    measuring["on"] = True
    print(f"publishing {rate} events/s from a separate process (2 s warm-up, "
          f"{seconds:.0f} s measured) ...", flush=True)
    cpu, wall, servers = time.process_time(), time.perf_counter(), server_cpu_ticks()
    with tempfile.NamedTemporaryFile("r", suffix=".stamps") as stamp_file:
        summary = await run_loadgen(rate, seconds, 2.0, stamp_file.name)
        commits = [line.split() for line in stamp_file.read().splitlines()]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    used = {name: (ticks - servers[name]) / os.sysconf("SC_CLK_TCK") / wall
            for name, ticks in server_cpu_ticks().items()}
    print(f"CPU while publishing (% of one core): relay + consumer process {100 * cpu / wall:.0f}, "
          f"load generator {100 * summary['loadgen_cpu']:.0f}, "
          f"kafka brokers {100 * used['kafka']:.0f}, postgres {100 * used['postgres']:.0f} "
          f"(includes the load generator's backend); achieved {summary['rate']} events/s",
          flush=True)
    sent_ids = [event_id for event_id, _ in commits]
    for event_id, at in commits:
        stamps[event_id]["commit"] = float(at)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and \
            sum("handler" in stamps[i] for i in sent_ids) < len(sent_ids):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    relay.stop()
    runner.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await kafka.close()
    await engine.dispose()
    report(sent_ids, rate)


def _pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def report(ids: list[str], rate: int) -> None:
    complete = [stamps[i] for i in ids if all(k in stamps[i] for k in STAGES)]
    print(f"\n{len(complete)} of {len(ids)} events with every stage at {rate}/s")
    print(f"{'stage gap':<22}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
    for a, b in zip(STAGES, STAGES[1:], strict=False):
        gaps = [s[b] - s[a] for s in complete]
        print(f"{a + ' -> ' + b:<22}{_pct(gaps, 50):>9.1f}{_pct(gaps, 90):>9.1f}"
              f"{_pct(gaps, 99):>9.1f}")
    total = [s["handler"] - s["build"] for s in complete]
    print(f"{'build -> handler':<22}{_pct(total, 50):>9.1f}{_pct(total, 90):>9.1f}"
          f"{_pct(total, 99):>9.1f}")
    print(f"\n{'per round':<22}{'count':>7}{'p50':>9}{'p90':>9}{'p99':>9}")
    for name, values in rounds.items():
        print(f"{name:<22}{len(values):>7}{_pct(values, 50):>9.1f}{_pct(values, 90):>9.1f}"
              f"{_pct(values, 99):>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"started {datetime.now(UTC).isoformat()}")
    uvloop.run(run(args.rate, args.seconds))  # the loop the gateway serves on


if __name__ == "__main__":
    main()
