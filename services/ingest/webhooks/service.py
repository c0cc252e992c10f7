"""The CRM and signed-webhook adapters' orchestration: authenticate the sender, de-duplicate
the delivery, and apply what the adapter translated (profile upserts through an alias, a
record never seen before becoming a customer whose id is the CRM id; events through the
events service). No HTTP here: the router reads the request, this decides."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.customers.repository import upsert_aliases
from services.ingest.customers.service import UpsertOutcome, upsert_lenient
from services.ingest.events.repository import EPOCH, ensure_customers, resolve_aliases
from services.ingest.events.service import EventOutcome, ingest_events
from services.ingest.settings import IngestSettings
from services.ingest.sources.schemas import Adapter
from services.ingest.sources.service import all_secrets, secrets_for
from services.ingest.webhooks import fxiaoke, repository, salesforce, zoho
from services.ingest.webhooks.crm import ProfileUpdate, Translation
from services.ingest.webhooks.schemas import ZohoReceipt
from services.ingest.webhooks.signatures import SignatureInvalid, verify
from shared.errors import BadRequest, ProblemError, Unauthorized, ValidationFailed, field_error
from shared.models import utcnow
from shared.queue import enqueue
from shared.topics import INGEST_FXIAOKE
from shared.validation import customer_id_problem, value_problems

log = logging.getLogger("riskwatch.ingest.webhooks")
# The columns of webhook_delivery (adapter, delivery_id).
_ADAPTER_LENGTH, _DELIVERY_ID_LENGTH = 64, 255
CUSTOMER_ID_LENGTH = 128  # customer.customer_id
# Checked against when a sender is not configured, so an unknown sender costs the same work
# and gets the same answer as a wrong signature or token: a 401 never says which it was.
_DECOY_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
_DECOY_TOKEN = secrets.token_urlsafe(32)


class WebhookUnauthorized(Unauthorized):
    code, title = "webhook-unauthorized", "Webhook sender not authenticated"


def _refuse(adapter: str, reason: str) -> WebhookUnauthorized:
    # The log says why; the answer says the same thing whatever failed (no secret, no token,
    # and not whether the sender is configured at all).
    log.warning("webhook refused", extra={"fields": {"adapter": adapter, "reason": reason}})
    return WebhookUnauthorized(f"The {adapter.split('/')[0]} delivery was not authenticated: "
                               "the signature or token is missing, stale or wrong.")


def _matches(expected: list[str], given: str) -> bool:
    """Constant-time comparison against every configured token."""
    matched = False
    for token in expected:
        matched |= hmac.compare_digest(token.encode(), given.encode())
    return matched


def _fit(value: str, limit: int) -> str:
    """``value`` as a key of at most ``limit`` characters: longer ones keep a prefix and a
    digest of the whole, so two long keys never collide."""
    if len(value) <= limit:
        return value
    return value[:limit - 41] + "~" + hashlib.sha256(value.encode()).hexdigest()[:40]


def first_delivery(session: Session, *, adapter: str, delivery_id: str) -> bool:
    return repository.record_delivery(session, adapter=_fit(adapter, _ADAPTER_LENGTH),
                                      delivery_id=_fit(delivery_id, _DELIVERY_ID_LENGTH),
                                      now=utcnow())


def authenticate_generic(session: Session, settings: IngestSettings, *, source: str,
                         msg_id: str | None, timestamp: str | None, signatures: str | None,
                         body: bytes) -> str:
    """The delivery's ``webhook-id`` once its Standard Webhooks signature checks out."""
    configured = secrets_for(session, settings, adapter=Adapter.generic, name=source)
    try:
        verify(configured or [_DECOY_SECRET], msg_id=msg_id, timestamp=timestamp,
               signatures=signatures, body=body, tolerance=settings.webhook_tolerance_seconds)
    except SignatureInvalid as exc:
        raise _refuse(f"generic/{source}", str(exc)) from None
    if not configured:
        raise _refuse(f"generic/{source}", "no secret is configured for this source")
    assert msg_id is not None  # verify() refuses a delivery without one
    return msg_id


