import pytest

from snaproom_gateway.settings import Settings


@pytest.fixture
def embedded_settings(tmp_path, monkeypatch) -> Settings:
    """Zero-infra settings on a fresh SQLite file, unaffected by the caller's environment."""
    monkeypatch.chdir(tmp_path)
    return Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
                    app_env="testing", redis_sentinels=[], kafka_brokers=[], redis_url=None,
                    redis_host=None, cache_driver=None)
