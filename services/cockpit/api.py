"""The cockpit's only door to data: the public API through the gateway, with the signed-in
user's key, so every read and write is scope-checked and audited as that user."""

from __future__ import annotations

import asyncio
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


class Api:
    def __init__(self, client: httpx.AsyncClient, api_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"}

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
        return (await self.request("GET", path, params=params)).json()

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
