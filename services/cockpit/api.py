"""The cockpit's only door to data: the public API through the gateway, with the signed-in
user's key, so every read and write is scope-checked and audited as that user."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx


class ApiError(Exception):
    """An API answer other than 2xx, with its problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        detail = str(self.problem.get("detail") or self.problem.get("title") or self.status)
        fields = [f"{e.get('field')}: {e.get('message')}"
                  for e in self.problem.get("errors") or [] if isinstance(e, dict)]
        return detail + (" (" + "; ".join(fields) + ")" if fields else "")


Params = Mapping[str, Any] | list[tuple[str, Any]] | None


class ReportCache:
    """Answers of portfolio-wide reads (the reports) kept ``seconds`` per key and URL, so a
    desk that reloads its overview does not recompute the whole portfolio each time. Keyed
    by a hash of the key: one key never sees what another key's scopes fetched."""

    def __init__(self, seconds: float, max_entries: int = 512) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}

    def key(self, api_key: str, path: str, params: Params) -> str:
        items = sorted((str(k), str(v)) for k, v in (
            params.items() if isinstance(params, Mapping) else params or []))
        return hashlib.sha256(json.dumps([api_key, path, items]).encode()).hexdigest()

    def get(self, key: str) -> Any:
        hit = self._entries.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        now = time.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.seconds, value)


class Api:
    def __init__(self, client: httpx.AsyncClient, api_key: str,
                 cache: ReportCache | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.api_key = api_key
        self.cache = cache

    async def request(self, method: str, path: str, *, params: Params = None,
                      json: Any = None, accept: str = "application/json") -> httpx.Response:
        clean = _without_empty(params)
        response = await self.client.request(method, path, params=clean, json=json,
                                             headers={**self.headers, "Accept": accept})
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            raise ApiError(response.status_code,
                           problem if isinstance(problem, dict) else {"detail": str(problem)})
        return response

    async def get(self, path: str, params: Params = None) -> Any:
        cache = self.cache if path.startswith("/v1/reports/") else None
        if cache is None or cache.seconds <= 0:
            return (await self.request("GET", path, params=params)).json()
        key = cache.key(self.api_key, path, _without_empty(params))
        found = cache.get(key)
        if found is None:
            found = (await self.request("GET", path, params=params)).json()
            cache.put(key, found)
        return found

    async def post(self, path: str, json: Any = None) -> Any:
        response = await self.request("POST", path, json=json)
        return response.json() if response.content else None

    async def put(self, path: str, json: Any = None) -> Any:
        response = await self.request("PUT", path, json=json)
        return response.json() if response.content else None

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path)

    async def maybe(self, path: str, params: Params = None, *, allowed: bool = True) -> Any:
        """A read a page can do without: None when the key lacks the scope (403), the thing
        does not exist (404) or ``allowed`` is false, so a page shows what the key may see."""
        if not allowed:
            return None
        try:
            return await self.get(path, params)
        except ApiError as error:
            if error.status in (403, 404):
                return None
            raise


async def gather(*calls: Any) -> list[Any]:
    """Run a page's API calls at once (server time of a page ≈ its slowest call)."""
    return list(await asyncio.gather(*calls))


def _without_empty(params: Params) -> Params:
    if params is None:
        return None
    items = params.items() if isinstance(params, Mapping) else params
    return [(k, v) for k, v in items if v not in (None, "", [])]
