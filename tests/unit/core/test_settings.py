import subprocess
import sys

import pytest

from snaproom_gateway.core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DATABASE_URL", "REDIS_SENTINELS", "REDIS_HOST", "REDIS_URL", "REDIS_PORT",
                 "KAFKA_BROKERS", "CACHE_DRIVER", "APP_ENV", "SECRET_KEY", "CACHE_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_no_environment_means_embedded_backends():
    settings = load_settings()
    assert settings.database.uses_sqlite
    assert settings.effective_cache_driver == "memory"
    assert not settings.redis_configured
    assert not settings.kafka.configured
    assert settings.database.should_migrate_on_start


def test_environment_switches_to_the_full_stack(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/snaproom")
    monkeypatch.setenv("REDIS_SENTINELS", "s1:26379, s2:26379,s3:26379")
    monkeypatch.setenv("KAFKA_BROKERS", "kafka-1:9092,kafka-2:9092,kafka-3:9092")
    settings = load_settings()
    assert settings.database.url == "postgresql+asyncpg://u:p@db:5432/snaproom"
    assert settings.redis.sentinels == ["s1:26379", "s2:26379", "s3:26379"]
    assert settings.effective_cache_driver == "redis"
    assert settings.kafka.brokers == ["kafka-1:9092", "kafka-2:9092", "kafka-3:9092"]
    assert not settings.database.should_migrate_on_start


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("REDIS_PORT", "abc", "invalid setting REDIS_PORT: Input should be a valid integer"),
        ("CACHE_DRIVER", "memcached", "invalid setting CACHE_DRIVER: Input should be 'memory'"),
        ("DATABASE_URL", "mysql://x/y", "invalid setting DATABASE_URL: must start with"),
        ("DATABASE_URL", "postgresql+asyncpg://u@h:port/db",
         "invalid setting DATABASE_URL: has a bad"),
        ("KAFKA_BROKERS", "kafka-1:9092,kafka-2", "invalid setting KAFKA_BROKERS: 'kafka-2'"),
        ("REDIS_SENTINELS", "s1:99999", "invalid setting REDIS_SENTINELS: 's1:99999' has no"),
        ("REDIS_URL", "http://x", "invalid setting REDIS_URL: must start with redis://"),
    ],
)
def test_bad_value_names_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_error_does_not_print_the_database_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://snap:hunter2@db:x/snaproom")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "snap:***@db" in str(caught.value)


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault")
    monkeypatch.setenv("CACHE_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    assert load_settings().app_env == "production"


@pytest.mark.parametrize("command", [["migrate"], ["serve"]])
def test_cli_prints_one_line_and_exits_2_on_bad_setting(tmp_path, command):
    env = {"PATH": "/usr/bin:/bin", "REDIS_PORT": "not-a-port", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "snaproom_gateway", *command], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "snaproom-gateway: invalid setting REDIS_PORT: Input should be a valid integer, "
        "unable to parse string as an integer (got 'not-a-port')"
    ]


def test_uvicorn_import_path_prints_one_line_on_bad_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CACHE_DRIVER": "nope", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import snaproom_gateway.api.app as m; m.app"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("snaproom-gateway: invalid setting CACHE_DRIVER")
    assert "Traceback" not in result.stderr
