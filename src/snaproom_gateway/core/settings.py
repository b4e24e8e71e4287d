"""The settings, read from the environment and an optional `.env`, grouped by area.

Each area (database, redis, kafka, events, cache, breakers, observability, auth, rate limits,
users, realtime) is a nested model, while the variables keep the flat names the README documents
(DATABASE_URL, DB_POOL_SIZE, KAFKA_BROKERS, CACHE_DRIVER, ...): each nested field declares its
variable as its validation alias, and the root model gathers the flat names into their areas.
With no environment at all every value has an embedded default: SQLite, in-process cache,
in-process bus.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from snaproom_gateway.core.sealing_keys import parse_key

DEFAULT_SECRET = "change-me-in-production"
DEV_ENVS = {"local", "development", "testing"}

HostPortList = Annotated[list[str], NoDecode]
CsvList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """Bad configuration, worded as one line per bad setting, naming the variable."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_host_port(item: str) -> str:
    host, sep, port = item.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{item!r} is not host:port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{item!r} has no valid port (1-65535)")
    return item


def _variables(prefix: str) -> ConfigDict:
    """An area's config: a field `pool_size` reads the variable `<prefix>pool_size` unless it
    names its own (validation_alias); the plain field name is accepted too (code, copies)."""
    def variable(name: str) -> str:
        return prefix + name

    return ConfigDict(alias_generator=AliasGenerator(validation_alias=variable),
                      validate_by_name=True, validate_by_alias=True)


class DatabaseSettings(BaseModel):
    """SQLite file by default, PostgreSQL (asyncpg) in production."""

    model_config = _variables("db_")

    url: str = Field("sqlite+aiosqlite:///./snaproom.db", validation_alias="database_url")
    pool_size: int = Field(10, ge=1, le=200)
    max_overflow: int = Field(10, ge=0, le=200)
    pool_timeout: float = Field(5.0, gt=0, le=60)
    connect_timeout: float = Field(3.0, gt=0, le=60)
    statement_timeout_ms: int = Field(10_000, ge=0)
    # A pooled connection idle this long is tested before use (a server restart leaves dead
    # ones); 0 tests every checkout, which with asyncpg costs three round trips each time.
    ping_after_idle: float = Field(5.0, ge=0, le=3600)
    # Unset: on for SQLite (no server: the embedded mode migrates its file), off for PostgreSQL.
    migrate_on_start: bool | None = None
    # Requests that use the database run this many at a time (0: the pool less what the relay
    # and the consumer batches may hold, so admitted requests do not wait in the pool); the rest
    # wait in line up to DB_REQUEST_QUEUE_TIMEOUT, then get 503 "busy" (back-pressure, never
    # counted by the breaker).
    max_concurrent_requests: int = Field(0, ge=0, le=10_000)
    request_queue_timeout: float = Field(5.0, gt=0, le=120)
    # Connect bound for the app's pool (the lower of this and DB_CONNECT_TIMEOUT): a blackholed
    # host costs a request this long until the breaker opens; a closed port fails at once anyway.
    request_connect_timeout: float = Field(1.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        # Accept the URLs people paste from elsewhere and pick the async driver for them.
        aliases = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg",
                   "sqlite": "sqlite+aiosqlite"}
        if scheme in aliases:
            value = aliases[scheme] + value[len(scheme):]
            scheme = aliases[scheme]
        if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
            raise ValueError(
                "must start with postgresql+asyncpg:// or sqlite+aiosqlite:// "
                f"(got scheme {scheme or 'none'!r})"
            )
        if scheme.startswith("postgresql"):
            parts = urlsplit(value)
            try:
                parts.port  # noqa: B018 - raises on a non-numeric port
            except ValueError as exc:
                raise ValueError(f"has a bad port: {exc}") from None
            if not parts.hostname or not parts.path.strip("/"):
                raise ValueError("needs a host and a database name")
        return value

    @property
    def uses_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.uses_sqlite


