import pytest

from snaproom_gateway.core.settings import Settings

# The real-service fixtures, all in one place: `stack` and `stack_env` (the whole harness,
# tests/support/servers.py) and `domain_stack_env` (PostgreSQL, Redis and the Sentinels only,
# tests/support/domain_stack.py). Imported, not listed in `pytest_plugins`, which pytest accepts
# only in the rootdir's conftest.
from tests.support.domain_stack import domain_stack_env  # noqa: F401
from tests.support.servers import stack, stack_env  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that stop or kill servers last, so a slow recovery cannot disturb the rest."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)


@pytest.fixture
def embedded_settings(tmp_path, monkeypatch) -> Settings:
    """Zero-infra settings on a fresh SQLite file, unaffected by the caller's environment."""
    monkeypatch.chdir(tmp_path)
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
                    app_env="testing", redis_sentinels=[], kafka_brokers=[], redis_url=None,
                    redis_host=None, cache_driver=None)


@pytest.fixture
def stack_settings(stack_env: dict[str, str]) -> Settings:  # noqa: F811 - a fixture named as its parameter
    """Settings pointing at the real PostgreSQL, Redis Sentinel and Kafka of the harness."""
    return Settings(
        _env_file=None,
        app_env="testing",
        database_url=stack_env["DATABASE_URL"],
        db_migrate_on_start=True,
        redis_sentinels=stack_env["REDIS_SENTINELS"],
        redis_sentinel_master=stack_env["REDIS_SENTINEL_MASTER"],
        redis_password=stack_env["REDIS_PASSWORD"],
        cache_driver="redis",
        kafka_brokers=stack_env["KAFKA_BROKERS"],
    )
