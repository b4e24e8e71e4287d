"""Every variable the README, compose.yaml and `stack.py env` name reaches its (nested) setting."""

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from snaproom_gateway.core.settings import AREA_VARIABLES, Settings, load_settings, variable_names

ROOT = Path(__file__).resolve().parents[3]
SEALING_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
# Values for the settings whose validators accept only a certain form of string.
SPECIAL = {
    "DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/probe",
    "REDIS_URL": "redis://probe:6390/0",
    "RATE_LIMIT_LOGIN": "7/minute", "RATE_LIMIT_SIGNUP": "7/minute", "RATE_LIMIT_WRITES": "7/minute",
    "CACHE_ENCRYPTION_KEY": SEALING_KEY, "CACHE_ENCRYPTION_KEY_PREVIOUS": SEALING_KEY,
    "APP_ENV": "testing",
    "CORS_ORIGINS": "http://probe:1",
    "REDIS_SENTINELS": "s1:1,s2:2", "KAFKA_BROKERS": "k1:1,k2:2",
    "EVENTS_HANDLER_MODULES": "probe.module",
}


def _documented_in_readme() -> set[str]:
    """The variables of the README's configuration tables (`A` / `_B` is A and A's prefix + B;
    `KAFKA_SASL_*` every variable so named)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration"):text.index("## API")]
    names: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = row.split("|")[1]
        previous = ""
        for token in re.findall(r"`([A-Z_][A-Z0-9_]*\*?)`", first_cell):
            if token.startswith("_"):
                token = previous.rsplit("_", 1)[0] + token
            if token.endswith("*"):
                names |= {n for n in variable_names() if n.startswith(token[:-1])}
                continue
            names.add(token)
            previous = token
    return names


def _documented_in_compose() -> set[str]:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return {name for service in ("gateway", "migrate", "topics")
            for name in services[service]["environment"]}


def _printed_by_stack_env() -> set[str]:
    out = subprocess.run([sys.executable, str(ROOT / "deploy/local/stack.py"), "env"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return set(re.findall(r"^export ([A-Z_][A-Z0-9_]*)=", out, re.M))


def _probe_value(name: str, default: object, annotation: object) -> str:
    """A valid value for the variable that differs from its default."""
    if name in SPECIAL:
        return SPECIAL[name]
    kinds = typing.get_args(annotation) or (annotation,)
    literal = next((k for k in kinds if typing.get_origin(k) is typing.Literal), None)
    if typing.get_origin(annotation) is typing.Literal or literal is not None:
        options = typing.get_args(literal if literal is not None else annotation)
        return next(str(option) for option in options if option != default)
    if bool in kinds:
        return "false" if default is True else "true"
    if isinstance(default, float):
        return str(default * 0.9) if default else "0.05"
    if isinstance(default, int):
        return str(default + 1) if default else "1"
    return f"probe-{name.lower()}"


def _fields() -> dict[str, tuple[object, object]]:
    """variable -> (default, annotation), for every setting."""
    found: dict[str, tuple[object, object]] = {}
    for name, field in Settings.model_fields.items():
        area = field.annotation
        if isinstance(area, type) and hasattr(area, "model_fields"):
            for sub_name, sub in area.model_fields.items():
                alias = sub.validation_alias
                variable = alias if isinstance(alias, str) else sub_name
                found[variable.upper()] = (sub.default, sub.annotation)
        else:
            found[name.upper()] = (field.default, field.annotation)
    return found


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)


def test_every_documented_variable_is_a_setting():
    documented = _documented_in_readme() | _documented_in_compose() | _printed_by_stack_env()
    assert {"DATABASE_URL", "DB_POOL_SIZE", "BREAKER_TIMEOUT_KAFKA", "KAFKA_SASL_PASSWORD",
            "REDIS_SENTINELS", "RATE_LIMIT_WRITES", "OTEL_SERVICE_NAME"} <= documented
    assert documented - set(variable_names()) == set()


@pytest.mark.parametrize("name", variable_names())
def test_each_variable_reaches_its_setting(monkeypatch, name):
    default, annotation = _fields()[name]
    monkeypatch.setenv(name, _probe_value(name, default, annotation))
    read = load_settings(_env_file=None).flat_values()[name.lower()]
    assert read != default
    if isinstance(read, SecretStr):
        assert read.get_secret_value() == SEALING_KEY


def test_a_dotenv_file_fills_nested_settings(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DB_POOL_SIZE=3\nREDIS_SENTINEL_MASTER=from-dotenv\nRATE_LIMIT_WRITES=9/hour\n")
    settings = load_settings(_env_file=env_file)
    assert settings.database.pool_size == 3
    assert settings.redis.sentinel_master == "from-dotenv"
    assert settings.rate_limits.writes == "9/hour"


def test_the_environment_wins_over_dotenv_and_arguments_over_both(monkeypatch, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DB_POOL_SIZE=3\nDB_MAX_OVERFLOW=4\n")
    monkeypatch.setenv("DB_POOL_SIZE", "5")
    settings = load_settings(_env_file=env_file, db_max_overflow=6)
    assert (settings.database.pool_size, settings.database.max_overflow) == (5, 6)


def test_with_changes_takes_variable_names_and_validates():
    settings = Settings(_env_file=None)
    changed = settings.with_changes(db_pool_size=2, rate_limit_login="2/minute")
    assert (changed.database.pool_size, changed.rate_limits.login) == (2, "2/minute")
    assert settings.database.pool_size == 10
    assert AREA_VARIABLES >= {"db_pool_size", "rate_limit_login"}
