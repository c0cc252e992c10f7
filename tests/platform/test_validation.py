"""shared/validation.py and shared/spreadsheet.py: what every service refuses the same way,
and how CSV exports neutralise formulas."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.testclient import TestClient

from shared.app import create_service_app
from shared.spreadsheet import neutralise, neutralise_row
from shared.validation import INT64_MAX, Offset, RowId, json_too_deep


def test_ids_and_offsets_beyond_64_bits_are_422_not_500(database_url: str) -> None:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    def thing(thing_id: RowId, offset: Annotated[Offset, Query()] = 0) -> dict[str, int]:
        return {"id": thing_id, "offset": offset}

    app = create_service_app(name="probe", title="probe", description="probe",
                             routers=[router], database_url=database_url)
    with TestClient(app) as client:
        assert client.get(f"/things/{INT64_MAX}?offset={INT64_MAX}").status_code == 200
        for url in (f"/things/{INT64_MAX + 1}", f"/things/1?offset={2**64}",
                    "/things/0", "/things/1?offset=-1"):
            response = client.get(url)
            assert response.status_code == 422, url
            assert response.headers["content-type"].startswith("application/problem+json")


def test_depth_is_measured_without_parsing_and_strings_do_not_count() -> None:
    assert not json_too_deep(b"[" * 64 + b"]" * 64)
    assert json_too_deep(b"[" * 65 + b"]" * 65)
    assert json_too_deep(b'{"a":' * 40 + b"[" * 30 + b"1" + b"]" * 30 + b"}" * 40)
    assert not json_too_deep(b'["' + b"[{" * 500 + b'"]')
    assert not json_too_deep(b'["\\"' + b"[" * 500 + b'"]')  # an escaped quote stays inside
    assert json_too_deep(b'["\\\\"' + b", [" * 100 + b"]" * 100 + b"]")  # a closed string
    assert json_too_deep(b"[" * 1000)  # unbalanced: the parser would recurse through them
    started = time.perf_counter()
    assert json_too_deep(b"[" * 10_000_000)
    assert time.perf_counter() - started < 2


def test_formula_cells_are_neutralised_for_spreadsheets() -> None:
    for formula in ("=1+1", "+A1", "-A1+1", "@SUM(A1)", "\t=1", "\r=1",
                    '=HYPERLINK("http://x","y")'):
        assert neutralise(formula) == "'" + formula
    for value in ("Acme", "-12.5", "+3e2", "12", "", None, 12, "a=b"):
        assert neutralise(value) == value
    assert neutralise_row(["=1", "ok", 3]) == ["'=1", "ok", 3]