class RedisSettings(BaseModel):
    """Standalone (REDIS_URL or REDIS_HOST/PORT) or Sentinel (REDIS_SENTINELS)."""

    model_config = _variables("redis_")

    url: str | None = None
    host: str | None = None
    port: int = Field(6379, ge=1, le=65535)
    password: str | None = None
    db: int = Field(0, ge=0, le=15)
    sentinels: HostPortList = []
    sentinel_master: str = "snaproom-master"
    sentinel_password: str | None = None
    socket_timeout: float = Field(1.0, gt=0, le=30)
    connect_timeout: float = Field(1.0, gt=0, le=30)
    max_connections: int = Field(64, ge=1, le=10_000)
    # With all REDIS_MAX_CONNECTIONS in use a call waits this long for one (Sentinel mode), then
    # fails as busy (load, not an outage: no breaker counts it). Below BREAKER_TIMEOUT_REDIS.
    pool_timeout: float = Field(0.25, gt=0, le=30)
    replica_reads: bool = True
    # TLS to the Redis nodes and the Sentinels (a rediss:// REDIS_URL turns it on too). The CA
    # file verifies their certificates; the host name is checked unless turned off.
    ssl: bool = False
    ssl_ca_file: str | None = None
    ssl_check_hostname: bool = True

    _split = field_validator("sentinels", mode="before")(classmethod(lambda cls, v: _split_csv(v)))

    @field_validator("sentinels")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        return [_check_host_port(item) for item in value]

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        try:
            parts.port  # noqa: B018
        except ValueError as exc:
            raise ValueError(f"has a bad port: {exc}") from None
        return value


class KafkaSettings(BaseModel):
    """No brokers means the in-process event bus."""

    model_config = _variables("kafka_")

    brokers: HostPortList = []
    client_id: str = "snaproom-gateway"
    consumer_group_id: str = "snaproom-gateway"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    request_timeout_ms: int = Field(5_000, ge=500, le=120_000)
    close_timeout: float = Field(5.0, gt=0, le=60)
    replication_factor: int = Field(3, ge=1, le=10)
    # Create the catalog's topics on start (broker auto-creation is off in production).
    ensure_topics: bool = True

    _split = field_validator("brokers", mode="before")(classmethod(lambda cls, v: _split_csv(v)))

    @field_validator("brokers")
    @classmethod
    def _host_ports(cls, value: list[str]) -> list[str]:
        return [_check_host_port(item) for item in value]

    @property
    def configured(self) -> bool:
        return bool(self.brokers)


class EventsSettings(BaseModel):
    """The outbox, its relay and the consumers."""

    model_config = _variables("events_")

    # Rows per relay round: sent with one producer flush and marked sent with one UPDATE.
    outbox_batch_size: int = Field(2000, ge=1, le=50_000, validation_alias="outbox_batch_size")
    # Fallback poll when no commit signal or NOTIFY arrives (another writer, a lost notify).
    outbox_poll_interval: float = Field(1.0, gt=0, le=60, validation_alias="outbox_poll_interval")
    outbox_backoff_max: float = Field(10.0, gt=0, le=300, validation_alias="outbox_backoff_max")
    outbox_retention_hours: float = Field(24.0, ge=0, validation_alias="outbox_retention_hours")
    # Run the registered consumer groups inside the app (off for API-only instances).
    consumers_enabled: bool = True
    # Extra modules whose @handles registrations to load, beside events/registry.py's list.
    handler_modules: CsvList = []
    handler_retries: int = Field(3, ge=0, le=20)
    retry_backoff: float = Field(0.2, ge=0, le=30)
    shutdown_timeout: float = Field(10.0, gt=0, le=120)
    # Consumers commit handled offsets in the background at most this often (and on idle,
    # rebalance and stop): a commit is a replicated write on the brokers, and awaiting one per
    # batch delayed the next batch. A crash redelivers at most this much, de-duplicated.
    commit_interval: float = Field(0.5, ge=0, le=60)
    # Consumer groups handling a batch at once (each holds a database connection while it does);
    # 0: half the pool, at most 4, so a backlog never takes the connections requests need.
    handler_concurrency: int = Field(0, ge=0, le=1000)

    _split = field_validator("handler_modules", mode="before")(
        classmethod(lambda cls, v: _split_csv(v)))


