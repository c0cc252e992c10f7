"""A drill end to end on the live stack: started through the gateway, its event sent by the
alerts worker to ingest's API, scored, raised as an alert on the drill customer, the
playbook's run started by that alert, worked to completion, and the timings reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.stack import Stack


def _wait_for(client: httpx.Client, path: str, done: Callable[[dict[str, Any]], bool],
              timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _wait(client: httpx.Client, path: str, until: str, timeout: float = 60
          ) -> dict[str, Any]:
    return _wait_for(client, path, lambda body: body["status"] == until, timeout)


def test_a_drill_goes_from_event_to_alert_to_a_completed_run(live: Stack) -> None:
    with live.client() as client:
        playbooks = {p["name"]: p for p in client.get("/v1/playbooks").json()}
        playbook = playbooks["Customer default"]
        created = client.post("/v1/drills", json={"playbook_id": playbook["id"]})
        assert created.status_code == 202, created.text
        drill = _wait(client, f"/v1/drills/{created.json()['id']}", "running")
        assert drill["status"] == "running", drill
        # (The runner records sent_at after ingest's answer, possibly after the alert.)
        assert drill["event_received_at"] and drill["alert_id"]
        assert 0 < drill["seconds_to_detect"] < 60
        alert = client.get(f"/v1/alerts/{drill['alert_id']}").json()
        assert alert["drill"] is True and alert["rule_name"] == "Customer defaulted"
        assert alert["customer_id"] == drill["customer_id"]
        assert client.post(f"/v1/alerts/{alert['id']}/acknowledge").status_code == 200
        run = client.get(f"/v1/playbook-runs/{drill['run_id']}").json()
        assert run["drill"] is True and len(run["steps"]) == 3
        for step in run["steps"]:
            done = client.post(f"/v1/playbook-runs/{run['id']}/steps/{step['position']}/done")
            assert done.status_code == 200, done.text
        # The runner records sent_at when its own transaction commits, after ingest has
        # answered: on SQLite's single writer that can come after the whole drill is done.
        report = _wait_for(client, f"/v1/drills/{drill['id']}",
                           lambda body: body["sent_at"] is not None)
        assert report["status"] == "completed" and report["sent_at"] is not None
        assert report["seconds_to_acknowledge"] >= 0
        assert report["seconds_to_complete"] >= report["seconds_to_acknowledge"]
        stats = client.get(f"/v1/playbooks/{playbook['id']}/stats").json()
        assert stats["drills"]["completed"] == 1 and stats["real"]["runs"] == 0
        assert [r["id"] for r in client.get("/v1/playbook-runs",
                                            params={"drill": "true"}).json()["items"]] == [
            run["id"]]
