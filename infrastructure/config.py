"""Configuration in one place: environment variables (and a `.env` file), documented in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_DATABASE_URL = "sqlite:///./var/civic-ledger.sqlite3"


def load_dotenv(path: Path = Path(".env")) -> None:
    """Reads KEY=VALUE lines of a `.env` file into the environment, never overriding what is set."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    overdue_grace_days: int = 7
    projection_poll_seconds: float = 0.2
    cipher_key: str | None = None
    state_checkpoint_every: int = 1000
    """Events between state checkpoints (most are page deltas on a base, decision 0022)."""
    state_checkpoint_rebase: float = 1.0
    """A new base checkpoint once the deltas since the last one carry this share of the replica's size."""
    auth_cache_seconds: float = 5.0
    grant_cache_recheck_seconds: float = 0.5
    """The grant-status cache re-reads the grants view's position at least this often, whatever it was told."""
    objection_deadline_days: int = 15
    signing_key: str | None = None
    sign_checkpoint_seconds: float = 3600.0
    sweep_seconds: float = 60.0
    min_position_wait_seconds: float = 10.0
    webhook_allow_hosts: str = ""
    """Hosts, addresses and CIDR networks webhooks may reach besides global addresses (comma-separated)."""
    public_base_url: str = "http://localhost:8000"
    """The service's public base URL: the CloudEvents `source` of its feeds and the origin of its signed-note
    checkpoints (an absolute http or https URL; a trailing slash is dropped)."""
    crypto_profile: str | None = None
    """`intl` or `sm`, asked for when the ledger is created; None: whatever the ledger recorded (intl for a new one)."""
    postgres_statement_timeout: int = 30
    postgres_lock_timeout: int = 5
    postgres_idle_in_transaction_timeout: int = 5
    shutdown_grace_seconds: float = 10.0
    max_command_bytes: int = 256 * 1024
    max_batch_bytes: int = 8 * 1024 * 1024
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=env.get("CIVIC_LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            host=env.get("CIVIC_LEDGER_HOST", "127.0.0.1"),
            port=int(env.get("CIVIC_LEDGER_PORT", "8000")),
            overdue_grace_days=int(env.get("CIVIC_LEDGER_OVERDUE_GRACE_DAYS", "7")),
            projection_poll_seconds=float(env.get("CIVIC_LEDGER_PROJECTION_POLL_SECONDS", "0.2")),
            cipher_key=env.get("CIVIC_LEDGER_CIPHER_KEY") or None,
            state_checkpoint_every=int(env.get("CIVIC_LEDGER_STATE_CHECKPOINT_EVERY", "1000")),
            state_checkpoint_rebase=float(env.get("CIVIC_LEDGER_STATE_CHECKPOINT_REBASE", "1")),
            auth_cache_seconds=float(env.get("CIVIC_LEDGER_AUTH_CACHE_SECONDS", "5")),
            grant_cache_recheck_seconds=float(env.get("CIVIC_LEDGER_GRANT_CACHE_RECHECK_SECONDS", "0.5")),
            objection_deadline_days=int(env.get("CIVIC_LEDGER_OBJECTION_DEADLINE_DAYS", "15")),
            signing_key=env.get("CIVIC_LEDGER_SIGNING_KEY") or None,
            sign_checkpoint_seconds=float(env.get("CIVIC_LEDGER_SIGN_CHECKPOINT_SECONDS", "3600")),
            sweep_seconds=float(env.get("CIVIC_LEDGER_SWEEP_SECONDS", "60")),
            min_position_wait_seconds=float(env.get("CIVIC_LEDGER_MIN_POSITION_WAIT_SECONDS", "10")),
            webhook_allow_hosts=env.get("CIVIC_LEDGER_WEBHOOK_ALLOW_HOSTS", ""),
            public_base_url=public_base_url(env.get("CIVIC_LEDGER_PUBLIC_BASE_URL") or "http://localhost:8000"),
            crypto_profile=crypto_profile(env.get("CIVIC_LEDGER_CRYPTO_PROFILE") or None),
            postgres_statement_timeout=_seconds(env, "CIVIC_LEDGER_POSTGRES_STATEMENT_TIMEOUT", 30),
            postgres_lock_timeout=_seconds(env, "CIVIC_LEDGER_POSTGRES_LOCK_TIMEOUT", 5),
            postgres_idle_in_transaction_timeout=_seconds(env, "CIVIC_LEDGER_POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT", 5),
            shutdown_grace_seconds=float(env.get("CIVIC_LEDGER_SHUTDOWN_GRACE_SECONDS", "10")),
            max_command_bytes=int(env.get("CIVIC_LEDGER_MAX_COMMAND_BYTES", str(256 * 1024))),
            max_batch_bytes=int(env.get("CIVIC_LEDGER_MAX_BATCH_BYTES", str(8 * 1024 * 1024))),
        )

    @property
    def backend(self) -> str:
        scheme = urlparse(self.database_url).scheme
        if scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgresql", "postgres"):
            return "postgres"
        raise ValueError(f"CIVIC_LEDGER_DATABASE_URL must start with sqlite:// or postgresql://, not {scheme!r}")

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for the configured store."""
        env: dict[str, str] = {
            "MAPPER_TOPIC": "infrastructure.transcoding:MsgspecMapper",
            "TRANSCODER_TOPIC": "infrastructure.transcoding:PassThroughTranscoder",
            "AGGREGATE_CACHE_MAXSIZE": "2000",
        }
        if self.cipher_key:
            env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
            env["CIPHER_KEY"] = self.cipher_key
        if self.backend == "sqlite":
            path = sqlite_path(self.database_url)
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=path,
                SQLITE_LOCK_TIMEOUT="30",
                APPLICATION_RECORDER_TOPIC="infrastructure.recorders:LedgerSQLiteRecorder",
            )
        else:
            u = urlparse(self.database_url)
            env.update(
                PERSISTENCE_MODULE="infrastructure.pgsession:LedgerPostgresFactory",
                POSTGRES_DBNAME=unquote(u.path.lstrip("/")) or "postgres",
                POSTGRES_HOST=u.hostname or "localhost",
                POSTGRES_PORT=str(u.port or 5432),
                POSTGRES_USER=unquote(u.username or "postgres"),
                POSTGRES_PASSWORD=unquote(u.password or ""),
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                # The library's own SET LOCAL before its LOCK TABLE, and the session's settings (pgsession).
                POSTGRES_LOCK_TIMEOUT=str(self.postgres_lock_timeout),
                POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT=str(self.postgres_idle_in_transaction_timeout),
                CIVIC_LEDGER_PG_STATEMENT_TIMEOUT=str(self.postgres_statement_timeout),
                CIVIC_LEDGER_PG_LOCK_TIMEOUT=str(self.postgres_lock_timeout),
                CIVIC_LEDGER_PG_IDLE_IN_TRANSACTION_TIMEOUT=str(self.postgres_idle_in_transaction_timeout),
                POSTGRES_PRE_PING=env_flag("CIVIC_LEDGER_POSTGRES_PRE_PING"),
                APPLICATION_RECORDER_TOPIC="infrastructure.recorders:LedgerPostgresRecorder",
            )
            query = dict(p.split("=", 1) for p in u.query.split("&") if "=" in p)
            if "schema" in query:
                env["POSTGRES_SCHEMA"] = query["schema"]
        return env


CRYPTO_PROFILES = ("intl", "sm")


def crypto_profile(value: str | None) -> str | None:
    """A valid profile name, or None (not asked for)."""
    if value is None:
        return None
    name = value.strip().lower()
    if name not in CRYPTO_PROFILES:
        raise ValueError(f"CIVIC_LEDGER_CRYPTO_PROFILE must be one of {', '.join(CRYPTO_PROFILES)}, not {value!r}")
    return name


def public_base_url(value: str) -> str:
    """An absolute http(s) URL without query, fragment or trailing slash; else a configuration error."""
    url = value.strip().rstrip("/")
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment or u.params:
        raise ValueError("CIVIC_LEDGER_PUBLIC_BASE_URL is an absolute http or https URL without query or "
                         f"fragment (e.g. https://ledger.example.org), not {value!r}")
    return url


def _seconds(env: dict[str, str], name: str, default: int) -> int:
    """A timeout in whole seconds (0: none); anything else is a configuration error that names the variable."""
    raw = env.get(name, str(default)).strip()
    if not raw.isdigit():
        raise ValueError(f"{name} is a whole number of seconds (0 for no limit), not {raw!r}")
    return int(raw)


def sqlite_path(url: str) -> str:
    """`sqlite:///relative/path`, `sqlite:////absolute/path` or `sqlite:///:memory:`."""
    rest = url[len("sqlite://"):]
    if rest.startswith("/"):
        rest = rest[1:]
    return rest or ":memory:"


def env_flag(name: str) -> str:
    """'y' or 'n' from an environment variable (default off)."""
    return "y" if os.environ.get(name, "").lower() in ("1", "y", "yes", "true", "on") else "n"