class CacheSettings(BaseModel):
    """CACHE_DRIVER picks memory or redis; the rest bounds each tier."""

    model_config = _variables("cache_")

    driver: Literal["memory", "redis"] | None = None
    # The memory driver's bound.
    memory_max_entries: int = Field(100_000, ge=100, le=10_000_000)
    # The in-process L1 in front of Redis: bounded, short-lived, coherent through pub/sub (it
    # serves only while the invalidation channel is live). Its TTL only bounds how long an
    # entry goes unread-through; a tail key read less often than this costs a Redis trip.
    l1_enabled: bool = True
    l1_max_entries: int = Field(50_000, ge=100, le=10_000_000)
    l1_ttl: float = Field(30.0, gt=0, le=300)
    # An L1 entry read after this fraction of its TTL is renewed from Redis in the background
    # (one MGET for many), so hot keys stay in the L1; 0 turns renewal off.
    l1_refresh_after: float = Field(0.5, ge=0, lt=1)
    # Every cache call to Redis is bounded by this; after a connection failure (or 3 timeouts in a
    # row) Redis is skipped for the cooldown: reads are misses, and an outage costs little.
    redis_timeout: float = Field(0.5, gt=0, le=10)
    redis_cooldown: float = Field(0.5, ge=0, le=60)
    # Cache calls in flight at once (each holds a pooled connection; more queue, within the
    # timeout). Redis answers in microseconds: a few connections carry the load, and opening
    # many at once (Sentinel look-up, AUTH) is what costs.
    redis_max_in_flight: int = Field(16, ge=1, le=1000)
    # Single flight across instances: the lock's life, and how long others wait for its value.
    lock_ttl: float = Field(5.0, gt=0, le=120)
    lock_wait: float = Field(2.0, ge=0, le=120)
    prune_interval: float = Field(300.0, gt=0, le=86_400)
    # Serve cacheable public GET routes from the cache before routing (cache/http.py).
    http_fast_path: bool = True
    # Encryption at rest of what goes to Redis (cache/sealing.py): AES-256-GCM, 32 bytes of
    # base64 (`openssl rand -base64 32`). The previous key only opens, for a rolling rotation.
    # Required outside local/development/testing; there, unset means a key derived from SECRET_KEY.
    encryption_key: SecretStr | None = None
    encryption_key_previous: SecretStr | None = None

    @field_validator("encryption_key", "encryption_key_previous", mode="before")
    @classmethod
    def _sealing_key(cls, value: object) -> object:
        if value is None or value == "":
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        parse_key(text)  # raises ValueError (InvalidSealingKey) with the reason
        return text


class BreakerSettings(BaseModel):
    """One breaker per dependency (database, redis, kafka); see resilience/breaker.py."""

    model_config = _variables("breaker_")

    failure_threshold: int = Field(5, ge=1, le=1000)
    failure_rate: float = Field(0.5, gt=0, le=1)
    window: float = Field(10.0, gt=0, le=600)
    min_calls: int = Field(20, ge=1, le=100_000)
    # Short enough that a restarted PostgreSQL serves again within a few seconds.
    reset_timeout: float = Field(2.0, gt=0, le=600)
    half_open_probes: int = Field(2, ge=1, le=100)
    success_threshold: int = Field(1, ge=1, le=100)
    # Bounds of calls made through a breaker. Redis is a cache: a slow answer is worth less than
    # the database fallback, and redis-py's failover retry loop can otherwise run for ~10 s.
    timeout_database: float = Field(10.0, gt=0, le=120)
    timeout_redis: float = Field(0.5, gt=0, le=30)
    timeout_kafka: float = Field(6.0, gt=0, le=120)