def receive_zoho(session: Session, settings: IngestSettings, *, body: bytes,
                 payload: Any) -> ZohoReceipt:
    """Apply one Zoho CRM notification: counts of customers by outcome, events, ignored."""
    try:
        note = zoho.parse(payload)
    except zoho.NotificationInvalid as exc:
        raise BadRequest(f"Not a Zoho CRM notification: {exc}.",
                         errors=[field_error("body", str(exc))]) from None
    problems = value_problems(payload)
    if problems:
        raise ValidationFailed("The notification holds values that cannot be stored.",
                               errors=problems)
    expected = secrets_for(session, settings, adapter=Adapter.zoho_crm, name=note.channel_id)
    matched = _matches(expected or [_DECOY_TOKEN], note.token)
    if not expected or not matched:
        raise _refuse(zoho.ADAPTER, "unknown channel_id" if not expected
                      else "token does not match the channel")
    if not first_delivery(session, adapter=zoho.ADAPTER,
                          delivery_id=hashlib.sha256(body).hexdigest()):
        return ZohoReceipt(status="duplicate")
    translation = zoho.translate(note)
    customers: dict[str, int] = {}
    for profile in translation.profiles:
        outcome = upsert_profile(session, source=zoho.ADAPTER, profile=profile)
        customers[outcome.status] = customers.get(outcome.status, 0) + 1
    outcomes = ingest_events(session, items=translation.events) if translation.events else []
    return ZohoReceipt(status="accepted", customers=customers, events=_counts(outcomes),
                       ignored=translation.ignored)


def receive_salesforce(session: Session, settings: IngestSettings, *, token: str | None,
                       body: bytes) -> None:
    """Apply one outbound message; the org and its token are checked before the
    notifications are parsed, and a missing token before anything is."""
    if not token:
        raise _refuse(salesforce.ADAPTER, "token missing")

    def authorise(organization_id: str) -> None:
        expected = secrets_for(session, settings, adapter=Adapter.salesforce,
                               name=organization_id)
        matched = _matches(expected or [_DECOY_TOKEN], token)
        if not expected or not matched:
            raise _refuse(salesforce.ADAPTER, "unknown OrganizationId" if not expected
                          else "token does not match the organization")

    try:
        message = salesforce.parse(body, authorise=authorise)
    except salesforce.MessageInvalid as exc:
        raise BadRequest(f"Not a Salesforce outbound message: {exc}.",
                         errors=[field_error("body", str(exc))]) from None
    problems = value_problems([obj.fields for obj in message.objects], prefix="Notification.")
    if problems:
        raise ValidationFailed("The message holds values that cannot be stored.",
                               errors=problems)
    events: list[dict[str, Any]] = []
    for obj in message.objects:
        if not first_delivery(session, adapter=salesforce.ADAPTER,
                              delivery_id=obj.notification_id):
            continue
        translated = salesforce.translate(obj, organization_id=message.organization_id)
        if isinstance(translated, ProfileUpdate):
            upsert_profile(session, source=salesforce.ADAPTER, profile=translated)
        elif translated is None:
            log.warning("salesforce object without AccountId ignored",
                        extra={"fields": {"type": obj.type}})
        else:
            events.append(translated)
    for outcome in ingest_events(session, items=events) if events else []:
        if outcome.status == "rejected":
            log.warning("salesforce notification rejected",
                        extra={"fields": {"errors": outcome.errors}})


def receive_fxiaoke(session: Session, settings: IngestSettings, *, payload: Any,
                    now_ms: int) -> str:
    """Verify one Fxiaoke push and queue it: the time stamp window and the signature are
    checked before anything is decrypted; a redelivered message (the platform retries once
    when it does not hear ``success`` in 3 seconds) is queued once. ``accepted`` or
    ``duplicate``."""
    try:
        envelope = fxiaoke.parse_envelope(payload)
    except fxiaoke.EnvelopeInvalid as exc:
        raise BadRequest(f"Not a Fxiaoke push: {exc}.",
                         errors=[field_error("body", str(exc))]) from None
    if abs(now_ms - envelope.timestamp_ms) > settings.webhook_tolerance_seconds * 1000:
        raise _refuse(fxiaoke.ADAPTER, "timeStamp outside the allowed window")
    apps = {name: secrets for name, secrets in
            all_secrets(session, settings, adapter=Adapter.fxiaoke).items()
            if len(secrets) >= 2}
    matched: tuple[str, str] | None = None
    # Every app's signature is computed and compared, so timing says nothing about which.
    candidates = sorted(apps.items()) or [("", [_DECOY_TOKEN, ""])]
    for name, (token, key, *_) in candidates:
        expected = fxiaoke.signature(token, timestamp=envelope.timestamp,
                                     nonce=envelope.nonce, content=envelope.content)
        if hmac.compare_digest(expected.encode(), envelope.sig.lower().encode()) and name:
            matched = (name, key)
    if matched is None:
        raise _refuse(fxiaoke.ADAPTER, "no configured app's token matches the signature")
    app, encoding_key = matched
    try:
        plaintext = fxiaoke.decrypt(envelope.content, fxiaoke.aes_key(encoding_key))
        message = fxiaoke.message_of(plaintext)
    except (fxiaoke.DecryptFailed, fxiaoke.EnvelopeInvalid, ValueError) as exc:
        raise BadRequest(f"The Fxiaoke push does not decrypt: {exc}.",
                         errors=[field_error("content", str(exc))]) from None
    problems = value_problems(message, prefix="content.")
    if problems:
        raise ValidationFailed("The message holds values that cannot be stored.",
                               errors=problems)
    if not first_delivery(session, adapter=fxiaoke.ADAPTER,
                          delivery_id=hashlib.sha256(plaintext.encode()).hexdigest()):
        return "duplicate"
    enqueue(session, topic=INGEST_FXIAOKE, key=app, payload={"app": app, "message": message})
    return "accepted"


