"""RabbitMQ through the CloudEvents AMQP binding (aio-pika): a durable queue consumed with a
prefetch window, rejected messages published (with publisher confirms) to a dead-letter
queue with the reason in the ``x-riskwatch-reason`` header before they are acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import ChannelNotFoundEntity

from services.ingest.bus.bindings import amqp_event
from services.ingest.bus.consumer import BusConsumer, BusMessage

REASON_HEADER = "x-riskwatch-reason"
SOURCE_HEADER = "x-riskwatch-source"


class ConnectionLost(ConnectionError):
    pass


class RabbitMQConsumer(BusConsumer):
    broker = "rabbitmq"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.queue: AbstractQueue | None = None
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    @property
    def connection_name(self) -> str:
        """What the broker shows for this connection (``rabbitmqctl list_connections``)."""
        return f"riskwatch-ingest-bus/{self.name}"

    async def connect(self) -> None:
        # A plain connection, not aio-pika's robust one: the shared loop owns reconnecting,
        # so a lost connection always starts from a fresh channel and an empty inbox.
        connection = await aio_pika.connect(
            self.source.url.get_secret_value(), timeout=10,
            client_properties={"connection_name": self.connection_name})
        self.connection = connection  # type: ignore[assignment]
        queue_name = self.source.queue or ""
        self.channel = await connection.channel(publisher_confirms=True)
        try:
            # An existing queue is used as it is (classic, quorum, with its own arguments).
            self.queue = await self.channel.declare_queue(queue_name, passive=True)
        except ChannelNotFoundEntity:
            self.channel = await connection.channel(publisher_confirms=True)
            self.queue = await self.channel.declare_queue(queue_name, durable=True)
        await self.channel.declare_queue(self.source.dead_letter_name, durable=True)
        await self.channel.set_qos(prefetch_count=self.source.prefetch)
        self.inbox = asyncio.Queue()
        await self.queue.consume(self.inbox.put)

    def _alive(self) -> AbstractChannel:
        if self.channel is None or self.channel.is_closed or self.connection is None \
                or self.connection.is_closed:
            raise ConnectionLost("the connection or channel to RabbitMQ is closed")
        return self.channel

    async def fetch(self, limit: int, idle_seconds: float) -> list[BusMessage]:
        self._alive()
        try:
            first = await asyncio.wait_for(self.inbox.get(), idle_seconds)
        except TimeoutError:
            self._alive()
            return []
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.settings.batch_wait_ms / 1000
        while len(batch) < limit:
            if not self.inbox.empty():
                batch.append(self.inbox.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.inbox.get(), remaining))
            except TimeoutError:
                break
        return [BusMessage(m.body, m.content_type, dict(m.headers or {}), m) for m in batch]

    def decode(self, message: BusMessage) -> dict[str, Any]:
        return amqp_event(message.body, content_type=message.content_type,
                          properties=message.headers)

    async def ack(self, messages: Sequence[BusMessage]) -> None:
        # One frame for the batch: every earlier delivery on this channel is settled by now
        # (stored in this or an earlier batch, or dead-lettered and acked on its own).
        self._alive()
        last = max(messages, key=lambda m: m.handle.delivery_tag)
        await last.handle.ack(multiple=True)

    async def dead_letter(self, message: BusMessage, reason: str) -> None:
        channel = self._alive()
        incoming: AbstractIncomingMessage = message.handle
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body, content_type=message.content_type,
                headers={**message.headers, REASON_HEADER: reason, SOURCE_HEADER: self.name},
                message_id=incoming.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=self.source.dead_letter_name)
        await incoming.ack()

    async def release(self, messages: Sequence[BusMessage]) -> None:
        for message in messages:
            await message.handle.nack(requeue=True)

    async def backlog(self) -> int | None:
        channel = self._alive()
        queue = await channel.declare_queue(self.source.queue or "", passive=True)
        count = queue.declaration_result.message_count
        return int(count) if count is not None else None

    async def close(self) -> None:
        connection, self.connection, self.channel, self.queue = self.connection, None, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()
