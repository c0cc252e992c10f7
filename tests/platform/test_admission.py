"""Admission control (shared/admission.py) on a real ASGI app: past the limit a request is
answered 503 at once, the ones let in finish, and health stays answerable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from shared.admission import AdmissionMiddleware

LIMIT = 3


def _app(release: asyncio.Event, entered: list[int], limit: int = LIMIT) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        entered.append(1)
        await release.wait()
        return {"status": "done"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(AdmissionMiddleware, limit=limit)
    return app


async def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_past_the_limit_a_request_is_refused_at_once_and_nothing_runs() -> None:
    async def scenario() -> None:
        release, entered = asyncio.Event(), list[int]()
        transport = httpx.ASGITransport(app=_app(release, entered))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            admitted = [asyncio.create_task(client.get("/v1/slow")) for _ in range(LIMIT)]
            await _wait_until(lambda: len(entered) == LIMIT)

            refused = await asyncio.wait_for(client.get("/v1/slow"), timeout=2)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "overloaded"
            assert len(entered) == LIMIT  # the refused request never reached the route

            health = await asyncio.wait_for(client.get("/healthz"), timeout=2)
            assert health.status_code == 200  # not limited: probes answer under load

            release.set()
            answers = await asyncio.gather(*admitted)
            assert [a.status_code for a in answers] == [200] * LIMIT
            # The slots are given back: the next request is served.
            again = await asyncio.wait_for(client.get("/v1/slow"), timeout=2)
            assert again.status_code == 200

    asyncio.run(scenario())


def test_a_limit_of_zero_admits_everything() -> None:
    async def scenario() -> None:
        release, entered = asyncio.Event(), list[int]()
        transport = httpx.ASGITransport(app=_app(release, entered, limit=0))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            calls = [asyncio.create_task(client.get("/v1/slow")) for _ in range(10)]
            await _wait_until(lambda: len(entered) == 10)
            release.set()
            assert all(a.status_code == 200 for a in await asyncio.gather(*calls))

    asyncio.run(scenario())
