"""Admin API for webhook senders' credentials: /v1/webhook-sources (scope admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from services.ingest.http import ingest_settings
from services.ingest.settings import IngestSettings
from services.ingest.sources import service
from services.ingest.sources.schemas import Adapter, SourceIn, SourceName, SourceOut
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database

router = APIRouter(prefix="/v1/webhook-sources", tags=["webhooks"])


@router.put(
    "/{adapter}/{name}",
    operation_id="webhooks-put-source",
    summary="Set a webhook sender's secrets",
    description=(
        "Creates or replaces the credentials of one sender: `generic` (name = the `{source}` "
        "of `/v1/webhooks/generic/{source}`, secrets = `whsec_…` signing secrets, several "
        "while rotating), `zoho-crm` (name = `channel_id`, secret = the channel token) or "
        "`salesforce` (name = `OrganizationId`, secret = the endpoint URL's `token`). Stored "
        "encrypted; never returned; the change is audited without the secret. **201** "
        "created, **200** replaced."
    ),
    response_model=SourceOut,
    status_code=201,
    **secured("admin", extra_errors=(422,), responses={
        200: {"model": SourceOut, "description": "Replaced: the sender's secrets changed"}}),
)
def put_source(adapter: Adapter, name: SourceName, body: SourceIn, request: Request,
               db: Database = DatabaseDep,
               settings: IngestSettings = Depends(ingest_settings)) -> JSONResponse:
    with db.transaction() as session:
        out, created = service.put_source(session, settings, adapter=adapter, name=name,
                                          secrets=body.secrets,
                                          actor=current_principal(request).actor)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "",
    operation_id="webhooks-list-sources",
    summary="List configured webhook senders",
    description="Senders configured through this API, with how many secrets each holds "
                "(secrets themselves are never shown). Senders set in the environment are "
                "not listed.",
    response_model=list[SourceOut],
    **secured("admin"),
)
def list_sources(db: Database = DatabaseDep,
                 settings: IngestSettings = Depends(ingest_settings)) -> list[SourceOut]:
    with db.read() as session:
        return service.list_sources(session, settings)


@router.delete(
    "/{adapter}/{name}",
    operation_id="webhooks-delete-source",
    summary="Remove a webhook sender",
    description="Its deliveries are refused (401) from now on. Audited.",
    status_code=204,
    response_class=Response,
    **secured("admin", extra_errors=(404,)),
)
def delete_source(adapter: Adapter, name: SourceName, request: Request,
                  db: Database = DatabaseDep) -> Response:
    with db.transaction() as session:
        service.delete_source(session, adapter=adapter, name=name,
                              actor=current_principal(request).actor)
    return Response(status_code=204)
