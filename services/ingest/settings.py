"""Ingest settings (prefix ``RISKWATCH_INGEST_``): batch limits and the webhook adapters'
secrets. Secrets are ``SecretStr`` so they never show in a repr, a log line or an answer."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_INGEST_", extra="ignore")

    max_batch_events: int = Field(1000, ge=1, description="events per /v1/events/batch call")
    max_batch_customers: int = Field(1000, ge=1, description="profiles per customers batch")
    import_chunk_rows: int = Field(1000, ge=1, description="CSV rows written per statement")
    max_reported_rejections: int = Field(1000, ge=0, description="rejected CSV rows listed "
                                         "in an import's answer")
    # CSV imports stream row by row; these bound what one row may hold in memory.
    import_max_row_bytes: int = Field(1024 * 1024, ge=1024,
                                      description="bytes per CSV row (a quoted cell may span "
                                                  "lines)")
    import_max_columns: int = Field(500, ge=1, description="columns of a CSV header")
    # Standard Webhooks: source name -> space-separated ``whsec_…`` secrets (several while
    # rotating), e.g. {"erp": "whsec_abc…"}.
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Standard Webhooks senders, JSON: source -> "
        "space-separated `whsec_` secrets")
    webhook_tolerance_seconds: int = Field(300, ge=1, description="allowed clock skew of "
                                           "`webhook-timestamp`, seconds")
    # Zoho CRM notification channels: channel_id -> the channel's verification token.
    zoho_channels: dict[str, SecretStr] = Field(
        default_factory=dict, description="Zoho CRM channels, JSON: channel_id -> token")
    # Salesforce outbound messages: OrganizationId -> the token the endpoint URL carries as
    # ``?token=…`` (outbound messages cannot be signed).
    salesforce_orgs: dict[str, SecretStr] = Field(
        default_factory=dict, description="Salesforce orgs, JSON: OrganizationId -> URL token")
    # Up to 100 notifications of one record each fit easily; XML past this is refused (413)
    # before it is parsed.
    salesforce_max_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="largest Salesforce outbound message, bytes")
    # Fxiaoke push callbacks: app -> "<token> <encodingAesKey>" (the callback settings of the
    # app on the open platform); the matching token tells which app signed a push.
    fxiaoke_apps: dict[str, SecretStr] = Field(
        default_factory=dict, description="Fxiaoke push apps, JSON: name -> space-separated "
        "token and encodingAesKey")
    # Fxiaoke polling: connection -> "<appId> <appSecret> <permanentCode> <currentOpenUserId>".
    fxiaoke_corps: dict[str, SecretStr] = Field(
        default_factory=dict, description="Fxiaoke corps polled, JSON: connection -> "
        "space-separated appId, appSecret, permanentCode, currentOpenUserId")
    fxiaoke_base_url: str = Field("https://open.fxiaoke.com", description="Fxiaoke open "
                                  "platform API root")
    fxiaoke_poll_objects: list[str] = Field(
        default_factory=lambda: ["AccountObj"], description="CRM objects (apiName) polled "
        "for changes, e.g. [\"AccountObj\", \"SalesOrderObj\"]")
    # PostgreSQL only (SQLite keeps one event table): see services/ingest/events/partitions.py.
    event_partition_months_ahead: int = Field(
        3, ge=1, le=24, description="months of event partitions created ahead (PostgreSQL)")
    event_retention_months: int = Field(
        0, ge=0, description="months of events kept, counting the current one; older "
        "partitions are dropped by the ingest worker (PostgreSQL; 0 keeps every event)")
    fxiaoke_poll_minutes: int = Field(5, ge=1, le=59, description="minutes between polls "
                                      "of each Fxiaoke connection")
    fxiaoke_page_size: int = Field(100, ge=1, le=1000, description="records per data-query "
                                   "page (the platform allows up to 1,000)")
    fxiaoke_max_pages: int = Field(50, ge=1, description="pages per object per poll; the "
                                   "rest waits for the next poll")
    fxiaoke_lease_seconds: int = Field(300, ge=10, description="how long one replica holds "
                                       "a connection's poll before another may take it")
    fxiaoke_timeout_seconds: float = Field(10, gt=0, description="timeout of each call to "
                                           "the Fxiaoke open platform")
    # A stored Idempotency-Key answer is replayed for this long, then forgotten.
    idempotency_retention_hours: float = Field(
        24, gt=0, description="how long an Idempotency-Key answer is replayed")
    # Fernet keys (comma-separated, the first encrypts) for secrets stored through
    # /v1/webhook-sources; default: derived from RISKWATCH_INTERNAL_SECRET.
    secrets_keys: SecretStr | None = Field(
        None, description="Fernet keys (comma-separated, the first encrypts) for stored "
        "webhook secrets; default derived from the internal secret")


@lru_cache
def get_ingest_settings() -> IngestSettings:
    return IngestSettings()
