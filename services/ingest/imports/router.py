"""POST /v1/imports/{kind}: a CSV file as multipart upload, streamed, with a row report."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.ingest.http import media_type, settings_of
from services.ingest.idempotency.http import IDEMPOTENCY_PARAMETER, idempotent
from services.ingest.idempotency.service import HEADER, request_digest
from services.ingest.imports.csvrows import CsvLimits
from services.ingest.imports.service import ImportKind, import_csv
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.errors import UnsupportedMediaType

router = APIRouter(prefix="/v1/imports", tags=["imports"])


class Rejection(BaseModel):
    line: int
    field: str
    reason: str


class ImportResult(BaseModel):
    kind: ImportKind
    rows: int = Field(description="Data rows read (blank lines skipped)")
    accepted: int = Field(description="Rows stored or applied")
    duplicate: int = Field(description="Rows already stored (or an equal or newer profile "
                                       "version is stored)")
    rejected: int
    rejections: list[Rejection] = Field(description="The first 1,000 rejected rows")
    rejections_truncated: bool


def require_multipart(request: Request) -> None:
    if media_type(request) != "multipart/form-data":
        raise UnsupportedMediaType("Upload the CSV as multipart/form-data with a 'file' part.")


@router.post(
    "/{kind}",
    operation_id="imports-upload",
    summary="Import a CSV file of customers, events or ratings",
    description=(
        "Multipart upload (part `file`), UTF-8 CSV with a header row, any size (streamed; "
        "a row is at most 1 MiB and 500 columns by default). "
        "**customers**: `customer_id` plus any profile field (`name`, `industry`, `country`, "
        "`founded_on`, `employees`, `annual_revenue`, `revenue_currency`, `credit_limit`, "
        "`credit_currency`, `owner`, `updated_at`, `registration_ids.<scheme>`, "
        "`attributes.<name>`, `aliases` as `source=id;source=id`). **events**: `id`, "
        "`source`, `type`, `subject`, `time`, and `data` as JSON and/or `data.<field>` "
        "columns. **ratings**: `customer_id`, `agency`, `rating`, `score` (0–100), `as_of`; "
        "or industry outlook rows `industry`, `index` (−1..1), `as_of`. The answer counts rows "
        "accepted, duplicate and rejected, with line and reason for the first 1,000 rejected. "
        "Re-importing a file changes nothing. A file that is not UTF-8 or not CSV is refused "
        "as a whole (422, naming the line) and nothing is stored. Supports `Idempotency-Key`."
    ),
    response_model=ImportResult,
    **secured("ingest:write", extra_errors=(409, 415, 422),
                    parameters=[IDEMPOTENCY_PARAMETER],
                    dependencies=[Depends(require_multipart)]),
)
def post_import(kind: ImportKind, request: Request,
                file: UploadFile = File(description="The CSV file"),
                db: Database = DatabaseDep) -> JSONResponse:
    settings = settings_of(request)
    raw = file.file
    digest = hashlib.sha256()
    if request.headers.get(HEADER) is not None:
        # Only a keyed request needs the file's digest (one more pass over the spooled file).
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
        raw.seek(0)

    with db.transaction() as session:
        def work() -> tuple[int, Any]:
            report = import_csv(session, kind=kind, raw=raw,
                                chunk_rows=settings.import_chunk_rows,
                                max_reported=settings.max_reported_rejections,
                                limits=CsvLimits(max_row_bytes=settings.import_max_row_bytes,
                                                 max_columns=settings.import_max_columns))
            return 200, report.as_dict()

        return idempotent(request, session, work=work, request_hash=request_digest(
            "POST", request.url.path, digest.hexdigest()))
