"""A report's rows as CSV for people to open in a spreadsheet: formula-like cells made inert
(shared/spreadsheet.py), header from the row model so an empty report still names its
columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from fastapi import Request, Response
from pydantic import BaseModel

from shared.spreadsheet import neutralise_row

CSV_MEDIA_TYPE = "text/csv"


def wants_csv(request: Request) -> bool:
    return CSV_MEDIA_TYPE in request.headers.get("accept", "").lower()


def csv_response(name: str, row_model: type[BaseModel], rows: Sequence[BaseModel]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = list(row_model.model_fields)
    writer.writerow(neutralise_row(columns))
    for row in rows:
        values = row.model_dump(mode="json")
        writer.writerow(neutralise_row("" if values[c] is None else values[c]
                                       for c in columns))
    return Response(buffer.getvalue(), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}.csv"'})
