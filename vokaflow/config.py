"""One validated Settings object, read from ``VOKAFLOW_*`` environment variables.

Build it once with :func:`load_settings` at a process's entry point and pass it down; Ray
actors and Serve replicas receive it as ``settings.model_dump(mode="json")``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vokaflow.domain import CATEGORY_NAME, WorkerType
from vokaflow.errors import ConfigError
from vokaflow.ratelimit.bucket import RateLimit
from vokaflow.ratelimit.limits import DEFAULT_CATEGORY_LIMIT, DEFAULT_RATE_LIMITS, LimitTable

ENV_PREFIX = "VOKAFLOW_"
# Ray's namespace of the service's named actors (scheduler, webhook dispatcher) and drivers
NAMESPACE = "vokaflow"

DEFAULT_POOL_MAX_WORKERS: dict[WorkerType, int] = {
    WorkerType.CPU_INTENSIVE: 64,
    WorkerType.IO_INTENSIVE: 128,
    WorkerType.MEMORY_INTENSIVE: 32,
    WorkerType.NETWORK_INTENSIVE: 256,
    WorkerType.GENERAL_PURPOSE: 64,
}

SQLITE_FILE = "vokaflow.db"  # the default database when it is SQLite


# The `ray start` flags `up` sets from settings of its own (launcher.start_ray)
RAY_START_FLAGS_OF_UP = frozenset(
    {
        "head",
        "port",
        "num-cpus",
        "resources",
        "dashboard-host",
        "dashboard-port",
        "temp-dir",
        "metrics-export-port",
        "disable-usage-stats",
    }
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    home: Path = Path(".vokaflow")
    redis_url: str | None = Field(default=None, repr=False)  # may hold a password
    key_prefix: str = Field(default="vokaflow", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    environment: str = "development"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    gateway_replicas: int = Field(default=1, ge=1, le=64)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)

    ray_port: int = Field(default=6390, ge=1, le=65535)
    ray_dashboard_port: int = Field(default=8265, ge=1, le=65535)
    ray_num_cpus: int | None = Field(default=None, ge=1)
    # Where the head node's metrics agent serves Prometheus text (unset: a port Ray picks,
    # listed in prom_metrics_service_discovery.json in Ray's temp folder)
    ray_metrics_export_port: int | None = Field(default=None, ge=1, le=65535)
    # OpenTelemetry traces, exported over OTLP/HTTP to this URL (".../v1/traces"); "" is off
    otlp_endpoint: str = Field(default="", max_length=2048)
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # of traces started here
    ray_dashboard_url: str | None = None  # for the Jobs API; default: the local dashboard
    ha_proxy: bool = True  # Serve's HAProxy mode on the head that `up` starts
    # More `ray start --head` options for the head that `up` starts, by flag name: a worker
    # port range a firewall allows, or the ports Ray fixes (the dashboard agent's 52365, the
    # Ray client server's 10001) for a second head on one machine. Not those set above.
    ray_start_options: dict[str, str | int] = Field(default_factory=dict)

    partitions: int = Field(default=16, ge=1, le=1024)
    pool_max_workers: dict[WorkerType, int] = Field(
        default_factory=lambda: dict(DEFAULT_POOL_MAX_WORKERS)
    )
    scale_up_queue_size: int = Field(default=100, ge=1)
    scale_down_queue_size: int = Field(default=10, ge=0)

    rate_limits: dict[str, RateLimit] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    default_rate_limit: RateLimit = DEFAULT_CATEGORY_LIMIT  # categories not in rate_limits
    # The user's function modules, comma-separated; importable by the gateway and workers.
    plugins: str = ""

    default_timeout_s: int = Field(default=300, ge=1)
    default_retry_count: int = Field(default=3, ge=0)
    scheduler_poll_s: float = Field(default=0.05, gt=0, le=5)
    scheduler_heartbeat_s: float = Field(default=1.0, gt=0, le=60)
    scheduler_stale_after_s: float = Field(default=10.0, gt=0)
    api_key_cache_s: float = Field(default=5.0, ge=0)
    # A client with more failed authentications than this in a window gets 429 (0: off).
    auth_failure_limit: int = Field(default=20, ge=0)
    auth_failure_window_s: int = Field(default=60, ge=1)
    # How long a console sign-in lasts (a JWT's own expiry ends it sooner).
    console_session_s: int = Field(default=8 * 3600, ge=60)
    # Peers whose X-Forwarded-For names the client: only a proxy that appends it (Serve's
    # own HAProxy passes on what the client sent, so it is not one)
    trusted_proxies: list[str] = Field(default_factory=list)
    # Bearer JWTs: HS256 with this secret (`up` keeps one in VOKAFLOW_HOME when unset), or
    # RS256 with this PEM public key. exp and nbf are checked with the leeway.
    jwt_secret: str = Field(default="", repr=False)
    jwt_public_key: str = Field(default="", repr=False)
    jwt_leeway_s: float = Field(default=30.0, ge=0)
    jwt_issuer: str = ""  # when set, tokens must carry this `iss` (and `token create` sets it)
    jwt_audience: str = ""  # likewise for `aud`
    jwt_max_ttl_s: float = Field(default=30 * 24 * 3600, gt=0)  # the longest `token create`

    retry_backoff_base_s: float = Field(default=0.5, gt=0)
    retry_backoff_max_s: float = Field(default=60.0, gt=0)
    max_system_retries: int = Field(default=3, ge=0)
    # A delayed task's run_at may lie at most this far ahead, and this far in the past (a time
    # that recent runs now; an older one is more likely a mistake than a wish).
    max_delay_s: float = Field(default=30 * 24 * 3600, gt=0)
    run_at_past_tolerance_s: float = Field(default=60.0, ge=0)
    # The releaser's process niceness (-20 first, 19 last): a due task is released within
    # 100 ms only if that process gets a core soon after its sleep, while the pools keep
    # both busy. Below 0 needs root or CAP_SYS_NICE; without, the process keeps the default.
    release_niceness: int = Field(default=-10, ge=-20, le=19)
    # Finished task records (and dead letters) are kept this long; 0 keeps them forever.
    task_retention_s: int = Field(default=24 * 3600, ge=0)
    # `vokaflow down` lets running tasks finish for this long before it stops Ray.
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    chunk_target_s: float = Field(default=0.02, gt=0)
    max_chunk_size: int = Field(default=500, ge=1)
    starvation_factor: float = Field(default=4.0, gt=1)
    urgent_reserved_fraction: float = Field(default=0.125, ge=0, lt=1)

    # Webhook URLs may not resolve to loopback, private, link-local or other internal
    # addresses unless this names the host, the address or a CIDR holding it.
    # Vicky: the models `up` deploys on Serve (ids from models/registry.yaml), and how long
    # an idle chat session is kept.
    vicky_models: list[str] = Field(default_factory=lambda: ["tiny"])
    vicky_default_model: str = "qwen_7b"  # for requests that name no model
    vicky_session_ttl_s: int = Field(default=24 * 3600, ge=60)
    vicky_request_timeout_s: float = Field(default=120.0, gt=0)  # a whole answer, streamed too
    # Fine-tuned models (trained or training) per principal; each is one Serve application
    # whose replica holds the model in memory, so this bounds a key's deployed apps too.
    vicky_max_trained_per_principal: int = Field(default=3, ge=1)

    # The function catalog. Data roots: comma-separated folders that file paths in task
    # arguments must lie under (default: <home>/data); relative paths start at the first.
    data_roots: str = ""
    max_result_bytes: int = Field(default=256 * 1024, ge=1024)  # larger ones go to a file
    # The most bytes of parents' results a task takes in (pass_results_as); past it, it
    # fails with InputsTooLarge instead of running. They are read when it is dispatched.
    max_inputs_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # SQLAlchemy URL (may hold a password); default: SQLite at <first data root>/vokaflow.db
    database_url: str = Field(default="", repr=False)
    databases: dict[str, str] = Field(default_factory=dict, repr=False)  # more, by name
    # Database servers that non-admin keys may use too (they share them); see database_names.
    user_databases: list[str] = Field(default_factory=list)
    # complex_query and export_table: how long one statement may run, and how many bytes a
    # query's result (and any one row of a query or an export) may hold
    query_timeout_s: float = Field(default=60.0, gt=0)
    query_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_sender: str = "vokaflow@localhost"
    notify_webhook_secret: str = Field(default="", repr=False)  # signs send_webhook's POSTs
    # An id in models/registry.yaml's speech_models: Whisper tiny.en on faster-whisper.
    transcription_model: str = "whisper_tiny_en"
    # A principal's own Redis streams (publish_event): how many, how many events and bytes
    # each holds, and how long one is kept after its last event.
    tenant_streams_max: int = Field(default=16, ge=1)
    tenant_stream_maxlen: int = Field(default=10_000, ge=1)
    tenant_stream_max_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    tenant_stream_ttl_s: int = Field(default=24 * 3600, ge=60)

    # A batch submission interrupted between its steps (and not replayed with its
    # idempotency key) is finished by the scheduler after this long, with the tasks written.
    batch_submit_grace_s: float = Field(default=60.0, gt=0)
    # Fault injection for tests (vokaflow/failpoints.py): named places that fail once;
    # honoured only when VOKAFLOW_ENVIRONMENT is "test".
    failpoints: list[str] = Field(default_factory=list)

    # Schedules: each principal's most, the shortest interval, how often the scheduler
    # looks for due ones, and how late a fire may be and still run under the "skip" policy.
    schedule_max_per_owner: int = Field(default=100, ge=1)
    schedule_min_interval_s: int = Field(default=5, ge=1)
    schedule_tick_s: float = Field(default=1.0, gt=0, le=60)
    schedule_misfire_grace_s: float = Field(default=60.0, ge=0)

    webhook_allowed_hosts: list[str] = Field(default_factory=list)
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_max_per_owner: int = Field(default=50, ge=1)
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_backoff_base_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=60.0, gt=0)

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        """Absolute where the settings are first read: Ray workers run in other folders."""
        return value.expanduser().resolve()

    @field_validator("ray_start_options")
    @classmethod
    def _own_ray_start_options(cls, value: dict[str, str | int]) -> dict[str, str | int]:
        taken = sorted(set(value) & RAY_START_FLAGS_OF_UP)
        if taken:
            raise ValueError(f"{', '.join(taken)}: set by `up` from its own settings")
        return value

    @field_validator("pool_max_workers")
    @classmethod
    def _fill_missing_pools(cls, value: dict[WorkerType, int]) -> dict[WorkerType, int]:
        merged = dict(DEFAULT_POOL_MAX_WORKERS)
        merged.update(value)
        if any(limit < 1 for limit in merged.values()):
            raise ValueError("every pool needs max_workers >= 1")
        return merged

    @field_validator("rate_limits")
    @classmethod
    def _fill_missing_categories(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        bad = [name for name in value if not CATEGORY_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"category names are lowercase words: {sorted(bad)}")
        return {**DEFAULT_RATE_LIMITS, **value}

    @property
    def limit_table(self) -> LimitTable:
        """Rate limits by category, with the default for categories not listed."""
        return LimitTable(self.rate_limits, self.default_rate_limit)

    @property
    def plugin_modules(self) -> list[str]:
        return [name.strip() for name in self.plugins.split(",") if name.strip()]

    @property
    def data_root_paths(self) -> list[Path]:
        named = [Path(p.strip()).expanduser() for p in self.data_roots.split(",") if p.strip()]
        return [p.resolve() for p in named] or [self.home / "data"]

    def database_url_for(self, name: str = "default", data_root: Path | None = None) -> str:
        """The SQLAlchemy URL of a named database. ``default`` is database_url, else SQLite
        in ``data_root`` (a principal's task passes its own folder; default: the first
        data root)."""
        if not self.is_database_server(name):
            return f"sqlite:///{(data_root or self.data_root_paths[0]) / SQLITE_FILE}"
        if name == "default" and "default" not in self.databases:
            return self.database_url
        if name not in self.databases:
            raise KeyError(
                f"no database named {name!r}; configured: {', '.join(self.database_names())}"
            )
        return self.databases[name]

    def is_database_server(self, name: str) -> bool:
        """False only for ``default`` as SQLite, which each principal has its own of."""
        return name != "default" or bool(self.database_url) or "default" in self.databases

    def database_names(self, principal_scoped: bool = False) -> list[str]:
        """The databases a task may name. A non-admin principal's task (scoped) may not
        name a server that other keys use unless user_databases lists it."""
        names = ["default", *(name for name in self.databases if name != "default")]
        if not principal_scoped:
            return names
        return [n for n in names if not self.is_database_server(n) or n in self.user_databases]

    @property
    def admin_key_file(self) -> Path:
        return self.home / "admin_key"

    @property
    def jwt_secret_file(self) -> Path:
        return self.home / "jwt_secret"

    def without_secrets(self) -> Settings:
        """A copy that can be shown: what the Ray dashboard displays carries no secret."""
        return self.model_copy(update=dict.fromkeys(SECRET_FIELDS, "") | {"databases": {}})

    def secrets(self) -> dict[str, object]:
        """The fields without_secrets() blanks, as they travel on the wire."""
        wire = self.to_wire()
        return {name: wire[name] for name in SECRET_FIELDS}

    def to_wire(self) -> dict[str, object]:
        """A JSON-safe copy to hand to Ray actors and Serve replicas."""
        return self.model_dump(mode="json")

    @classmethod
    def from_wire(cls, data: dict[str, object]) -> Settings:
        return cls.model_validate(data)


# Passwords, signing secrets, and URLs that may embed a password.
SECRET_FIELDS = (
    "jwt_secret",
    "smtp_password",
    "notify_webhook_secret",
    "database_url",
    "databases",
    "redis_url",
)


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