class ObservabilitySettings(BaseModel):
    """Logs, metrics and traces."""

    model_config = _variables("")

    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # `json`: one JSON object per line (request id, trace id, event context); `console`: readable
    # lines. Unset: json under APP_ENV=production, console elsewhere (logging_setup.py).
    log_format: Literal["json", "console"] | None = None
    # One line per request from the server (uvicorn's access log). Costs about as much CPU as a
    # cached answer itself; turn it off where the proxy in front logs requests.
    access_log: bool = True
    metrics_enabled: bool = True
    # When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` (a scraper's secret):
    # the breaker states and counters are not for the public internet.
    metrics_token: str | None = None
    # prometheus-client's multiprocess mode (several uvicorn workers, one sum on /metrics): the
    # directory of the workers' value files. `serve` makes a fresh one when unset and
    # WEB_CONCURRENCY > 1, and empties a given one at start.
    prometheus_multiproc_dir: str | None = None
    # How often each worker writes its live values (outbox, lag, pools, sockets) to that
    # directory, so a scrape answered by any worker has every worker's.
    metrics_sample_interval: float = Field(5.0, gt=0, le=300)
    # OpenTelemetry (optional, off by default, `pip install snaproom-gateway[otel]`): when set,
    # spans of the HTTP requests, SQLAlchemy, redis, the outbox relay and the consumers are
    # exported over OTLP/HTTP (tracing.py). The SDK's own OTEL_* variables apply too.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "snaproom-gateway"

    @property
    def tracing_enabled(self) -> bool:
        return bool(self.otel_exporter_otlp_endpoint)


class AuthSettings(BaseModel):
    """Sessions: opaque tokens, durable in the database, cached (Redis) for the hot path."""

    model_config = _variables("")

    session_ttl: int = Field(7 * 24 * 3600, ge=60, le=90 * 24 * 3600)  # seconds
    session_cache_ttl: int = Field(3600, ge=1, le=24 * 3600)  # capped by the session's own expiry
    session_purge_interval: float = Field(3600.0, ge=1, le=7 * 24 * 3600)  # expired rows go
    # None: Secure everywhere but local/development/testing (plain http on localhost).
    session_cookie_secure: bool | None = None
    session_cookie_samesite: Literal["lax", "strict", "none"] = "lax"


class RateLimitSettings(BaseModel):
    """Rate limits in the `limits` notation ("10/minute", "100 per hour")."""

    model_config = _variables("rate_limit_")

    enabled: bool = True
    login: str = "10/minute"
    signup: str = "5/minute"
    writes: str = "60/minute"
    strategy: Literal["moving-window", "sliding-window-counter", "fixed-window"] = "moving-window"
    # Limiter checks in flight at once; more wait up to RATE_LIMIT_QUEUE_TIMEOUT for a turn
    # (outside RATE_LIMIT_TIMEOUT: waiting is load, and failing open on it over-admits), then 503.
    max_in_flight: int = Field(16, ge=1, le=1000)
    queue_timeout: float = Field(2.0, gt=0, le=60)
    # The limiter fails open after this bound: a slow Redis must not slow down logins.
    timeout: float = Field(0.25, gt=0, le=5)

    @field_validator("login", "signup", "writes")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit like '10/minute'") from None
        return value


class UsersSettings(BaseModel):
    """Profile views and the deletion saga."""

    model_config = _variables("user_")

    # Profile views are counted in process and written in batches: this often, or as soon as
    # this many are waiting. A crash loses at most the views since the last written batch.
    profile_views_flush_interval: float = Field(
        0.5, gt=0, le=60, validation_alias="profile_views_flush_interval")
    profile_views_flush_max: int = Field(
        1000, ge=1, le=1_000_000, validation_alias="profile_views_flush_max")
    # Deletion saga: attempts of the purge steps before the account is restored.
    deletion_max_attempts: int = Field(5, ge=1, le=50)
    deletion_retry_delay: float = Field(0.5, ge=0, le=60)


