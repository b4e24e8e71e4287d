"""Schemathesis requests against the gateway in its zero-infra mode (SQLite, in-process cache
and bus): never a server error, documented answers only (tests/api_fuzz.py)."""

from __future__ import annotations

import pytest

from snaproom_gateway.core.settings import Settings
from tests.support.api_fuzz import CASE_IDS, CASES, run_case, served


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "gateway.db"
    with served(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{path}",
                         app_env="testing", redis_sentinels=[], kafka_brokers=[],
                         redis_url=None, redis_host=None, cache_driver=None,
                         rate_limit_enabled=False)) as answer:
        yield answer


@pytest.mark.parametrize(("label", "mode"), CASES, ids=CASE_IDS)
def test_any_request_gets_a_documented_answer_and_never_a_server_error(label, mode, gateway):
    run_case(label, mode, gateway)
