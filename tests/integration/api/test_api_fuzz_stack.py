"""Schemathesis requests against the gateway on the real PostgreSQL, Redis Sentinel and Kafka
of the harness: never a server error, documented answers only (tests/api_fuzz.py). PostgreSQL
is stricter than SQLite (a NUL in text, integer ranges), so the same requests run here too."""

from __future__ import annotations

import pytest

from snaproom_gateway.core.settings import Settings
from tests.support.api_fuzz import CASE_IDS, CASES, run_case, served

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(stack_env):
    with served(Settings(_env_file=None, app_env="testing",
                         database_url=stack_env["DATABASE_URL"], db_migrate_on_start=True,
                         redis_sentinels=stack_env["REDIS_SENTINELS"],
                         redis_sentinel_master=stack_env["REDIS_SENTINEL_MASTER"],
                         redis_password=stack_env["REDIS_PASSWORD"], cache_driver="redis",
                         kafka_brokers=stack_env["KAFKA_BROKERS"],
                         rate_limit_enabled=False)) as answer:
        yield answer


@pytest.mark.parametrize(("label", "mode"), CASES, ids=CASE_IDS)
def test_any_request_on_the_stack_gets_a_documented_answer_and_never_a_server_error(
        label, mode, gateway):
    run_case(label, mode, gateway)