class RealtimeSettings(BaseModel):
    """Presence, recent messages, the WebSocket and its Redis fan-out."""

    model_config = _variables("")

    presence_ttl: int = Field(300, ge=10, le=3600)  # seconds online after a heartbeat
    # An open WebSocket renews its user's presence this often (well inside PRESENCE_TTL).
    presence_ws_refresh: float = Field(30.0, gt=0, le=600)
    recent_messages_limit: int = Field(50, ge=1, le=500)
    recent_messages_ttl: int = Field(3600, ge=10, le=7 * 24 * 3600)
    # Bound of each presence / recent-messages / realtime Redis call.
    redis_timeout: float = Field(1.0, gt=0, le=10, validation_alias="realtime_redis_timeout")
    # Per WebSocket: a client frame over WS_MAX_FRAME_BYTES gets an error (413) and is dropped;
    # frames beyond WS_MESSAGE_RATE a second (bursts of WS_MESSAGE_BURST) get an error (429), and
    # a client that keeps sending past that is closed with 1008 (policy violation).
    ws_max_frame_bytes: int = Field(16_384, ge=256, le=1_048_576)
    ws_message_rate: float = Field(20.0, gt=0, le=10_000)
    ws_message_burst: int = Field(40, ge=1, le=100_000)
    # Realtime pushes published to Redis at once; more wait their turn (a drained backlog pushes
    # thousands at once, which emptied the Redis pool).
    push_concurrency: int = Field(16, ge=1, le=1000,
                                  validation_alias="realtime_push_concurrency")


