"""Receivers: create, change, list and remove them. Secrets (a webhook's signing secret, an
e-mail or chat Apprise URL) are stored encrypted, never returned, and audited only as "set"."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.alerts.receivers import repository
from services.alerts.receivers.schemas import (
    MAIL_SCHEMES,
    Filters,
    ReceiverIn,
    ReceiverKind,
    ReceiverOut,
    ReceiverPatch,
    webhook_secret_problem,
    webhook_url_problem,
)
from services.alerts.receivers.senders import describe_apprise_url
from services.alerts.receivers.settings import ReceiverSettings
from shared import audit
from shared.errors import Conflict, NotFound, ValidationFailed, field_error
from shared.models import utcnow
from shared.models.notifications import Receiver
from shared.secrets import SecretBox


def secret_box(settings: ReceiverSettings) -> SecretBox:
    return SecretBox(keys=settings.receivers_secrets_keys, purpose="alerts-receivers",
                     setting="RISKWATCH_ALERTS_RECEIVERS_SECRETS_KEYS")


def _target(kind: ReceiverKind, *, url: str | None, secret: str | None,
            apprise_url: str | None) -> tuple[str | None, str, str | None]:
    """(webhook url, the secret to store, the masked Apprise URL), or a 422 naming the
    field that does not fit the kind."""
    problems: list[dict[str, Any]] = []
    if kind is ReceiverKind.WEBHOOK:
        if apprise_url is not None:
            problems.append(field_error("apprise_url", "only for email and chat receivers"))
        if url is None:
            problems.append(field_error("url", "a webhook receiver needs its endpoint"))
        elif (problem := webhook_url_problem(url)) is not None:
            problems.append(field_error("url", problem))
        if secret is None:
            problems.append(field_error("secret", "a webhook receiver needs a whsec_ secret"))
        elif (problem := webhook_secret_problem(secret)) is not None:
            problems.append(field_error("secret", problem))
        if problems:
            raise ValidationFailed("The webhook receiver is not valid.", errors=problems)
        assert secret is not None
        return url, secret, None
    for name, value in (("url", url), ("secret", secret)):
        if value is not None:
            problems.append(field_error(name, "only for webhook receivers; e-mail and chat "
                                              "receivers take apprise_url"))
    scheme, masked = (None, None) if apprise_url is None else describe_apprise_url(apprise_url)
    if apprise_url is None:
        problems.append(field_error("apprise_url", f"an {kind.value} receiver needs one"))
    elif scheme is None:
        problems.append(field_error("apprise_url", "Apprise does not recognise this URL"))
    elif kind is ReceiverKind.EMAIL and scheme not in MAIL_SCHEMES:
        problems.append(field_error("apprise_url", "must be a mailto:// or mailtos:// URL"))
    elif kind is ReceiverKind.CHAT and scheme in MAIL_SCHEMES:
        problems.append(field_error("apprise_url", "e-mail goes to an email receiver"))
    if problems:
        raise ValidationFailed(f"The {kind.value} receiver is not valid.", errors=problems)
    assert apprise_url is not None
    return None, apprise_url, masked


def to_out(receiver: Receiver) -> ReceiverOut:
    return ReceiverOut(
        id=receiver.id, name=receiver.name, kind=ReceiverKind(receiver.kind), url=receiver.url,
        target=receiver.display_target, secret_set=bool(receiver.secret_ciphertext),
        filters=Filters.model_validate({"severities": receiver.severities,
                                        "rule_ids": receiver.rule_ids,
                                        "tiers": receiver.tiers}),
        include_drills=receiver.include_drills, enabled=receiver.enabled,
        created_by=receiver.created_by, created_at=receiver.created_at,
        updated_at=receiver.updated_at)


def _audit_details(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps of a receiver: everything but the secret."""
    return {"name": receiver.name, "kind": receiver.kind, "url": receiver.url,
            "target": receiver.display_target, "severities": receiver.severities,
            "rule_ids": receiver.rule_ids, "tiers": receiver.tiers,
            "include_drills": receiver.include_drills, "enabled": receiver.enabled, **extra}


def get(session: Session, receiver_id: int) -> Receiver:
    receiver = repository.get(session, receiver_id)
    if receiver is None:
        raise NotFound(f"No receiver {receiver_id}.")
    return receiver


def create(session: Session, settings: ReceiverSettings, *, body: ReceiverIn,
           actor: str) -> ReceiverOut:
    url, secret, masked = _target(body.kind, url=body.url, secret=body.secret,
                                  apprise_url=body.apprise_url)
    if repository.name_taken(session, body.name):
        raise Conflict(f"A receiver named {body.name!r} exists.")
    now = utcnow()
    receiver = Receiver(
        name=body.name, kind=body.kind.value, url=url, display_target=masked,
        secret_ciphertext=secret_box(settings).seal(secret),
        severities=[s.value for s in body.filters.severities],
        rule_ids=list(body.filters.rule_ids), tiers=list(body.filters.tiers),
        include_drills=body.include_drills, enabled=body.enabled, created_by=actor,
        created_at=now, updated_at=now)
    session.add(receiver)
    session.flush()
    audit.record(session, actor=actor, action="receiver.created", subject_type="receiver",
                 subject_id=str(receiver.id), details=_audit_details(receiver))
    return to_out(receiver)


def update(session: Session, settings: ReceiverSettings, *, receiver_id: int,
           body: ReceiverPatch, actor: str) -> ReceiverOut:
    receiver = get(session, receiver_id)
    given = body.model_fields_set
    kind = ReceiverKind(receiver.kind)
    if {"url", "secret", "apprise_url"} & given:
        box = secret_box(settings)
        stored = box.open(receiver.secret_ciphertext)
        # What is not given keeps its stored value; what does not fit the kind is a 422.
        if kind is ReceiverKind.WEBHOOK:
            url, secret, masked = _target(
                kind, url=body.url if "url" in given else receiver.url,
                secret=body.secret if "secret" in given else stored,
                apprise_url=body.apprise_url)
        else:
            url, secret, masked = _target(
                kind, url=body.url, secret=body.secret,
                apprise_url=body.apprise_url if "apprise_url" in given else stored)
        receiver.url, receiver.display_target = url, masked
        if secret != stored:
            receiver.secret_ciphertext = box.seal(secret)
    if body.name is not None and body.name != receiver.name:
        if repository.name_taken(session, body.name, other_than=receiver.id):
            raise Conflict(f"A receiver named {body.name!r} exists.")
        receiver.name = body.name
    if body.filters is not None:
        receiver.severities = [s.value for s in body.filters.severities]
        receiver.rule_ids = list(body.filters.rule_ids)
        receiver.tiers = list(body.filters.tiers)
    if body.include_drills is not None:
        receiver.include_drills = body.include_drills
    if body.enabled is not None:
        receiver.enabled = body.enabled
    receiver.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="receiver.updated", subject_type="receiver",
                 subject_id=str(receiver.id),
                 details=_audit_details(receiver, changed=sorted(given),
                                        secret_changed=bool({"secret", "apprise_url"}
                                                            & given)))
    return to_out(receiver)


def delete(session: Session, *, receiver_id: int, actor: str) -> None:
    receiver = get(session, receiver_id)
    details = _audit_details(receiver)
    repository.remove(session, receiver_id)
    audit.record(session, actor=actor, action="receiver.deleted", subject_type="receiver",
                 subject_id=str(receiver_id), details=details)


def list_receivers(session: Session) -> list[ReceiverOut]:
    return [to_out(r) for r in repository.list_all(session)]
