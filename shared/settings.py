"""Settings read from the environment (prefix ``RISKWATCH_``), one class per process kind."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'riskwatch.db'}"
DEV_INTERNAL_SECRET = "dev-only-internal-secret-change-me"
MIN_SECRET_BYTES = 32
# Values that ship in examples and templates; compared case-insensitively, ignoring '-'/'_'.
PLACEHOLDER_SECRETS = frozenset({
    "changeme", "changeit", "secret", "password", "default", "example", "placeholder",
    "replaceme", "todo", "xxx", "internalsecret", DEV_INTERNAL_SECRET.replace("-", ""),
})


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot sign identities in production, or None if it can."""
    folded = secret.strip().lower().replace("-", "").replace("_", "")
    if folded in PLACEHOLDER_SECRETS or "changeme" in folded or "replaceme" in folded:
        return "is a placeholder"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    return None


class Settings(BaseSettings):
    """What every process needs: where the database is and how services trust the gateway."""

    model_config = SettingsConfigDict(env_prefix="RISKWATCH_", extra="ignore")

    env: str = Field("dev", description="dev, test or prod; outside dev and test the "
                     "internal secret must be at least 32 bytes and no placeholder")
    database_url: str = Field(
        DEFAULT_SQLITE_URL, description="where the one schema lives: `postgresql://…` "
        "(production, psycopg 3) or `sqlite:///…` (embedded default)")
    internal_secret: str = Field(
        DEV_INTERNAL_SECRET, description="signs the caller's identity from the gateway to the "
        "services (HMAC); `make run` makes a random one")
    bootstrap_api_key: str | None = Field(
        None, description="an API key with scope `admin` made to exist at start-up (idempotent)")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR (JSON lines)")
    # Keep the thread pool no larger than the connection pool, or overflow connections are
    # opened and closed under load (measured: p99 330 ms -> 120 ms).
    threadpool_size: int = Field(12, description="request threads per process")
    db_pool_size: int = Field(12, description="database connections kept per process")
    db_max_overflow: int = Field(4, description="extra connections allowed beyond the pool")
    max_in_flight: int = Field(
        256, ge=0, description="API requests a service process serves at once; the next is "
        "answered 503 with Retry-After at once instead of queueing (0: no limit)")

    host: str = Field("127.0.0.1", description="bind address of every process")
    # One process per API is the default: on a 2-core machine a second one competes with
    # PostgreSQL and the workers for the same cores (bench/README.md, "The server").
    server_workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes of "
                                "each API process (`riskwatch serve`; `--workers` wins)")
    gateway_port: int = Field(8000, description="gateway port")
    ingest_port: int = Field(8001, description="ingest service port")
    scoring_port: int = Field(8002, description="scoring service port")
    alerts_port: int = Field(8003, description="alerts service port")
    reviews_port: int = Field(8004, description="reviews service port")
    cockpit_port: int = Field(8005, description="cockpit (web desk) port")
    ingest_url: str | None = Field(None, description="where the gateway finds ingest "
                                   "(default `http://HOST:PORT`)")
    scoring_url: str | None = Field(None, description="where the gateway finds scoring")
    alerts_url: str | None = Field(None, description="where the gateway finds alerts")
    reviews_url: str | None = Field(None, description="where the gateway finds reviews")
    cockpit_url: str | None = Field(None, description="where the gateway finds the cockpit")

    rate_limit_per_second: float = Field(
        1000.0, description="per-key token bucket rate (per gateway replica); a key may carry "
        "its own (`keys create --rate-limit`)")
    rate_limit_burst: int = Field(2000, description="per-key token bucket size")
    max_body_bytes: int = Field(10 * 1024 * 1024, description="request body limit at the "
                                "gateway and in every service (413)")
    max_import_body_bytes: int = Field(
        2 * 1024 * 1024 * 1024, description="body limit of streamed CSV imports and "
        "training files")
    upstream_connect_timeout: float = Field(2.0, description="gateway → service connect "
                                            "timeout, seconds (503)")
    upstream_read_timeout: float = Field(30.0, description="gateway → service read timeout, "
                                         "seconds (504)")
    key_cache_seconds: float = Field(5.0, description="how long the gateway caches a key "
                                     "lookup; a revoked key stops working within this")

    queue_lease_seconds: float = Field(30.0, description="a claimed work item returns to the "
                                       "queue after this")
    queue_max_attempts: int = Field(8, description="attempts before a work item is "
                                    "dead-lettered")
    queue_backoff_base_seconds: float = Field(1.0, description="first retry delay "
                                              "(exponential, with jitter)")
    queue_backoff_max_seconds: float = Field(600.0, description="longest retry delay")
    worker_poll_seconds: float = Field(0.1, gt=0, description="how often an idle worker "
                                       "polls when nothing tells it of new work (SQLite, or "
                                       "its listening connection down)")
    worker_listen_poll_seconds: float = Field(
        2.0, gt=0, description="how often an idle worker polls while it is told of new work "
        "(PostgreSQL LISTEN): for work that comes due later, e.g. retries")
    # Workers drain a queue that loses nothing, while a caller waits on every API request:
    # when the cores are short, the request path should win (bench/README.md, "End-to-end
    # capacity": event -> score p99 at 200 events/s on 2 cores).
    worker_nice: int = Field(10, ge=0, le=19, description="how much a worker process lowers "
                             "its CPU priority at start (`nice`; 0: not at all)")
    worker_batch_size: int = Field(50, description="work items claimed per batch (a failed "
                                   "batch is retried item by item)")

    @model_validator(mode="after")
    def _refuse_weak_secrets_outside_dev(self) -> Settings:
        if self.env in ("dev", "test"):
            return self
        if self.internal_secret == DEV_INTERNAL_SECRET:
            raise ValueError(
                f"RISKWATCH_INTERNAL_SECRET must be set when RISKWATCH_ENV={self.env}")
        problem = secret_problem(self.internal_secret)
        if problem:
            raise ValueError(
                f"RISKWATCH_INTERNAL_SECRET {problem}; with RISKWATCH_ENV={self.env} it must "
                f"be a random value of at least {MIN_SECRET_BYTES} bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        return self

    def service_url(self, service: str) -> str:
        explicit = getattr(self, f"{service}_url")
        if explicit:
            return str(explicit).rstrip("/")
        return f"http://{self.host}:{getattr(self, f'{service}_port')}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
