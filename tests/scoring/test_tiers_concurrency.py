"""Concurrent tier configurations each get their own version; none is refused with a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from services.scoring.tiers.schemas import DEFAULT_STRATEGIES
from tests.stack import Stack


def _put(stack: Stack, high: float) -> httpx.Response:
    with stack.client() as client:
        return client.put("/v1/tiers", json={
            "thresholds": {"medium": high / 4, "high": high},
            "strategies": {tier: strategy.model_dump()
                           for tier, strategy in DEFAULT_STRATEGIES.items()},
            "comment": f"concurrent {high}"})


def test_concurrent_tier_changes_each_get_a_distinct_version(live: Stack) -> None:
    highs = [0.1 + i / 100 for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda high: _put(live, high), highs))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    versions = [a.json()["version"] for a in answers]
    assert sorted(versions) == list(range(min(versions), min(versions) + 8))