def _variable_of(name: str, field: FieldInfo) -> str:
    """The (lower-case) variable a nested field reads."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else name


class _FlatVariables(PydanticBaseSettingsSource):
    """The areas' flat variables (DB_POOL_SIZE, ...) found by an environment or .env source.

    pydantic-settings looks a nested model up as one variable (or with a nested delimiter,
    DATABASE__POOL_SIZE); the documented names are flat, so this hands them over as they are
    and the root model puts each into its area."""

    def __init__(self, settings_cls: type[BaseSettings], source: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = self._source.env_vars
        return {name: found[name] for name in AREA_VARIABLES
                if found.get(name) is not None}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    app_env: Literal["local", "development", "testing", "staging", "production"] = "local"
    # Freeze the startup heap out of the garbage collector once started (gc_tuning.py): full
    # collections then skip it, instead of stalling everything for tens of milliseconds.
    gc_freeze: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    web_concurrency: int = Field(1, ge=1, le=64)
    shutdown_timeout: float = Field(20.0, gt=0, le=300)
    secret_key: str = DEFAULT_SECRET
    cors_origins: CsvList = ["http://localhost:3000"]
    # Health probes: each has this bound, so a health call never hangs on a dead server.
    health_probe_timeout: float = Field(1.5, gt=0, le=10)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    breakers: BreakerSettings = Field(default_factory=BreakerSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    users: UsersSettings = Field(default_factory=UsersSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        # Same precedence as before the grouping: arguments, environment, .env, secrets.
        return (init_settings, env_settings, _FlatVariables(settings_cls, env_settings),
                dotenv_settings, _FlatVariables(settings_cls, dotenv_settings),
                file_secret_settings)

    @model_validator(mode="before")
    @classmethod
    def _into_areas(cls, data: Any) -> Any:
        """Flat names (`db_pool_size=5`, from the environment or arguments) go to their area;
        what is given for an area as a whole wins over them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for area, names in _AREA_NAMES.items():
            flat = {field: data.pop(variable) for variable, field in names.items()
                    if variable in data}
            if not flat:
                continue
            given = data.get(area)
            if isinstance(given, BaseModel):
                given = given.model_dump(exclude_unset=True)
            data[area] = {**flat, **(given or {})}
        return data

    _split = field_validator("cors_origins", mode="before")(
        classmethod(lambda cls, v: _split_csv(v)))

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.app_env not in DEV_ENVS and self.secret_key == DEFAULT_SECRET:
            raise ValueError("SECRET_KEY must be set outside local/development/testing")
        if self.app_env not in DEV_ENVS and self.cache.encryption_key is None:
            raise ValueError("CACHE_ENCRYPTION_KEY must be set outside local/development/testing "
                             "(32 bytes of base64: `openssl rand -base64 32`)")
        return self

    def flat_values(self) -> dict[str, Any]:
        """Every value under its variable's (lower-case) name: DB_POOL_SIZE as `db_pool_size`."""
        values: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in _AREA_NAMES:
                for variable, field in _AREA_NAMES[name].items():
                    values[variable] = getattr(value, field)
            else:
                values[name] = value
        return values

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some values changed, named as their variables (`db_pool_size=5`) and
        validated as a fresh read would be (without reading the environment again)."""
        return type(self).model_validate({**self.flat_values(), **changes})

    # Derived values that span areas: what the process actually runs on.

    @property
    def redis_configured(self) -> bool:
        return bool(
            self.redis.sentinels or self.redis.url or self.redis.host
            or self.cache.driver == "redis"
        )

    @property
    def effective_cache_driver(self) -> Literal["memory", "redis"]:
        if self.cache.driver:
            return self.cache.driver
        return "redis" if self.redis_configured else "memory"

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.observability.log_format:
            return self.observability.log_format
        return "json" if self.app_env == "production" else "console"

    @property
    def cookie_secure(self) -> bool:
        if self.auth.session_cookie_secure is not None:
            return self.auth.session_cookie_secure
        return self.app_env not in DEV_ENVS

    @property
    def database_request_limit(self) -> int:
        pool = self.database.pool_size + self.database.max_overflow
        return (self.database.max_concurrent_requests
                or max(1, pool - self.handler_concurrency - 1))

    @property
    def handler_concurrency(self) -> int:
        pool = self.database.pool_size + self.database.max_overflow
        return self.events.handler_concurrency or max(1, min(4, pool // 2))


# area -> {variable (lower case): field}: how flat names reach the nested models, and back.
_AREA_NAMES: dict[str, dict[str, str]] = {
    area: {_variable_of(name, field): name
           for name, field in info.annotation.model_fields.items()}  # type: ignore[union-attr]
    for area, info in Settings.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
}
AREA_VARIABLES: frozenset[str] = frozenset(
    variable for names in _AREA_NAMES.values() for variable in names)


def variable_names() -> list[str]:
    """Every variable the settings read, upper case as documented."""
    top = [name for name in Settings.model_fields if name not in _AREA_NAMES]
    return sorted(name.upper() for name in [*top, *AREA_VARIABLES])


def _shown_input(field: str, value: object) -> str:
    """The offending value for the message, with passwords kept out of logs."""
    if isinstance(value, dict) or any(word in field
                                      for word in ("password", "secret", "token", "key")):
        return ""
    if isinstance(value, str) and "@" in value and "://" in value:
        value = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", value)
    return f" (got {value!r})"


def _variable_at(loc: tuple[int | str, ...]) -> str:
    """The variable an error's location names: ("database", "db_pool_size") is DB_POOL_SIZE."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return ""
    area = _AREA_NAMES.get(names[0])
    if area is None or len(names) == 1:
        return names[0]
    # Given by field name (code, not the environment): report its variable all the same.
    return next((variable for variable, field in area.items() if field == names[1]), names[1])


def describe_validation_error(error: ValidationError) -> str:
    """One readable line per bad setting, naming the environment variable."""
    lines = []
    for item in error.errors():
        field = _variable_at(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if field:
            shown = _shown_input(field, item.get("input"))
            lines.append(f"invalid setting {field.upper()}: {message}{shown}")
        else:
            lines.append(f"invalid settings: {message}")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise SettingsError with a readable message when a value is bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
