"""/v1/reviews: the worklist, ad-hoc reviews, the review page, and each decision carried
out where the rest of riskwatch honours it, snapshotted and audited."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.reviews.worker import due_review_pass
from shared import queue
from shared.db import Database
from shared.models import AuditEntry, Event, WorkItem, utcnow
from shared.models.reviews import ProfileSnapshot
from shared.models.scoring import CustomerRisk, TierOverride
from shared.topics import ALERTS_EVENT, SCORING_RESCORE
from tests.reviews.conftest import READ, WRITE
from tests.reviews.factories import customer, risk
from tests.scoring.conftest import drain as drain_scoring
from tests.scoring.factories import add_events, days, event


def _open(client: TestClient, customer_id: str, **body: object) -> dict[str, object]:
    response = client.post("/v1/reviews", json={"customer_id": customer_id,
                                                "reason": "press: lost a key account",
                                                **body}, headers=WRITE)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def _complete(client: TestClient, review_id: object, **decision: object) -> dict[str, object]:
    response = client.post(f"/v1/reviews/{review_id}/complete",
                           json={"reason": "looked at the accounts", **decision},
                           headers=WRITE)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def _actions(db: Database) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_adhoc_review_opens_once_per_customer(client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    risk(db, "c-1", "medium")
    review = _open(client, "c-1", assignee="j.doe")
    assert (review["kind"], review["status"], review["tier"]) == ("adhoc", "open", "medium")
    again = client.post("/v1/reviews", json={"customer_id": "c-1", "reason": "again"},
                        headers=WRITE)
    assert again.status_code == 409 and again.json()["review_id"] == review["id"]
    unknown = client.post("/v1/reviews", json={"customer_id": "nobody", "reason": "why"},
                          headers=WRITE)
    assert unknown.status_code == 404
    assert _actions(db) == ["review.opened"]


def test_the_worklist_filters_and_pages_with_a_cursor(client: TestClient,
                                                      db: Database) -> None:
    for i in range(7):
        customer(db, f"c-{i}")
        risk(db, f"c-{i}", "high" if i % 2 else "low")
        _open(client, f"c-{i}", due_on=(utcnow().date() + dt.timedelta(days=i - 3))
              .isoformat(), assignee="ann" if i < 4 else "bob")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/reviews", params=params, headers=READ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 == len(set(seen))

    def ids(**params: object) -> list[str]:
        body = client.get("/v1/reviews", params=params, headers=READ).json()
        return [item["customer_id"] for item in body["items"]]

    assert ids() == [f"c-{i}" for i in range(7)]  # due-date order
    assert ids(tier="high") == ["c-1", "c-3", "c-5"]
    assert ids(assignee="bob") == ["c-4", "c-5", "c-6"]
    assert ids(due="true") == ["c-0", "c-1", "c-2", "c-3"]
    assert ids(customer_id="c-2", kind="adhoc", status="open") == ["c-2"]
    assert ids(overdue="true") == []
    assert ids(due_before=utcnow().date().isoformat()) == ["c-0", "c-1", "c-2", "c-3"]


def test_an_overdue_review_is_listed_as_overdue(client: TestClient, db: Database) -> None:
    customer(db, "late", days_ago=80)
    risk(db, "late", "high")
    due_review_pass(db)
    body = client.get("/v1/reviews", params={"overdue": "true"}, headers=READ).json()
    assert [(i["customer_id"], i["overdue"]) for i in body["items"]] == [("late", True)]


def test_a_review_moves_from_open_to_in_progress_to_completed_and_is_audited(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    risk(db, "c-1", "low")
    review = _open(client, "c-1")
    rid = review["id"]
    assigned = client.post(f"/v1/reviews/{rid}/assign", json={"assignee": "kim"},
                           headers=WRITE).json()
    assert assigned["assignee"] == "kim"
    started = client.post(f"/v1/reviews/{rid}/start", headers=WRITE).json()
    assert started["status"] == "in_progress" and started["started_at"]
    assert client.post(f"/v1/reviews/{rid}/start", headers=WRITE).status_code == 409
    note = client.post(f"/v1/reviews/{rid}/notes", json={"body": "called the CFO"},
                       headers=WRITE)
    assert note.status_code == 201 and note.json()["author"].startswith("tests")
    done = _complete(client, rid, decision="confirm")
    assert (done["status"], done["decision"]) == ("completed", "confirm")
    assert client.post(f"/v1/reviews/{rid}/complete",
                       json={"decision": "confirm", "reason": "twice"},
                       headers=WRITE).status_code == 409
    assert client.post(f"/v1/reviews/{rid}/assign", json={"assignee": "x"},
                       headers=WRITE).status_code == 409
    assert _actions(db) == ["review.opened", "review.assigned", "review.started",
                            "review.completed"]
    with db.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.details["decision"] == "confirm"
    assert entry.details["reason"] == "looked at the accounts"
    assert entry.actor.startswith("tests")


def test_overriding_the_tier_writes_the_override_scoring_honours(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    risk(db, "c-1", "low")
    rid = _open(client, "c-1")["id"]
    expires = (utcnow() + dt.timedelta(days=90)).isoformat()
    done = _complete(client, rid, decision="override_tier", tier="high", expires_at=expires)
    with db.sessions() as session:
        override = session.scalars(select(TierOverride)).one()
    assert (override.customer_id, override.tier) == ("c-1", "high")
    assert override.reason.startswith(f"review {rid}:")
    assert done["decision_details"]["override_id"] == override.id
    page = client.get(f"/v1/reviews/{rid}", headers=READ).json()
    assert (page["risk"]["tier"], page["risk"]["model_tier"]) == ("high", "low")
    assert "tiers.override_set" in _actions(db)
    past = client.post(f"/v1/reviews/{_open(client, 'c-1')['id']}/complete",
                       json={"decision": "override_tier", "reason": "stale", "tier": "low",
                             "expires_at": "2020-01-01T00:00:00Z"}, headers=WRITE)
    assert past.status_code == 422


def test_changing_the_credit_limit_reaches_scoring_like_a_crm_change(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    add_events(db, event("c-1", "invoice.issued", utcnow() - days(20), invoice_id="i-1",
                         amount="1000.00", currency="EUR",
                         due_date=(utcnow() + days(10)).date().isoformat()))
    rid = _open(client, "c-1")["id"]
    _complete(client, rid, decision="change_credit_limit", credit_limit="80000.00",
              currency="EUR")
    with db.sessions() as session:
        stored = session.scalars(select(Event).where(Event.type == "credit_limit.changed")
                                 ).one()
        assert (stored.amount, stored.currency) == (80000, "EUR")
        # Like any stored event: a rescore, and the alerts worker sees it too.
        assert sorted(session.scalars(select(WorkItem.topic))) == [ALERTS_EVENT,
                                                                   SCORING_RESCORE]
    drain_scoring(db)
    with db.sessions() as session:
        scored = session.get(CustomerRisk, "c-1")
    assert scored is not None and scored.credit_limit == 80000


def test_exiting_the_relationship_takes_the_credit_line_to_zero(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    risk(db, "c-1", "high")
    rid = _open(client, "c-1")["id"]
    done = _complete(client, rid, decision="exit_relationship")
    assert done["decision_details"]["credit_limit"] == "0.00"
    with db.sessions() as session:
        assert session.scalars(select(Event.amount)).one() == 0


def test_escalating_opens_a_follow_up_review_for_the_named_person(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    rid = _open(client, "c-1")["id"]
    done = _complete(client, rid, decision="escalate", escalate_to="credit committee")
    follow_up = done["decision_details"]["follow_up_review_id"]
    page = client.get(f"/v1/reviews/{follow_up}", headers=READ).json()
    assert page["review"]["assignee"] == "credit committee"
    assert page["review"]["status"] == "open"


def test_a_decision_missing_what_it_needs_is_refused(client: TestClient,
                                                    db: Database) -> None:
    customer(db, "c-1")
    rid = _open(client, "c-1")["id"]
    for body in ({"decision": "override_tier", "reason": "no tier", "tier": "high"},
                 {"decision": "change_credit_limit", "reason": "no amount",
                  "currency": "EUR"},
                 {"decision": "escalate", "reason": "to whom?"},
                 {"decision": "override_tier", "reason": "naive", "tier": "high",
                  "expires_at": "2030-01-01T00:00:00"},
                 {"decision": "approve", "reason": "not a decision"},
                 {"decision": "confirm", "reason": "x"}):
        response = client.post(f"/v1/reviews/{rid}/complete", json=body, headers=WRITE)
        assert response.status_code == 422, body
    assert client.get(f"/v1/reviews/{rid}", headers=READ).json()["review"]["status"] == "open"


def test_the_review_page_shows_what_changed_since_the_last_review(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1", name="Acme", industry="retail")
    risk(db, "c-1", "low", overdue="100.00")
    first = _open(client, "c-1")["id"]
    _complete(client, first, decision="confirm")
    add_events(db, event("c-1", "complaint.opened", utcnow() - days(9), complaint_id="old"))
    with db.transaction() as session:
        stored = session.get(CustomerRisk, "c-1")
        assert stored is not None
        stored.pd_default, stored.tier, stored.overdue_amount = 0.2, "high", 900
        # The first review was five days ago.
        session.scalars(select(ProfileSnapshot)).one().taken_at = utcnow() - days(5)
    add_events(db, *[event("c-1", "complaint.opened", utcnow() - days(1),
                           complaint_id=f"k-{i}") for i in range(3)],
               event("c-1", "payment.received", utcnow(), invoice_id="i", amount="5.00",
                     currency="EUR"))
    second = _open(client, "c-1")["id"]
    client.post(f"/v1/reviews/{second}/notes", json={"body": "see complaints"},
                headers=WRITE)
    page = client.get(f"/v1/reviews/{second}", headers=READ).json()
    changes = page["changes_since_last_review"]
    assert changes["last_review_id"] == first
    assert (changes["pd"]["before"], changes["pd"]["now"]) == (0.01, 0.2)
    assert (changes["tier"]["before"], changes["tier"]["now"]) == ("low", "high")
    assert float(changes["overdue_amount"]["before"]) == 100
    assert float(changes["overdue_amount"]["now"]) == 900
    assert changes["new_events_by_type"] == {"complaint.opened": 3, "payment.received": 1}
    assert page["customer"]["name"] == "Acme"
    assert page["customer"]["events_by_type"]["complaint.opened"] == 4
    assert page["risk"]["reasons"][0]["feature"] == "days_past_due"
    assert page["open_alerts"] == []  # no alerts tables in this schema yet
    assert [n["body"] for n in page["notes"]] == ["see complaints"]
    with db.sessions() as session:
        snap = session.scalars(select(ProfileSnapshot)).one()
    assert (snap.review_id, snap.decision, snap.tier) == (first, "confirm", "low")


def test_a_review_of_a_customer_never_reviewed_counts_all_their_events(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    add_events(db, event("c-1", "order.placed", utcnow() - days(400), amount="5.00",
                         currency="EUR"))
    rid = _open(client, "c-1")["id"]
    page = client.get(f"/v1/reviews/{rid}", headers=READ).json()
    assert page["risk"] is None
    assert page["changes_since_last_review"]["since"] is None
    assert page["changes_since_last_review"]["new_events_by_type"] == {"order.placed": 1}


def test_review_routes_need_their_scopes(client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    assert client.get("/v1/reviews").status_code == 401
    assert client.post("/v1/reviews", json={"customer_id": "c-1", "reason": "why"},
                       headers=READ).status_code == 403
    assert client.get("/v1/reviews/1", headers=READ).status_code == 404


def test_hostile_input_on_review_routes_is_a_4xx(client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    rid = _open(client, "c-1")["id"]
    bad_gets = ["/v1/reviews?cursor=!!!", "/v1/reviews?cursor=WzFd",  # [1]: wrong shape
                "/v1/reviews?cursor=WyJub3QtYS1kYXRlIiwxXQ",  # ["not-a-date",1]
                "/v1/reviews?limit=0", "/v1/reviews?limit=100000", "/v1/reviews?tier=extreme",
                "/v1/reviews?due_before=yesterday", f"/v1/reviews?cursor={'A' * 5000}",
                "/v1/reviews/0", "/v1/reviews/99999999999999999999", "/v1/reviews/abc",
                "/v1/reviews?assignee=" + "x" * 300]
    for path in bad_gets:
        status = client.get(path, headers=READ).status_code
        assert 400 <= status < 500, (path, status)
    bad_posts = [("/v1/reviews", {"customer_id": "c-1\x00", "reason": "nul"}),
                 ("/v1/reviews", {"customer_id": "", "reason": "empty"}),
                 ("/v1/reviews", {"customer_id": "c" * 500, "reason": "long"}),
                 ("/v1/reviews", ["not", "an", "object"]),
                 (f"/v1/reviews/{rid}/assign", {"assignee": ""}),
                 (f"/v1/reviews/{rid}/assign", {"assignee": {"nested": [[[1]]]}}),
                 (f"/v1/reviews/{rid}/notes", {"body": "x" * 20_000}),
                 (f"/v1/reviews/{rid}/complete", {"decision": "change_credit_limit",
                                                  "reason": "huge", "currency": "EUR",
                                                  "credit_limit": "1e30"}),
                 (f"/v1/reviews/{rid}/complete", {"decision": "change_credit_limit",
                                                  "reason": "negative", "currency": "EUR",
                                                  "credit_limit": "-5"})]
    for path, body in bad_posts:
        response = client.post(path, json=body, headers=WRITE)
        assert 400 <= response.status_code < 500, (path, body, response.text)
    for raw in (b"{not json", b'{"customer_id": "c-1", "reason": "\\ud800 surrogate"}',
                b'{"customer_id": "c-1", "reason": "deep", "assignee": ' + b"[" * 100
                + b"]" * 100 + b"}"):
        response = client.post("/v1/reviews", content=raw, headers={
            **WRITE, "content-type": "application/json"})
        assert 400 <= response.status_code < 500, (raw, response.text)


def test_the_queue_keeps_no_work_for_a_review_that_changes_nothing(
        client: TestClient, db: Database) -> None:
    customer(db, "c-1")
    _complete(client, _open(client, "c-1")["id"], decision="confirm")
    with db.sessions() as session:
        assert session.scalars(select(WorkItem)).all() == []
    with db.transaction() as session:  # the queue itself still works for reviews' producers
        queue.enqueue(session, topic=SCORING_RESCORE, key="c-1")
