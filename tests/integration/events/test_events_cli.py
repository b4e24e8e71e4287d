"""The event commands run as a user runs them: `snaproom-gateway consume|replay|offsets|topics`
in a subprocess against the real Kafka and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.publisher import publish
from tests.support.apps import running_app
from tests.support.events_support import (
    REPO,
    cli,
    cli_env,
    effects,
    group_at_end,
    wait_for,
)

pytestmark = pytest.mark.integration


async def _publish_and_relay(settings, count: int) -> list[str]:
    """Profile views (analytics-events: a topic the benchmark leaves alone, so short)."""
    settings.events.consumers_enabled = False
    ids = []
    async with running_app(settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            for n in range(count):
                envelope = await publish(session, "profile.viewed", user_id=3_000 + n % 3,
                                         data={"viewer_id": 3_000 + n % 3,
                                               "profile_user_id": 9, "n": n})
                ids.append(envelope.id)
            await session.commit()

        async def drained():
            async with app.state.runtime.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(OutboxEvent)
                                            .where(OutboxEvent.sent_at.is_(None))) == 0
        await wait_for(drained, 60)
    return ids


def _printed_ids(stdout: str) -> list[str]:
    return [orjson.loads(line)["id"] for line in stdout.splitlines() if line.startswith("{")]


async def test_consume_with_timeout_prints_each_event_once_and_exits_when_idle(clean_db,
                                                                              stack_env):
    group = f"cli-{uuid.uuid4().hex[:8]}"
    await group_at_end(clean_db, group, ["analytics-events", "notification-events"])
    ids = await _publish_and_relay(clean_db, 12)
    first = cli(stack_env, "consume", "analytics-events", "notification-events", "--group",
                group, "--timeout", "3000")
    assert first.returncode == 0, first.stderr
    printed = _printed_ids(first.stdout)
    assert sorted(i for i in printed if i in ids) == sorted(ids)
    assert f"snaproom-gateway.{group}" in first.stderr and "stopped:" in first.stderr
    # Offsets were committed: the same group sees nothing again.
    again = cli(stack_env, "consume", "analytics-events", "--group", group, "--timeout", "2000")
    assert again.returncode == 0, again.stderr
    assert not set(_printed_ids(again.stdout)) & set(ids)
    shown = cli(stack_env, "offsets", "show", "--group", group, "--topic", "analytics-events",
                "--json")
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["lag"] == 0


async def test_replay_from_the_beginning_reruns_the_groups_handlers(clean_db, stack_env):
    settings = clean_db
    group = f"it-replay-{uuid.uuid4().hex[:8]}"
    await group_at_end(settings, group, ["analytics-events"])
    ids = await _publish_and_relay(settings, 9)
    env = {"EVENTS_HANDLER_MODULES": "tests.support.event_handlers_fixture", "IT_EFFECT_GROUP": group,
           "IT_EFFECT_PATTERN": "profile.viewed"}
    first = cli(stack_env, "consume", "analytics-events", "--group", group, "--timeout", "3000",
                **env)
    assert first.returncode == 0, first.stderr
    once = await effects(settings, group, ids)
    assert sorted(e[0] for e in once) == sorted(ids)  # one effect each

    replayed = cli(stack_env, "replay", "--topic", "analytics-events", "--group", group,
                   "--from-beginning", **env)
    assert replayed.returncode == 0, replayed.stderr
    assert "offsets reset to earliest" in replayed.stderr
    twice = await effects(settings, group, ids)
    assert sorted(e[0] for e in twice) == sorted(ids * 2)  # handlers ran again for each

    skipping = cli(stack_env, "replay", "--topic", "analytics-events", "--group", group,
                   "--from-beginning", "--skip-handled", **env)
    assert skipping.returncode == 0, skipping.stderr
    still = await effects(settings, group, ids)
    assert len(still) == len(ids) * 2  # already-handled events had no further effect


def test_consume_exits_cleanly_on_sigterm(clean_db, stack_env):
    group = f"cli-term-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "snaproom_gateway", "consume", "user-events", "--group", group],
        cwd=REPO, env=cli_env(stack_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "Ctrl-C stops" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "Ctrl-C stops" in seen
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped:" in err


def test_replay_needs_a_starting_point(stack_env):
    result = cli(stack_env, "replay", "--topic", "user-events", "--group", "x")
    assert result.returncode == 2
    assert "--from-beginning" in result.stderr


def test_topics_ensure_and_list_show_partitions_replicas_and_isr(stack_env):
    ensured = cli(stack_env, "topics", "ensure")
    assert ensured.returncode == 0, ensured.stderr
    assert "user-events " in ensured.stdout
    listed = cli(stack_env, "topics", "list", "--json")
    topics = {t["topic"]: t for t in orjson.loads(listed.stdout)}
    assert len(topics["user-events"]["partitions"]) == 6
    assert all(sorted(p["isr"]) == [1, 2, 3] for p in topics["user-events"]["partitions"])


def test_consume_without_kafka_says_so_in_one_line():
    result = subprocess.run([sys.executable, "-m", "snaproom_gateway", "consume", "user-events",
                             "--timeout", "100"], cwd=REPO, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KAFKA_BROKERS": "",
                                 "PYTHONPATH": str(REPO)}, timeout=60)
    assert result.returncode == 1
    assert "KAFKA_BROKERS is not set" in result.stderr
