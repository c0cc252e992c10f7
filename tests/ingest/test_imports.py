"""CSV imports: customers, events, ratings and outlooks; row reports; re-import; bad files."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.db import Database
from shared.models import Customer, Event, IndustryOutlook, WorkItem


def upload(client: TestClient, kind: str, content: str | bytes, **headers: str) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"/v1/imports/{kind}", files={"file": ("data.csv", data, "text/csv")},
                       headers=headers)


def table_counts(db: Database) -> dict[str, int]:
    with db.transaction() as s:
        return {model.__tablename__: s.scalar(select(func.count()).select_from(model)) or 0
                for model in (Customer, Event, IndustryOutlook, WorkItem)}


CUSTOMERS = ("\ufeffcustomer_id,name,country,employees,credit_limit,credit_currency,"
             "registration_ids.vat,attributes.segment,aliases\n") + """\
c-1,Acme,DE,10,1000.00,EUR,DE1,SMB,zoho-crm=Z1
c-2,"Beta, Inc.",US,,,,,,
c-3,Gamma,Germany,5,,,,,
c-4,Delta,FR,lots,,,,,
"""


def test_customers_import_reports_rows_and_reimport_changes_nothing(
        client: TestClient, db: Database) -> None:
    first = upload(client, "customers", CUSTOMERS)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["rows"], body["accepted"], body["duplicate"], body["rejected"]) == (4, 2, 0, 2)
    assert body["rejections"] == [
        {"line": 4, "field": "country", "reason": body["rejections"][0]["reason"]},
        {"line": 5, "field": "employees", "reason": body["rejections"][1]["reason"]}]
    profile = client.get("/v1/customers/c-1").json()["customer"]
    assert profile["registration_ids"] == {"vat": "DE1"}
    assert profile["attributes"] == {"segment": "SMB"}
    assert profile["aliases"] == [{"source": "zoho-crm", "external_id": "Z1"}]
    assert client.get("/v1/customers/c-2").json()["customer"]["name"] == "Beta, Inc."
    before = table_counts(db)
    again = upload(client, "customers", CUSTOMERS).json()
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 2, 2)
    assert table_counts(db) == before


EVENTS = """id,source,type,subject,time,data.invoice_id,data.amount,data.currency,data.due_date,data
e1,erp,invoice.issued,c-9,2026-10-01T00:00:00Z,I-1,100.00,EUR,2026-10-31,
e2,erp,payment.received,c-9,2026-10-05T00:00:00Z,I-1,40.00,EUR,,
e3,erp,invoice.issued,c-9,2026-10-01T00:00:00Z,I-2,abc,EUR,2026-10-31,
e4,crm,crm.note,c-9,2026-10-06T00:00:00Z,,,,,"{""text"": ""hello""}"
e5,crm,crm.note,,2026-10-06T00:00:00Z,,,,,
e6,crm,crm.note,c-9,2026-10-06T00:00:00Z,,,,,{broken
"""


def test_events_import_and_reimport(client: TestClient, db: Database) -> None:
    body = upload(client, "events", EVENTS).json()
    assert (body["accepted"], body["rejected"]) == (3, 3)
    assert [(r["line"], r["field"]) for r in body["rejections"]] == [
        (4, "data.amount"), (6, "subject"), (7, "data")]
    history = client.get("/v1/customers/c-9").json()["history"]
    assert history["open_amount"] == {"EUR": "60.00"}
    before = table_counts(db)
    again = upload(client, "events", EVENTS).json()
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 3, 3)
    assert table_counts(db) == before


RATINGS = """customer_id,agency,rating,score,as_of,industry,index
c-1,S&P,BBB,64,2026-09-30,,
c-1,S&P,BB,,2026-10-31,,
,,,,2026-10-01,retail,-0.3
c-2,,A,80,2026-10-31,,
,,,,2026-10-01,,
"""


def test_ratings_and_outlooks_import(client: TestClient, db: Database) -> None:
    body = upload(client, "ratings", RATINGS).json()
    assert (body["accepted"], body["rejected"]) == (2, 3), body
    assert [(r["line"], r["field"]) for r in body["rejections"]] == [
        (3, "score"), (5, "agency"), (6, "customer_id")]
    with db.transaction() as s:
        rating = s.scalars(select(Event)).one()
        assert (rating.type, rating.ref_id, rating.value, rating.customer_id) == (
            "credit_rating.updated", "S&P", 64.0, "c-1")
        outlook = s.scalars(select(IndustryOutlook)).one()
        assert (outlook.industry, outlook.index_value, str(outlook.as_of)) == (
            "retail", -0.3, "2026-10-01")
    again = upload(client, "ratings", RATINGS).json()
    assert (again["accepted"], again["duplicate"]) == (0, 2)


def test_bad_files_are_refused_whole_and_store_nothing(client: TestClient, db: Database) -> None:
    latin1 = "customer_id,name\nc-1,Acme\nc-2,M\u00fcller\n".encode("latin-1")
    response = upload(client, "customers", latin1)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "line 3"
    missing = upload(client, "events", "id,source\n1,erp\n")
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"header.type"}
    assert upload(client, "customers", "").status_code == 422
    assert upload(client, "nonsense", "a\n1\n").status_code == 422
    not_multipart = client.post("/v1/imports/customers", content=b"customer_id\nc1\n",
                                headers={"content-type": "text/csv"})
    assert not_multipart.status_code == 415
    too_many_cells = upload(client, "customers", "customer_id,name\nc-1,A,extra\n").json()
    assert too_many_cells["rejections"][0]["line"] == 2
    assert table_counts(db) == {"customer": 0, "event": 0, "industry_outlook": 0,
                                "work_item": 0}


def test_import_with_idempotency_key(client: TestClient) -> None:
    first = upload(client, "customers", CUSTOMERS, **{"Idempotency-Key": "imp-1"})
    replay = upload(client, "customers", CUSTOMERS, **{"Idempotency-Key": "imp-1"})
    assert replay.json() == first.json() and replay.headers["idempotent-replayed"] == "true"
    other = upload(client, "customers", "customer_id\nzz\n", **{"Idempotency-Key": "imp-1"})
    assert other.status_code == 422


def test_large_import_is_chunked(client: TestClient, db: Database) -> None:
    lines = ["id,source,type,subject,data.amount,data.currency"]
    lines += [f"e{i},bulk,order.placed,c{i % 50},{i}.00,EUR" for i in range(2500)]
    body = upload(client, "events", "\n".join(lines) + "\n").json()
    assert (body["rows"], body["accepted"]) == (2500, 2500)
    assert table_counts(db)["customer"] == 50


def test_a_nul_in_a_csv_cell_rejects_only_that_row(client: TestClient, db: Database) -> None:
    content = "customer_id,name\nc-1,Good\nc-2,Bad\x00Name\nc-3,Fine\n"
    body = upload(client, "customers", content)
    assert body.status_code == 200, body.text
    report = body.json()
    assert (report["accepted"], report["rejected"]) == (2, 1)
    assert report["rejections"][0]["line"] == 3
    events = ("id,source,type,subject,data.text\ne1,crm,crm.note,c-9,fine\n"
              "e2,crm,crm.note,c-9,nul\x00here\n")
    report = upload(client, "events", events).json()
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert report["rejections"][0]["field"] == "data.text"
    assert table_counts(db)["customer"] == 3  # c-1, c-3 and the events' c-9


def test_a_row_longer_than_the_limit_is_refused_in_constant_memory(db: Database) -> None:
    import io
    import tracemalloc

    from services.ingest.imports.csvrows import CsvLimits
    from services.ingest.imports.service import ImportKind, import_csv
    from shared.errors import ValidationFailed

    raw = io.BytesIO(b"customer_id,name\nc-1," + b"x" * (30 * 1024 * 1024))
    tracemalloc.start()
    try:
        with db.transaction() as s, pytest.raises(ValidationFailed) as refused:
            import_csv(s, kind=ImportKind.customers, raw=raw,
                       limits=CsvLimits(max_row_bytes=1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "longer than 1048576 bytes" in refused.value.detail
    assert peak < 8 * 1024 * 1024


def test_a_quoted_cell_spanning_lines_counts_toward_the_row_limit(
        client: TestClient, db: Database) -> None:
    # 15 quoted cells of 100 KB, each under the csv module's own cell limit: 1.5 MB in one row.
    cell = '"' + "line\n" * 20_000 + '"'
    content = "customer_id,name\nc-1," + ",".join([cell] * 15) + "\n"
    response = upload(client, "customers", content)
    assert response.status_code == 422, response.text
    assert table_counts(db)["customer"] == 0


def test_a_header_wider_than_the_column_limit_is_422(client: TestClient, db: Database) -> None:
    header = "customer_id," + ",".join(f"attributes.a{i}" for i in range(600))
    response = upload(client, "customers", header + "\nc-1\n")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["message"] == "at most 500 columns"


def test_an_unterminated_quoted_cell_refuses_the_file(client: TestClient, db: Database) -> None:
    response = upload(client, "customers", 'customer_id,name\nc-1,Acme\nc-2,"Beta\n')
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith("line ")
    assert table_counts(db)["customer"] == 0


def test_formula_cells_are_stored_as_sent(client: TestClient) -> None:
    upload(client, "customers", 'customer_id,name\nc-1,"=HYPERLINK(""http://x"",""y"")"\n')
    name = client.get("/v1/customers/c-1").json()["customer"]["name"]
    assert name == '=HYPERLINK("http://x","y")'
