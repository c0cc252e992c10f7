"""The CloudEvents AMQP and NATS bindings read a broker message as the event POST /v1/events
would have been given (pure functions, no broker)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from services.ingest.bus.bindings import MessageMalformed, amqp_event, nats_event
from services.ingest.bus.jetstream import subject_matches


def test_amqp_binary_mode_maps_typed_properties_and_the_content_type() -> None:
    properties = {"cloudEvents_specversion": b"1.0", "cloudEvents_id": "1",
                  "cloudEvents_source": "erp", "cloudEvents_type": "note.added",
                  "cloudEvents_time": dt.datetime(2026, 11, 1, 10, 0),  # AMQP timestamp
                  "cloudEvents_sequence": 7, "other": "ignored"}
    event = amqp_event(b"hello", content_type="text/plain; charset=utf-8",
                       properties=properties)
    assert event == {"specversion": "1.0", "id": "1", "source": "erp", "type": "note.added",
                     "time": "2026-11-01T10:00:00+00:00", "sequence": 7,
                     "datacontenttype": "text/plain; charset=utf-8", "data": "hello"}
    raw = amqp_event(b"\x00\x01", content_type="application/octet-stream",
                     properties={"cloudEvents:specversion": "1.0"})
    assert raw["data_base64"] == base64.b64encode(b"\x00\x01").decode()


def test_amqp_structured_mode_needs_the_cloudevents_content_type() -> None:
    body = json.dumps({"specversion": "1.0", "id": "1"}).encode()
    assert amqp_event(body, content_type="application/cloudevents+json; charset=utf-8",
                      properties=None)["id"] == "1"
    with pytest.raises(MessageMalformed, match="not a CloudEvent"):
        amqp_event(body, content_type="application/json", properties={})
    with pytest.raises(MessageMalformed, match="one JSON object"):
        amqp_event(b"[1]", content_type="application/cloudevents+json", properties={})
    with pytest.raises(MessageMalformed, match="nested too deep"):
        amqp_event(b"[" * 200 + b"]" * 200, content_type="application/cloudevents+json",
                   properties={})
    with pytest.raises(MessageMalformed, match="not JSON"):
        amqp_event(b'{"a": NaN}', content_type="application/cloudevents+json", properties={})


def test_nats_binary_headers_are_case_insensitive_and_json_data_is_parsed() -> None:
    event = nats_event(b'{"amount": "1"}', headers={
        "Ce-Specversion": "1.0", "ce-id": "9", "Content-Type": "application/json"})
    assert event == {"specversion": "1.0", "id": "9", "datacontenttype": "application/json",
                     "data": {"amount": "1"}}
    with pytest.raises(MessageMalformed, match="not UTF-8"):
        nats_event(b"\xff\xfe", headers=None)


def test_nats_subject_wildcards() -> None:
    assert subject_matches("events.>", "events.a.b")
    assert not subject_matches("events.>", "events")
    assert subject_matches("events.*.x", "events.a.x")
    assert not subject_matches("events.*", "events.a.b")
    assert not subject_matches("events.>", "deadletter.EVENTS")
