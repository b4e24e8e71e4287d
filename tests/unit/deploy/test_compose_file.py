"""compose.yaml keeps the full stack the issue describes.

These tests read the file as data (PyYAML resolves the x-* anchors and `<<` merges), so an edit that
drops a broker, a replica, a Sentinel, a healthcheck or a replication setting fails here even where
no Docker engine or docker-compose binary exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_PATH = ROOT / "compose.yaml"
ENV_EXAMPLE_PATH = ROOT / ".env.example"
SENTINEL_SCRIPT_PATH = ROOT / "deploy" / "compose" / "redis-sentinel.sh"
REDIS_SCRIPT_PATH = ROOT / "deploy" / "compose" / "redis-server.sh"
LOCAL_SENTINEL_CONF_PATH = ROOT / "deploy" / "redis" / "sentinel.conf"

SENTINELS = {"redis-sentinel-1": 26379, "redis-sentinel-2": 26380, "redis-sentinel-3": 26381}
BROKERS = {"kafka-1": (1, 9092), "kafka-2": (2, 9093), "kafka-3": (3, 9094)}
INFRASTRUCTURE = {"postgres", "redis-master", "redis-replica", *SENTINELS, *BROKERS}
ONE_SHOTS = {"migrate", "topics"}
MONITORING = {"prometheus", "grafana"}  # the `monitoring` profile
LONG_RUNNING = (INFRASTRUCTURE | {"gateway", "frontend", "kafka-ui", "redis-commander"}
                | MONITORING)
HOST_PORTS = {
    "postgres": {5432: 5432},
    "redis-master": {6379: 6379},
    "redis-replica": {6380: 6380},
    **{name: {port: port} for name, port in SENTINELS.items()},
    **{name: {host_port: 19092} for name, (_, host_port) in BROKERS.items()},
    "gateway": {8000: 8000},
    "frontend": {3000: 3000},
    "kafka-ui": {8080: 8080},
    "redis-commander": {8081: 8081},
    "prometheus": {9090: 9090},
    "grafana": {3001: 3000},
}
REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]*\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_PATH.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment must be a mapping (anchors merge into it)"
    return {key: str(value) for key, value in environment.items()}


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """Host port -> container port, from "[ip:]host:container" strings."""
    mapping = {}
    for entry in service.get("ports", []):
        # Drop the bind address, which is itself a ${...} expression that contains colons.
        parts = re.sub(r"^\$\{[^}]*\}:", "", str(entry)).split(":")
        host, container = parts[-2], parts[-1].split("/")[0]
        mapping[int(host)] = int(container)
    return mapping


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(duration))
    assert match, f"unparsed duration {duration!r}"
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def test_stack_has_exactly_the_expected_services(services):
    assert set(services) == LONG_RUNNING | ONE_SHOTS


def test_no_zookeeper_anywhere_because_kafka_4_runs_kraft_only():
    assert "zookeeper" not in COMPOSE_PATH.read_text().lower()


def test_images_are_the_official_ones_at_supported_versions(services):
    postgres_major = int(
        re.fullmatch(r"postgres:(\d+)(?:[.-].*)?", services["postgres"]["image"]).group(1)
    )
    assert postgres_major >= 15
    for name in ("redis-master", "redis-replica", *SENTINELS):
        assert services[name]["image"] == "redis:7-alpine", name
    for name in BROKERS:
        assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", services[name]["image"]), name
    # kafbat: the maintained successor of provectuslabs/kafka-ui (unmaintained, open CVEs)
    assert services["kafka-ui"]["image"].startswith("kafbat/kafka-ui:v")
    assert "redis-commander" in services["redis-commander"]["image"]


@pytest.mark.parametrize("name", sorted(HOST_PORTS))
def test_host_ports_match_the_guide(services, name):
    assert published_ports(services[name]) == HOST_PORTS[name]


def test_published_ports_bind_to_localhost_unless_overridden(services):
    for name in HOST_PORTS:
        for entry in services[name]["ports"]:
            assert str(entry).startswith("${STACK_BIND_IP:-127.0.0.1}:"), (name, entry)


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_has_a_healthcheck_and_restarts(services, name):
    service = services[name]
    assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert service.get("restart") == "unless-stopped"


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("migrate", ["snaproom-gateway", "migrate"]),
        ("topics", ["snaproom-gateway", "topics", "ensure"]),
    ],
)
def test_one_shot_services_run_the_gateway_cli_once(services, name, command):
    service = services[name]
    assert service["command"] == command
    assert service["restart"] == "no"
    assert service["image"] == services["gateway"]["image"]
    assert service["build"] == services["gateway"]["build"]


def test_migrate_waits_for_postgres_and_topics_for_every_broker(services):
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["topics"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in BROKERS
    }


# --- gateway --------------------------------------------------------------------------------


def test_gateway_waits_for_healthy_dependencies_and_finished_one_shots(services):
    depends_on = services["gateway"]["depends_on"]
    expected = {name: {"condition": "service_healthy"} for name in INFRASTRUCTURE}
    expected |= {name: {"condition": "service_completed_successfully"} for name in ONE_SHOTS}
    assert depends_on == expected


def test_gateway_healthcheck_probes_readiness(services):
    assert "/api/health/ready" in healthcheck_text(services["gateway"])
    assert "127.0.0.1:8000" in healthcheck_text(services["gateway"])


def test_gateway_serves_on_8000_with_workers_from_settings(services):
    gateway = services["gateway"]
    assert gateway["command"] == ["snaproom-gateway", "serve"]
    assert env(gateway)["PORT"] == "8000"
    assert env(gateway)["HOST"] == "0.0.0.0"
    assert "WEB_CONCURRENCY" in env(gateway)


def test_gateway_grace_period_outlasts_the_shutdown_drain(services):
    gateway = services["gateway"]
    assert gateway["stop_signal"] == "SIGTERM"
    shutdown_timeout = float(env(gateway)["SHUTDOWN_TIMEOUT"])
    # Docker sends SIGKILL when stop_grace_period ends; leave room for process exit after the drain.
    assert seconds(gateway["stop_grace_period"]) >= shutdown_timeout + 5


def test_gateway_is_configured_for_every_backend(services):
    settings = env(services["gateway"])
    assert settings["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in settings["DATABASE_URL"]
    assert settings["CACHE_DRIVER"] == "redis"
    assert settings["REDIS_SENTINELS"] == ",".join(
        f"{name}:{port}" for name, port in SENTINELS.items()
    )
    assert settings["REDIS_SENTINEL_MASTER"] == "snaproom-master"
    assert settings["KAFKA_BROKERS"] == ",".join(f"{name}:9092" for name in BROKERS)
    assert settings["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"


# --- Redis and Sentinel -----------------------------------------------------------------------


def test_redis_master_and_replica_require_auth_from_the_password_variable(services):
    script = REDIS_SCRIPT_PATH.read_text()
    assert 'requirepass "%s"' in script and 'masterauth "%s"' in script
    assert "REDIS_PASSWORD" in script
    for name in ("redis-master", "redis-replica"):
        service = services[name]
        assert service["entrypoint"][-1].endswith("/redis-server.sh")
        assert (
            REQUIRED_VARIABLE.match(env(service)["REDIS_PASSWORD"]).group("name")
            == "REDIS_PASSWORD"
        )
        assert "REDISCLI_AUTH" in healthcheck_text(service)


def test_redis_replica_replicates_the_master(services):
    command = services["redis-replica"]["command"]
    index = command.index("--replicaof")
    assert command[index + 1 : index + 3] == ["redis-master", "6379"]
    assert "--replicaof" not in services["redis-master"]["command"]
    # Each node announces its service name, so Sentinel hands out addresses that resolve in the network.
    for name in ("redis-master", "redis-replica"):
        command = services[name]["command"]
        assert command[command.index("--replica-announce-ip") + 1] == name


def test_redis_nodes_listen_on_their_published_ports(services):
    for name in ("redis-master", "redis-replica"):
        command = services[name]["command"]
        port = int(command[command.index("--port") + 1])
        assert published_ports(services[name]) == {port: port}


def test_three_sentinels_share_master_quorum_and_timeouts(services):
    for name, port in SENTINELS.items():
        settings = env(services[name])
        assert settings["SENTINEL_MASTER_NAME"] == "snaproom-master"
        assert settings["SENTINEL_MASTER_HOST"] == "redis-master"
        assert settings["SENTINEL_MASTER_PORT"] == "6379"
        assert settings["SENTINEL_QUORUM"] == "2"
        assert settings["SENTINEL_DOWN_AFTER_MS"] == "5000"
        assert settings["SENTINEL_FAILOVER_TIMEOUT_MS"] == "10000"
        assert settings["SENTINEL_PORT"] == str(port)
        assert settings["SENTINEL_ANNOUNCE_HOST"] == name
        assert REQUIRED_VARIABLE.match(settings["REDIS_PASSWORD"]).group("name") == "REDIS_PASSWORD"
        assert (
            REQUIRED_VARIABLE.match(settings["REDIS_SENTINEL_PASSWORD"]).group("name")
            == "REDIS_SENTINEL_PASSWORD"
        )
        assert services[name]["entrypoint"][-1].endswith("/redis-sentinel.sh")
        assert "ckquorum" in healthcheck_text(services[name])


def test_quorum_is_a_majority_of_the_sentinels(services):
    quorum = int(env(services["redis-sentinel-1"])["SENTINEL_QUORUM"])
    assert len(SENTINELS) // 2 < quorum <= len(SENTINELS)


def test_sentinel_script_writes_every_setting_from_its_variable():
    script = SENTINEL_SCRIPT_PATH.read_text()
    expected_lines = [
        "port ${SENTINEL_PORT}",
        "sentinel monitor ${SENTINEL_MASTER_NAME} ${SENTINEL_MASTER_HOST} ${SENTINEL_MASTER_PORT} ${SENTINEL_QUORUM}",
        'sentinel auth-pass ${SENTINEL_MASTER_NAME} "${REDIS_PASSWORD}"',
        "sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${SENTINEL_DOWN_AFTER_MS}",
        "sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${SENTINEL_FAILOVER_TIMEOUT_MS}",
        'requirepass "${REDIS_SENTINEL_PASSWORD}"',
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
    ]
    lines = {line.strip() for line in script.splitlines()}
    for line in expected_lines:
        assert line in lines, line


def test_sentinel_settings_match_the_local_launcher_config(services):
    """deploy/redis/sentinel.conf (the no-Docker stack) must monitor the same master with the same quorum."""
    if not LOCAL_SENTINEL_CONF_PATH.exists():
        pytest.skip(
            "deploy/redis/sentinel.conf (the local launcher's template) is not in this tree"
        )
    monitor = re.search(
        r"^\s*sentinel\s+monitor\s+(\S+)\s+\S+\s+\S+\s+(\S+)",
        LOCAL_SENTINEL_CONF_PATH.read_text(),
        re.MULTILINE,
    )
    assert monitor, "no `sentinel monitor` line in deploy/redis/sentinel.conf"
    settings = env(services["redis-sentinel-1"])
    assert monitor.group(1) == settings["SENTINEL_MASTER_NAME"]
    if monitor.group(2).isdigit():  # a template placeholder cannot be compared
        assert monitor.group(2) == settings["SENTINEL_QUORUM"]


def test_redis_commander_goes_through_the_sentinels_behind_basic_auth(services):
    settings = env(services["redis-commander"])
    assert settings["SENTINELS"] == env(services["gateway"])["REDIS_SENTINELS"]
    assert settings["SENTINEL_NAME"] == "snaproom-master"
    assert REQUIRED_VARIABLE.match(settings["HTTP_PASSWORD"])
    assert settings["HTTP_USER"]


# --- Kafka ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BROKERS))
def test_each_broker_runs_kraft_with_the_cluster_replication_settings(services, name):
    settings = env(services[name])
    assert set(settings["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert settings["KAFKA_NODE_ID"] == str(BROKERS[name][0])
    assert settings["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert settings["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert settings["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert settings["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert settings["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
    assert settings["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert settings["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert not any("ZOOKEEPER" in key for key in settings)
    assert "kafka-broker-api-versions" in healthcheck_text(services[name])


def test_brokers_form_one_quorum_of_three_voters(services):
    voters = {env(services[name])["KAFKA_CONTROLLER_QUORUM_VOTERS"] for name in BROKERS}
    assert voters == {",".join(f"{node_id}@{name}:9093" for name, (node_id, _) in BROKERS.items())}
    cluster_ids = {env(services[name])["CLUSTER_ID"] for name in BROKERS}
    assert len(cluster_ids) == 1
    node_ids = [env(services[name])["KAFKA_NODE_ID"] for name in BROKERS]
    assert len(set(node_ids)) == len(BROKERS)


def test_min_insync_replicas_tolerates_one_broker_down(services):
    settings = env(services["kafka-1"])
    replication, min_isr = (
        int(settings["KAFKA_DEFAULT_REPLICATION_FACTOR"]),
        int(settings["KAFKA_MIN_INSYNC_REPLICAS"]),
    )
    assert replication <= len(BROKERS)
    assert 1 < min_isr < replication


@pytest.mark.parametrize("name", sorted(BROKERS))
def test_broker_listeners_serve_the_network_and_the_host(services, name):
    settings = env(services[name])
    _, host_port = BROKERS[name]
    listeners = dict(item.split("://") for item in settings["KAFKA_LISTENERS"].split(","))
    advertised = dict(
        item.split("://") for item in settings["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    assert advertised["INTERNAL"] == f"{name}:9092"
    assert advertised["EXTERNAL"] == f"localhost:{host_port}"
    assert "CONTROLLER" not in advertised
    external_container_port = int(listeners["EXTERNAL"].rsplit(":", 1)[1])
    assert published_ports(services[name]) == {host_port: external_container_port}
    protocol_map = dict(
        item.split(":") for item in settings["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(protocol_map) == set(listeners)
    assert settings["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners


def test_kafka_ui_sees_all_brokers_behind_a_login_form(services):
    settings = env(services["kafka-ui"])
    assert (
        settings["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == env(services["gateway"])["KAFKA_BROKERS"]
    )
    assert settings["AUTH_TYPE"] == "LOGIN_FORM"
    assert settings["SPRING_SECURITY_USER_NAME"]
    assert REQUIRED_VARIABLE.match(settings["SPRING_SECURITY_USER_PASSWORD"])


# --- secrets and .env.example ---------------------------------------------------------------


def test_every_secret_is_a_required_variable_without_a_default(services):
    for name, service in services.items():
        for key, value in env(service).items():
            if re.search(r"PASSWORD|SECRET", key):
                assert REQUIRED_VARIABLE.match(value), (
                    f"{name}.{key} must be ${{VAR:?message}}, got {value!r}"
                )
    database_url = env(services["gateway"])["DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in database_url


def test_gateway_needs_a_cache_encryption_key_and_accepts_a_previous_one(services):
    gateway = env(services["gateway"])
    assert REQUIRED_VARIABLE.match(gateway["CACHE_ENCRYPTION_KEY"])
    assert gateway["CACHE_ENCRYPTION_KEY_PREVIOUS"] == "${CACHE_ENCRYPTION_KEY_PREVIOUS:-}"


def test_env_example_defines_every_variable_compose_reads():
    referenced = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_PATH.read_text().split("\n# ----")[0]))
    defined = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE_PATH.read_text().splitlines()
        if re.match(r"^[A-Z0-9_]+=", line)
    }
    assert referenced - defined == set()


def test_production_profile_shows_the_kafka_sasl_ssl_settings_the_gateway_reads():
    text = COMPOSE_PATH.read_text()
    commented = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for setting in (
        "KAFKA_SECURITY_PROTOCOL: SASL_SSL",
        "KAFKA_SASL_MECHANISM:",
        "KAFKA_SASL_USERNAME:",
        "KAFKA_SASL_PASSWORD:",
        "KAFKA_SSL_CAFILE:",
    ):
        assert setting in commented, setting
