"""`docker compose config` accepts compose.yaml (the schema check, offline: no engine needed)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXPECTED_SERVICES = {
    "postgres", "redis-master", "redis-replica",
    "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3",
    "kafka-1", "kafka-2", "kafka-3",
    "migrate", "topics", "gateway", "frontend", "kafka-ui", "redis-commander",
    "prometheus", "grafana",  # profile `monitoring`
}  # fmt: skip


@functools.cache
def find_compose() -> tuple[str, ...]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return (docker, "compose")
    docker_compose = shutil.which("docker-compose")
    return (docker_compose,) if docker_compose else ()


def compose_command() -> list[str]:
    command = find_compose()
    if not command:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)"
        )
    return list(command)


def clean_environment() -> dict[str, str]:
    """The caller's shell may export the stack's variables; the tests must not depend on that."""
    return {
        key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "LC_ALL"}
    }


def run_config(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *compose_command(),
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "compose.yaml"),
            "config",
            *args,
        ],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_config_validates_with_the_example_env():
    result = run_config(ROOT / ".env.example", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_config_lists_every_service():
    result = run_config(ROOT / ".env.example", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == EXPECTED_SERVICES


def test_compose_refuses_to_start_without_the_passwords(tmp_path):
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = run_config(empty_env, "-q")
    assert result.returncode != 0
    assert "is not set; copy .env.example to .env" in result.stderr
