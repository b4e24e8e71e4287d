"""Tests of the real-service harness itself (stdlib + the servers' own client binaries only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from tests.support.servers import stack_mod

pytestmark = pytest.mark.integration


def _psql(stack, sql: str, password: str = stack_mod.PG_PASSWORD) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(stack.ports["postgres"]), "-U", "snaproom", "-d", "snaproom",
         "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        env=env, capture_output=True, text=True, timeout=30)


def _redis_cli(port: int, *args: str, password: str | None = "redis_secret") -> str:
    cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
    if password:
        cmd += ["-a", password, "--no-auth-warning"]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _info(port: int) -> dict[str, str]:
    out = {}
    for line in _redis_cli(port, "INFO", "replication").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def _sentinel_master(port: int) -> dict[str, str]:
    lines = _redis_cli(port, "SENTINEL", "master", "snaproom-master", password=None).splitlines()
    return dict(zip(lines[::2], lines[1::2], strict=False))


def test_env_points_at_the_stack(stack, stack_env):
    p = stack.ports
    assert stack_env["DATABASE_URL"] == (
        f"postgresql+asyncpg://snaproom:snaproom_secret@127.0.0.1:{p['postgres']}/snaproom")
    assert stack_env["REDIS_SENTINELS"].split(",") == [f"127.0.0.1:{p[s]}" for s in stack_mod.SENTINELS]
    assert stack_env["KAFKA_BROKERS"].split(",") == [f"127.0.0.1:{p[k]}" for k in stack_mod.KAFKAS]
    assert stack_env["REDIS_SENTINEL_MASTER"] == "snaproom-master"
    assert p["postgres"] == 55432 + stack.port_offset


def test_postgres_password_login(stack):
    r = _psql(stack, "select current_user || ' ' || current_database(), current_setting('fsync')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "snaproom snaproom|off"
    r = _psql(stack, "create temp table t(x int); insert into t values (41); select x + 1 from t")
    assert r.stdout.strip().splitlines()[-1] == "42", r.stdout + r.stderr


def test_postgres_rejects_a_wrong_password(stack):
    r = _psql(stack, "select 1", password="not-the-password")
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr


def test_redis_requires_the_password(stack):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(stack.ports["redis-master"]), "PING"],
                         capture_output=True, text=True, timeout=10).stdout
    assert "NOAUTH" in out


def test_redis_master_and_replica(stack):
    master_port = stack.redis_master_port()
    assert master_port in (stack.ports["redis-master"], stack.ports["redis-replica"])
    replica_port = next(stack.ports[n] for n in stack_mod.REDIS_NODES if stack.ports[n] != master_port)
    m, r = _info(master_port), _info(replica_port)
    assert m["role"] == "master"
    assert m["connected_slaves"] == "1"
    assert r["role"] == "slave"
    assert r["master_port"] == str(master_port)
    assert r["master_link_status"] == "up"
    key = f"harness:{time.time_ns()}"
    _redis_cli(master_port, "SET", key, "v", "EX", "60")
    _redis_cli(master_port, "WAIT", "1", "2000")
    assert _redis_cli(replica_port, "GET", key).strip() == "v"
    assert "READONLY" in _redis_cli(replica_port, "SET", key, "w")


def test_sentinels_agree_on_the_master(stack):
    answers = set()
    for s in stack_mod.SENTINELS:
        port = stack.ports[s]
        addr = _redis_cli(port, "SENTINEL", "get-master-addr-by-name", "snaproom-master", password=None).split()
        answers.add(tuple(addr))
        m = _sentinel_master(port)
        assert m["flags"] == "master", (s, m)
        assert m["num-slaves"] == "1", (s, m)
        assert m["num-other-sentinels"] == "2", (s, m)
        assert m["quorum"] == "2"
        assert m["down-after-milliseconds"] == "2000"
    assert answers == {("127.0.0.1", str(stack.redis_master_port()))}


def test_three_kafka_brokers(stack):
    if shutil.which("kcat"):
        for k in stack_mod.KAFKAS:
            r = subprocess.run(["kcat", "-b", f"127.0.0.1:{stack.ports[k]}", "-L", "-J", "-m", "10"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            md = json.loads(r.stdout)
            assert sorted((b["id"], b["name"]) for b in md["brokers"]) == [
                (i + 1, f"127.0.0.1:{stack.ports[n]}") for i, n in enumerate(stack_mod.KAFKAS)]
    md = stack_mod.kafka_metadata(stack.ports["kafka-1"])
    assert [b[0] for b in md["brokers"]] == [1, 2, 3]
    assert md["cluster_id"] and len(md["cluster_id"]) == 22
    assert md["controller_id"] in (1, 2, 3)
    for k in ("kafka-2", "kafka-3"):
        assert stack_mod.kafka_metadata(stack.ports[k])["cluster_id"] == md["cluster_id"]


@pytest.mark.faults
def test_redis_failover_and_old_master_rejoins_as_replica(stack):
    old_port = stack.redis_master_port()
    old = stack.redis_node_for_port(old_port)
    stack.kill(old)
    deadline = time.monotonic() + 40
    new_port = old_port
    while time.monotonic() < deadline:
        new_port = stack.redis_master_port()
        if new_port != old_port:
            break
        time.sleep(0.5)
    assert new_port != old_port, "Sentinels did not fail over within 40 s"
    assert _info(new_port)["role"] == "master"
    stack.start(old)  # comes back as a replica of the new master
    info = _info(old_port)
    assert info["role"] == "slave" and info["master_port"] == str(new_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ms = [_sentinel_master(stack.ports[s]) for s in stack_mod.SENTINELS]
        if all(m["ip"] == "127.0.0.1" and m["port"] == str(new_port) and m["num-slaves"] == "1"
               and m["flags"] == "master" for m in ms):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"Sentinels do not agree after the failover: {ms}")
    assert _info(new_port)["connected_slaves"] == "1"