def apply_translation(session: Session, *, source: str,
                      translation: Translation) -> dict[str, int]:
    """Profiles upserted and events stored from a CRM adapter's translation; a record whose
    id cannot be a customer id is skipped (logged), not the rest. Counts by outcome."""
    counts: dict[str, int] = {"ignored": translation.ignored}
    for profile in translation.profiles:
        status: str
        try:
            with session.begin_nested():
                status = upsert_profile(session, source=source, profile=profile).status
        except ProblemError as exc:
            log.warning("CRM record skipped", extra={"fields": {
                "source": source, "reason": exc.detail}})
            status = "skipped"
        counts[status] = counts.get(status, 0) + 1
    if translation.events:
        for outcome in ingest_events(session, items=translation.events):
            counts[f"events_{outcome.status}"] = counts.get(f"events_{outcome.status}", 0) + 1
            if outcome.status == "rejected":
                log.warning("CRM event rejected", extra={"fields": {
                    "source": source, "errors": outcome.errors}})
    return counts


def apply_fxiaoke(session: Session, *, payload: dict[str, Any]) -> dict[str, int]:
    """The ingest worker's handler for a queued push: translate and apply."""
    message = payload.get("message")
    translation = fxiaoke.translate_message(message if isinstance(message, dict) else {})
    return apply_translation(session, source=fxiaoke.ADAPTER, translation=translation)


def _counts(outcomes: list[EventOutcome]) -> dict[str, int]:
    return {s: sum(1 for o in outcomes if o.status == s)
            for s in ("accepted", "duplicate", "rejected")}


def customer_id_for(session: Session, *, source: str, external_id: str) -> str:
    return resolve_aliases(session, {(source, external_id)}).get((source, external_id),
                                                                 external_id)


def upsert_profile(session: Session, *, source: str, profile: ProfileUpdate) -> UpsertOutcome:
    """Apply the CRM's fields; a field that does not validate is dropped, not the record."""
    external_id = profile.external_id
    customer_id = customer_id_for(session, source=source, external_id=external_id)
    if len(customer_id) > CUSTOMER_ID_LENGTH or len(external_id) > _DELIVERY_ID_LENGTH:
        raise BadRequest(f"The {source} record '{external_id[:100]}' cannot be a customer id.",
                         errors=[field_error("ids", f"record id longer than "
                                                    f"{CUSTOMER_ID_LENGTH} characters")])
    if problem := customer_id_problem(customer_id):
        raise BadRequest(f"The {source} record '{external_id[:100]}' cannot be a customer id.",
                         errors=[field_error("ids", f"record id {problem}")])
    if not profile.fields:
        # Only the record id is known (the CRM sent no values): a minimal customer, like an
        # event arriving first, that the next notification with values completes.
        ensure_customers(session, [customer_id], now=utcnow())
        upsert_aliases(session, customer_id, [(source, external_id)])
        return UpsertOutcome(customer_id, "unchanged", EPOCH)
    outcome = upsert_lenient(session, customer_id=customer_id, fields=profile.fields,
                             version=profile.version, aliases=[(source, external_id)])
    if outcome is None:
        raise BadRequest(f"The {source} record '{external_id[:100]}' cannot be a customer id.",
                         errors=[field_error("ids", "not a valid customer id")])
    return outcome
