"""The monitoring profile's files: Prometheus config and alert rules pass promtool (and its rule
tests fire each alert on the series that should raise it), and the dashboard and the rules ask
only for series the gateway exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.metrics import live
from tests.support.apps import running_app

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "monitoring" / "prometheus"
DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana" / "dashboards" / "snaproom-gateway.json"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (deploy/local/stack.py install brings it)")
    return subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=60, check=False)


def test_prometheus_config_and_alert_rules_pass_promtool():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_each_alert_fires_on_the_series_that_should_raise_it():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


async def test_dashboard_and_rules_ask_only_for_series_the_gateway_exports(tmp_path):
    settings = Settings(_env_file=None, app_env="testing",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/m.db")
    async with running_app(settings) as (_app, client):
        text = (await client.get("/metrics")).text
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", text, re.M))
    names = set()
    for name, kind in exported:
        names.add(name)
        if kind == "counter":
            names.add(f"{name}_total")
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    # With several workers the breakers come from these (one process: the BreakerCollector).
    names |= {live.BREAKER_STATE._name, live.BREAKER_CONSECUTIVE._name}
    wanted = set(re.findall(r"\bsnaproom_\w+", DASHBOARD.read_text()))
    wanted |= set(re.findall(r"\bsnaproom_\w+", (PROMETHEUS / "alerts.yml").read_text()))
    wanted.discard("snaproom_gateway")  # the package named in a comment
    assert wanted - names == set()
    for must in ("snaproom_http_request_duration_seconds_bucket", "snaproom_consumer_lag",
                 "snaproom_outbox_oldest_pending_age_seconds", "snaproom_breaker_state",
                 "snaproom_cache_requests_total", "snaproom_events_dead_lettered_total",
                 "snaproom_db_pool_in_use", "snaproom_websockets_open"):
        assert must in wanted, f"the dashboard or the rules miss {must}"
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert all(p["datasource"]["uid"] == "prometheus" for p in panels if p["type"] != "row")
