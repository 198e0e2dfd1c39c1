"""The one typed settings object. It enters once and flows into every factory."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.web.hosts import TrustedHosts


def _env(*names: str) -> AliasChoices:
    """Accept the plain name (the contract's) and the FIGWAY_-prefixed one."""
    choices: list[str] = []
    for name in names:
        choices += [name, f"FIGWAY_{name}"] if not name.startswith("FIGWAY_") else [name]
    return AliasChoices(*choices)


class SettingsError(RuntimeError):
    """The configuration cannot work (e.g. production without SECRET_KEY)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=False
    )

    env: Literal["development", "production", "test"] = Field(
        "development", validation_alias=_env("FIGWAY_ENV")
    )
    var_dir: Path = Field(Path("var"), validation_alias=_env("FIGWAY_VAR_DIR"))
    database_url: str = Field("", validation_alias=_env("DATABASE_URL"))
    # Where figway keeps its own state (the audit history of ownership changes), in tables
    # of its own (figway_*): the app's database unless this names another (see state_url).
    state_database_url: str | None = Field(None, validation_alias=_env("FIGWAY_STATE_DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    secret_key: SecretStr | None = Field(None, validation_alias=_env("SECRET_KEY"))
    # Older keys still accepted when reading cookies and tokens (key rotation).
    secret_key_fallbacks: list[SecretStr] = Field(
        default_factory=list, validation_alias=_env("SECRET_KEY_FALLBACKS")
    )
    media_root: Path | None = Field(None, validation_alias=_env("MEDIA_ROOT"))
    metadata_base_url: str = Field(
        "http://127.0.0.1:8090", validation_alias=_env("METADATA_BASE_URL")
    )
    metadata_api_key: SecretStr | None = Field(None, validation_alias=_env("METADATA_API_KEY"))
    metadata_timeout_s: float = Field(10.0, validation_alias=_env("FIGWAY_METADATA_TIMEOUT"))
    # Calls in flight to the provider from one FastAPI process; more wait their turn.
    metadata_max_concurrency: int = Field(
        256, ge=1, validation_alias=_env("FIGWAY_METADATA_CONCURRENCY")
    )
    admin_password: SecretStr | None = Field(None, validation_alias=_env("FIGWAY_ADMIN_PASSWORD"))
    # The bearer token of figway's admin API (/_figway/), whatever app it migrates.
    admin_token: SecretStr | None = Field(None, validation_alias=_env("FIGWAY_ADMIN_TOKEN"))
    manifest: Path = Field(Path("migration_status.yaml"), validation_alias=_env("FIGWAY_MANIFEST"))
    log_file: Path | None = Field(None, validation_alias=_env("FIGWAY_LOG_FILE"))
    ffmpeg_path: str | None = Field(None, validation_alias=_env("FFMPEG_PATH"))

    session_cookie_name: str = "session"
    session_cookie_secure: bool = Field(False, validation_alias=_env("FIGWAY_COOKIE_SECURE"))
    session_lifetime_s: int = 14 * 24 * 3600
    jwt_expires_s: int = 3600
    # Failed logins that lock an account, and for how long (the contract: 5, 15 minutes).
    lockout_threshold: int = Field(5, ge=1, validation_alias=_env("FIGWAY_LOCKOUT_THRESHOLD"))
    lockout_s: int = Field(15 * 60, gt=0, validation_alias=_env("FIGWAY_LOCKOUT_SECONDS"))
    # Failed logins one client address may make per window (any accounts) before its
    # attempts get 429 and stop counting toward accounts' locks: without it one address
    # could lock every account, again and again.
    login_throttle_failures: int = Field(
        20, ge=1, validation_alias=_env("FIGWAY_LOGIN_THROTTLE_FAILURES")
    )
    login_throttle_window_s: int = Field(
        15 * 60, gt=0, validation_alias=_env("FIGWAY_LOGIN_THROTTLE_WINDOW")
    )
    # scrypt work factor for new password hashes; tests lower it, hashes carry their own.
    password_scrypt_n: int = Field(2**15, validation_alias=_env("FIGWAY_SCRYPT_N"))
    db_pool_size: int = Field(10, validation_alias=_env("FIGWAY_DB_POOL_SIZE"))
    # How long a request waits on a database that stopped answering (a hung server holds
    # connections open and sends nothing): to open a connection, for any reply (the
    # handshake, a ping, a statement; SQLite's lock wait) and for a free pooled connection.
    # Past one, the request answers 503 UNAVAILABLE instead of hanging with the server.
    db_connect_timeout_s: float = Field(
        3.0, gt=0, validation_alias=_env("FIGWAY_DB_CONNECT_TIMEOUT")
    )
    db_read_timeout_s: float = Field(5.0, gt=0, validation_alias=_env("FIGWAY_DB_READ_TIMEOUT"))
    db_pool_timeout_s: float = Field(5.0, gt=0, validation_alias=_env("FIGWAY_DB_POOL_TIMEOUT"))
    # A pooled connection idle longer than this is pinged before reuse (one round trip);
    # busier ones are not: a ping per checkout cost a round trip on every request.
    db_ping_after_idle_s: float = Field(
        10.0, ge=0, validation_alias=_env("FIGWAY_DB_PING_AFTER_IDLE")
    )
    # The legacy side behind the gateway: a2wsgi threads (each holds at most one sync DB
    # connection, so the sync pool is sized to match), how many may wait, how long one may run.
    legacy_threads: int = Field(10, validation_alias=_env("FIGWAY_LEGACY_THREADS"))
    legacy_queue: int = Field(100, validation_alias=_env("FIGWAY_LEGACY_QUEUE"))
    legacy_timeout_s: float = Field(30.0, validation_alias=_env("FIGWAY_LEGACY_TIMEOUT"))
    # How often each gateway process looks at the manifest for changes.
    manifest_poll_s: float = Field(0.2, validation_alias=_env("FIGWAY_MANIFEST_POLL"))
    # How often each gateway process reads the live state's version (gateway/live.py), one
    # primary-key read; with REDIS_URL, pub/sub wakes it at once and this poll is only a
    # backstop every few seconds. 0 turns following the live state off.
    live_poll_s: float = Field(0.5, ge=0, validation_alias=_env("FIGWAY_LIVE_POLL"))
    # Celery, when REDIS_URL is set: the queue downloads go to.
    celery_queue: str = Field("figway", validation_alias=_env("FIGWAY_CELERY_QUEUE"))
    # Socket.IO, when REDIS_URL is set: the pub/sub channel on which any process (a worker,
    # either side of any gateway) emits to the clients of every Socket.IO server.
    socketio_channel: str = Field(
        "figway-socketio", validation_alias=_env("FIGWAY_SOCKETIO_CHANNEL")
    )
    # After /socket.io/ changes owner, sessions opened on the old side may go on this long;
    # then the gateway ends them and the clients reconnect, to the new owner.
    channel_drain_s: float = Field(10.0, ge=0, validation_alias=_env("FIGWAY_CHANNEL_DRAIN"))
    # Downloads (both runners): a running job stamps heartbeat_at this often; the reaper,
    # every reaper interval, fails a running download whose stamp is older than stale_after
    # (its worker died). Transient failures (refused, timeout, 5xx) are retried this many
    # times, after retry_delay, doubling. The legacy app's threads never retry (its contract).
    download_heartbeat_s: float = Field(
        5.0, gt=0, validation_alias=_env("FIGWAY_DOWNLOAD_HEARTBEAT")
    )
    download_stale_after_s: float = Field(
        30.0, gt=0, validation_alias=_env("FIGWAY_DOWNLOAD_STALE_AFTER")
    )
    download_reaper_interval_s: float = Field(
        10.0, gt=0, validation_alias=_env("FIGWAY_DOWNLOAD_REAPER_INTERVAL")
    )
    # A queued download no worker has claimed this long lost its message (Redis restarted
    # without its data, or the process whose thread held it stopped): the reaper sends it
    # again. Longer than a retry's delay, so a row waiting for its retry is left alone.
    download_requeue_after_s: float = Field(
        120.0, gt=0, validation_alias=_env("FIGWAY_DOWNLOAD_REQUEUE_AFTER")
    )
    # How long the gateway gives Redis to take a download's message (connect and send
    # together) and a progress message: a hung Redis must cost a 503, not the client's wait.
    broker_timeout_s: float = Field(3.0, gt=0, validation_alias=_env("FIGWAY_BROKER_TIMEOUT"))
    download_max_retries: int = Field(2, ge=0, validation_alias=_env("FIGWAY_DOWNLOAD_RETRIES"))
    download_retry_delay_s: float = Field(
        2.0, ge=0, validation_alias=_env("FIGWAY_DOWNLOAD_RETRY_DELAY")
    )
    # Hosts ("host" or "host:port") a download may fetch from although they resolve to a
    # loopback, private, link-local or metadata address, which are refused otherwise: a
    # video's url is set by managers, and the server must not fetch its own network for
    # them. `figway run` adds the local fake provider. Comma-separated in the environment.
    download_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("FIGWAY_DOWNLOAD_ALLOW_HOSTS")
    )
    max_upload_bytes: int = 5 * 1024 * 1024
    # The Host names answered (others: 400), so no redirect or link points at a host an
    # attacker chose. Loopback names and the test clients' hosts by default; a deployment
    # adds its public name. Comma-separated or a JSON list; ".example.com" takes the
    # subdomains too, "*" any host (a proxy in front checks).
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]", "testserver"],
        validation_alias=_env("FIGWAY_TRUSTED_HOSTS"),
    )
    # The server (`figway serve`/`run`): a request line and headers past this many bytes
    # get 431, and a connection whose request head has not fully arrived this many seconds
    # after it opened (or after the head began, on a kept-alive connection) is closed: a
    # client trickling header lines cannot hold a connection for ever.
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, validation_alias=_env("FIGWAY_MAX_HEADER_BYTES")
    )
    header_timeout_s: float = Field(5.0, gt=0, validation_alias=_env("FIGWAY_HEADER_TIMEOUT"))
    # Rate limits (gateway/ratelimit.py): the limit of a manifest route that names none
    # ("60/minute"; empty: no limit), and the prefix of the counters' keys in Redis.
    rate_limit_default: str = Field("", validation_alias=_env("FIGWAY_RATE_LIMIT_DEFAULT"))
    rate_limit_prefix: str = Field("figway:rl:", validation_alias=_env("FIGWAY_RATE_LIMIT_PREFIX"))
    # Shadow traffic (gateway/shadow.py): replays waiting at most (more are dropped,
    # counted), the tasks replaying them at once, the largest body compared (a larger
    # answer is skipped, counted), how long one replay may take, and how often a process
    # writes its figures to figway_shadow_* (`figway shadow-report`).
    shadow_queue: int = Field(1000, ge=1, validation_alias=_env("FIGWAY_SHADOW_QUEUE"))
    # ...and the bytes of the answers they hold, all together (past it: dropped too).
    shadow_queue_bytes: int = Field(
        32 * 1024 * 1024, ge=0, validation_alias=_env("FIGWAY_SHADOW_QUEUE_BYTES")
    )
    shadow_workers: int = Field(2, ge=1, validation_alias=_env("FIGWAY_SHADOW_WORKERS"))
    shadow_max_body: int = Field(256 * 1024, ge=0, validation_alias=_env("FIGWAY_SHADOW_MAX_BODY"))
    shadow_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("FIGWAY_SHADOW_TIMEOUT"))
    shadow_flush_s: float = Field(10.0, gt=0, validation_alias=_env("FIGWAY_SHADOW_FLUSH"))
    # Diffy's noise filter: a field is reported when its difference rate (owner against
    # the other side) exceeds its noise rate (owner against itself) by more than this many
    # percentage points (absolute) and by more than this percentage of the noise rate
    # (relative).
    shadow_absolute_threshold: float = Field(
        0.03, ge=0, le=100, validation_alias=_env("FIGWAY_SHADOW_ABSOLUTE_THRESHOLD")
    )
    shadow_relative_threshold: float = Field(
        20.0, ge=0, validation_alias=_env("FIGWAY_SHADOW_RELATIVE_THRESHOLD")
    )
    # The differences kept with an example (method, path, both values), per route.
    shadow_examples: int = Field(10, ge=0, validation_alias=_env("FIGWAY_SHADOW_EXAMPLES"))
    # OpenTelemetry spans (shared/tracing): off; otlp (to the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318, as OTEL_SERVICE_NAME,
    # default figway); console (printed, to look at one locally).
    tracing: Literal["off", "otlp", "console"] = Field(
        "off", validation_alias=_env("FIGWAY_TRACING")
    )
    # Set by shared.tracing: the process's tracer once built, and the exporter a test gives
    # (shared.tracing.use_exporter). Private: no environment variable reaches them, and a
    # copy of the settings carries them along to every factory.
    _span_exporter: Any = PrivateAttr(None)
    _tracing: Any = PrivateAttr(None)

    @field_validator("trusted_hosts", "download_allow_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:  # a JSON list, as the other list settings; "[::1]" alone is no JSON
            listed = json.loads(value)
        except ValueError:
            listed = None
        if isinstance(listed, list):
            return listed
        return [name.strip() for name in value.split(",") if name.strip()]

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts_parse(cls, value: list[str]) -> list[str]:
        TrustedHosts(value)  # raises on an entry that is no host name
        return value

    max_transcodes: int = 4

    @property
    def max_request_bytes(self) -> int:
        """The largest request body either side reads (413 past it): an upload's limit plus
        room for the multipart framing around it."""
        return self.max_upload_bytes + 64 * 1024

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'figway.db').as_posix()}"
        if self.media_root is None:
            self.media_root = self.var_dir / "media"
        if self.log_file is None:
            self.log_file = self.var_dir / "figway.log"
        if self.secret_key is None:
            if self.env == "production":
                raise SettingsError("SECRET_KEY is required when FIGWAY_ENV=production")
            self.secret_key = SecretStr(_development_secret(self.var_dir))
        return self

    @property
    def state_url(self) -> str:
        """The database of figway's own tables: FIGWAY_STATE_DATABASE_URL, else the app's
        (DATABASE_URL, else figway's SQLite file under var/). Resolved when read, so a copy
        of the settings with another database_url takes its state along."""
        return self.state_database_url or self.database_url

    @property
    def media_dir(self) -> Path:
        assert self.media_root is not None  # filled by the validator
        return self.media_root

    @property
    def log_path(self) -> Path:
        assert self.log_file is not None  # filled by the validator
        return self.log_file

    @property
    def signing_keys(self) -> list[str]:
        """The current key first, then the fallbacks accepted for reading."""
        assert self.secret_key is not None  # filled by the validator
        return [self.secret_key.get_secret_value()] + [
            k.get_secret_value() for k in self.secret_key_fallbacks
        ]


def _development_secret(var_dir: Path) -> str:
    """Generate the development key once and keep it, so sessions survive a restart."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def get_settings(**overrides: object) -> Settings:
    """Read the environment once; callers pass the result down."""
    return Settings(**overrides)  # type: ignore[arg-type]
