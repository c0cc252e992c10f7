"""Webhook sources: credentials per adapter and sender, from settings or the admin API
(stored encrypted, audited without the secret). Settings win when both name a sender."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from services.ingest.settings import IngestSettings
from services.ingest.sources import repository
from services.ingest.sources.schemas import Adapter, SourceOut
from services.ingest.webhooks.fxiaoke import aes_key
from services.ingest.webhooks.signatures import secret_bytes
from shared import audit
from shared.errors import NotFound, ValidationFailed, field_error
from shared.models import utcnow
from shared.models.ingest import WebhookSource
from shared.secrets import SecretBox


def secret_box(settings: IngestSettings) -> SecretBox:
    return SecretBox(keys=settings.secrets_keys, purpose="ingest",
                     setting="RISKWATCH_INGEST_SECRETS_KEYS")


def _seal(settings: IngestSettings, secrets: list[str]) -> str:
    return secret_box(settings).seal(json.dumps(secrets))


def _unseal(settings: IngestSettings, token: str) -> list[str]:
    secrets: list[str] = json.loads(secret_box(settings).open(token))
    return secrets


def secrets_for(session: Session, settings: IngestSettings, *, adapter: Adapter,
                name: str) -> list[str] | None:
    """The sender's secrets, or None when it is not configured anywhere."""
    configured = {
        Adapter.generic: settings.webhook_secrets,
        Adapter.zoho_crm: settings.zoho_channels,
        Adapter.salesforce: settings.salesforce_orgs,
        Adapter.fxiaoke: settings.fxiaoke_apps,
        Adapter.fxiaoke_corp: settings.fxiaoke_corps,
    }[adapter].get(name)
    if configured is not None:
        return configured.get_secret_value().split()
    stored = repository.get(session, adapter.value, name)
    return _unseal(settings, stored.secrets_ciphertext) if stored else None


def all_secrets(session: Session, settings: IngestSettings, *,
                adapter: Adapter) -> dict[str, list[str]]:
    """Every configured sender of ``adapter`` (settings win over stored ones)."""
    found = {s.name: _unseal(settings, s.secrets_ciphertext)
             for s in repository.list_all(session) if s.adapter == adapter.value}
    configured = {Adapter.fxiaoke: settings.fxiaoke_apps,
                  Adapter.fxiaoke_corp: settings.fxiaoke_corps}.get(adapter, {})
    found.update({k: v.get_secret_value().split() for k, v in configured.items()})
    return found


_SHAPES = {Adapter.fxiaoke: ("token", "encodingAesKey"),
           Adapter.fxiaoke_corp: ("appId", "appSecret", "permanentCode", "currentOpenUserId")}


def _check_secrets(adapter: Adapter, secrets: list[str]) -> None:
    """Each adapter's secrets have a shape; a token shorter than 16 characters is refused."""
    shape = _SHAPES.get(adapter)
    if shape is not None and len(secrets) != len(shape):
        raise ValidationFailed(f"{adapter.value} takes {len(shape)} secrets: "
                               f"{', '.join(shape)}.",
                               errors=[field_error("secrets", f"exactly {len(shape)} values: "
                                                              f"{', '.join(shape)}")])
    tokens = {Adapter.fxiaoke: (0,), Adapter.fxiaoke_corp: (1, 2)}.get(
        adapter, range(len(secrets)))
    for index in tokens:
        if len(secrets[index]) < 16:
            raise ValidationFailed("A token or secret must be at least 16 characters.",
                                   errors=[field_error(f"secrets.{index}",
                                                       "at least 16 characters")])
    if adapter is Adapter.fxiaoke:
        try:
            aes_key(secrets[1])
        except ValueError as exc:
            raise ValidationFailed("Not an encodingAesKey.",
                                   errors=[field_error("secrets.1", str(exc))]) from None
    if adapter is Adapter.fxiaoke_corp:
        for index, value in enumerate(secrets):
            if not value.strip() or any(c.isspace() for c in value):
                raise ValidationFailed("Fxiaoke credentials hold no spaces.", errors=[
                    field_error(f"secrets.{index}", "no spaces")])


def put_source(session: Session, settings: IngestSettings, *, adapter: Adapter, name: str,
               secrets: list[str], actor: str) -> tuple[SourceOut, bool]:
    _check_secrets(adapter, secrets)
    if adapter is Adapter.generic:
        for index, secret in enumerate(secrets):
            try:
                secret_bytes(secret)
                if not secret.startswith("whsec_"):
                    raise ValueError
            except ValueError:
                raise ValidationFailed("Standard Webhooks secrets look like whsec_<base64>.",
                                       errors=[field_error(f"secrets.{index}",
                                                           "must be whsec_ + base64")]) from None
    now = utcnow()
    sealed = _seal(settings, secrets)
    source = repository.get(session, adapter.value, name)
    created = source is None
    if source is None:
        source = WebhookSource(adapter=adapter.value, name=name, secrets_ciphertext=sealed,
                               created_by=actor, created_at=now, updated_at=now)
        session.add(source)
    else:
        source.secrets_ciphertext, source.updated_at = sealed, now
    session.flush()
    audit.record(session, actor=actor, action="webhook_source.put",
                 subject_type="webhook_source", subject_id=name,
                 details={"adapter": adapter.value, "secret_count": len(secrets),
                          "created": created})
    return _out(source, len(secrets)), created


def list_sources(session: Session, settings: IngestSettings) -> list[SourceOut]:
    return [_out(s, len(_unseal(settings, s.secrets_ciphertext)))
            for s in repository.list_all(session)]


def delete_source(session: Session, *, adapter: Adapter, name: str, actor: str) -> None:
    if not repository.remove(session, adapter.value, name):
        raise NotFound(f"No {adapter.value} webhook source '{name}'.")
    audit.record(session, actor=actor, action="webhook_source.delete",
                 subject_type="webhook_source", subject_id=name,
                 details={"adapter": adapter.value})


def _out(source: WebhookSource, count: int) -> SourceOut:
    return SourceOut(adapter=Adapter(source.adapter), name=source.name, secret_count=count,
                     created_by=source.created_by, created_at=source.created_at,
                     updated_at=source.updated_at)

