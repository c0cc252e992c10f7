"""Message-bus sources (prefix ``RISKWATCH_BUS_``): which brokers the ingest-bus consumer
reads CloudEvents from. A source's URL may carry a password, so it is a ``SecretStr``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BusSource(BaseModel):
    """One queue (RabbitMQ) or stream consumer (NATS JetStream) to read CloudEvents from."""

    model_config = ConfigDict(extra="forbid")

    broker: Literal["rabbitmq", "nats"]
    url: SecretStr = Field(description="amqp://user:pass@host:5672/vhost or nats://host:4222")
    queue: str | None = Field(None, description="rabbitmq: the queue consumed (declared "
                              "durable if missing)")
    stream: str | None = Field(None, description="nats: the JetStream stream (created on "
                               "`subject` if missing)")
    subject: str | None = Field(None, description="nats: the subject filter, e.g. events.>")
    durable: str = Field("riskwatch-ingest", description="nats: the durable consumer's name")
    dead_letter: str | None = Field(
        None, description="where rejected messages go with their reason: a queue (rabbitmq) "
        "or a subject (nats, outside `subject`); default `<queue>.dead` / "
        "`deadletter.<stream>`")
    prefetch: int = Field(100, ge=1, le=10_000, description="messages in flight unacked: "
                          "two batches of half as many, one stored while the next is read")
    ack_wait_seconds: float = Field(30, gt=0, description="nats: redelivery after this long "
                                    "unacked")

    @model_validator(mode="after")
    def _names(self) -> BusSource:
        if self.broker == "rabbitmq" and not self.queue:
            raise ValueError("a rabbitmq source needs a queue")
        if self.broker == "nats" and not (self.stream and self.subject):
            raise ValueError("a nats source needs a stream and a subject")
        return self

    @property
    def dead_letter_name(self) -> str:
        if self.dead_letter:
            return self.dead_letter
        return f"{self.queue}.dead" if self.broker == "rabbitmq" else \
            f"deadletter.{self.stream}"


class BusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKWATCH_BUS_", extra="ignore")

    sources: dict[str, BusSource] = Field(
        default_factory=dict, description="message-bus sources, JSON: name -> {broker "
        "(rabbitmq|nats), url, queue | stream+subject, durable, dead_letter, prefetch}")
    only: str | None = Field(
        None, description="consume only this source (one `ingest-bus` process per source); "
        "default: every configured source, one connection each")
    metrics_port: int = Field(9464, ge=0, description="port of the ingest-bus process's "
                              "Prometheus /metrics (0: not served)")
    batch_wait_ms: float = Field(20, ge=0, description="how long a consumer waits to fill a "
                                 "batch (up to half of `prefetch`) once a first message is in")
    lag_interval_seconds: float = Field(5, gt=0, description="how often the backlog gauge "
                                        "is read from the broker")
    reconnect_max_seconds: float = Field(10, gt=0, description="longest wait between "
                                         "reconnection attempts (exponential backoff)")


@lru_cache
def get_bus_settings() -> BusSettings:
    return BusSettings()
