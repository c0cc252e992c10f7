"""NATS JetStream through the CloudEvents NATS binding (nats-py): a durable pull consumer
with explicit acks and ``max_ack_pending`` as the prefetch window; rejected messages are
published to a dead-letter subject (kept by a stream of its own) with the reason in the
``Riskwatch-Reason`` header before they are acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.ingest.bus.bindings import nats_event
from services.ingest.bus.consumer import BusConsumer, BusMessage, header_safe

REASON_HEADER = "Riskwatch-Reason"
SOURCE_HEADER = "Riskwatch-Source"


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` one token, ``>`` the rest."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


class JetStreamConsumer(BusConsumer):
    broker = "nats"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: Client | None = None
        self.js: JetStreamContext | None = None
        self.subscription: JetStreamContext.PullSubscription | None = None
        subject, dead = self.source.subject or "", self.source.dead_letter_name
        if subject_matches(subject, dead):
            raise ValueError(f"bus source {self.name}: the dead-letter subject {dead!r} is "
                             f"inside the consumed subjects {subject!r}")

    async def connect(self) -> None:
        stream, subject = self.source.stream or "", self.source.subject or ""
        # The client reconnects by itself (a restart of the server is a pause, not an
        # error); the shared loop still starts over if it gives up.
        self.client = await nats.connect(
            self.source.url.get_secret_value(), name=f"riskwatch-ingest-bus/{self.name}",
            connect_timeout=5, reconnect_time_wait=0.5, max_reconnect_attempts=-1,
            allow_reconnect=True)
        self.js = self.client.jetstream()
        try:
            await self.js.stream_info(stream)
        except NotFoundError:
            await self.js.add_stream(StreamConfig(name=stream, subjects=[subject],
                                                  storage=StorageType.FILE))
        dead = self.source.dead_letter_name
        try:
            await self.js.find_stream_name_by_subject(dead)
        except NotFoundError:
            await self.js.add_stream(StreamConfig(
                name=f"{stream}_DEADLETTER", subjects=[dead], storage=StorageType.FILE))
        self.subscription = await self.js.pull_subscribe(
            subject, durable=self.source.durable, stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                  ack_wait=self.source.ack_wait_seconds,
                                  max_ack_pending=max(self.source.prefetch, 1)))

    async def fetch(self, limit: int, idle_seconds: float) -> list[BusMessage]:
        if self.subscription is None or self.client is None or self.client.is_closed:
            raise ConnectionError("the connection to NATS is closed")
        try:
            messages = await self.subscription.fetch(limit, timeout=idle_seconds)
        except TimeoutError:  # nats.errors.TimeoutError too (a subclass)
            return []
        return [BusMessage(m.data, (m.headers or {}).get("Content-Type"), dict(m.headers or {}),
                           m) for m in messages]

    def decode(self, message: BusMessage) -> dict[str, Any]:
        return nats_event(message.body, headers=message.headers)

    async def ack(self, messages: Sequence[BusMessage]) -> None:
        for message in messages:
            await message.handle.ack()

    async def dead_letter(self, message: BusMessage, reason: str) -> None:
        assert self.js is not None
        await self.js.publish(self.source.dead_letter_name, message.body, headers={
            **message.headers, REASON_HEADER: header_safe(reason), SOURCE_HEADER: self.name})
        await message.handle.ack()

    async def release(self, messages: Sequence[BusMessage]) -> None:
        for message in messages:
            await message.handle.nak(delay=1)

    async def backlog(self) -> int | None:
        if self.js is None or self.client is None or not self.client.is_connected:
            return None
        info = await self.js.consumer_info(self.source.stream or "", self.source.durable)
        return int(info.num_pending or 0)

    async def close(self) -> None:
        client, self.client, self.js, self.subscription = self.client, None, None, None
        if client is not None and not client.is_closed:
            await client.close()
