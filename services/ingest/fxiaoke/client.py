"""The Fxiaoke open-platform calls the poller makes, with the request and answer shapes of
the official demo (github.com/openfxiaoke/demo, ``OpenAPIUtils``, ``CrmQueryArg``,
``CrmQueryResult``, ``CorpAccessTokenResult``): every call is a JSON POST answered 200 with
``errorCode`` (0 = success) and ``errorMessage``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
QUERY_PATH = "/cgi/crm/data/query"
# errorCode of an expired or unknown corpAccessToken (the demo's CORP_ACCESS_TOKEN_EXPIRED).
TOKEN_EXPIRED = 20016


class FxiaokeError(Exception):
    """A call failed: the platform's errorCode and errorMessage, or the HTTP failure."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Fxiaoke error {code}: {message}")
        self.code = code


@dataclass(frozen=True)
class CorpCredentials:
    app_id: str
    app_secret: str
    permanent_code: str
    open_user_id: str

    @classmethod
    def from_secrets(cls, secrets: list[str]) -> CorpCredentials:
        if len(secrets) != 4:
            raise ValueError("a Fxiaoke corp needs appId, appSecret, permanentCode and "
                             "currentOpenUserId")
        return cls(*secrets)


@dataclass(frozen=True)
class CorpToken:
    token: str
    corp_id: str
    expires_in: int  # seconds


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int


class FxiaokeClient:
    def __init__(self, base_url: str, *, timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 transport=transport)

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise FxiaokeError(-9, f"{path}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise FxiaokeError(-9, f"{path}: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise FxiaokeError(-9, f"{path}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise FxiaokeError(-9, f"{path}: the answer is not a JSON object")
        code = answer.get("errorCode", 0)
        if code != 0:
            raise FxiaokeError(int(code) if isinstance(code, int) else -9,
                               str(answer.get("errorMessage") or "")[:200])
        return answer

    def corp_token(self, credentials: CorpCredentials) -> CorpToken:
        answer = self._post(TOKEN_PATH, {"appId": credentials.app_id,
                                         "appSecret": credentials.app_secret,
                                         "permanentCode": credentials.permanent_code})
        token, corp_id = answer.get("corpAccessToken"), answer.get("corpId")
        expires = answer.get("expiresIn")
        if not isinstance(token, str) or not isinstance(corp_id, str) \
                or not isinstance(expires, int):
            raise FxiaokeError(-9, "the token answer lacks corpAccessToken, corpId or "
                                   "expiresIn")
        return CorpToken(token, corp_id, expires)

    def changed_since(self, token: CorpToken, credentials: CorpCredentials, *, api_name: str,
                      from_ms: int, offset: int, limit: int) -> Page:
        """Records of ``api_name`` modified at or after ``from_ms``, oldest first (ties by
        id), one page."""
        answer = self._post(QUERY_PATH, {
            "corpAccessToken": token.token, "corpId": token.corp_id,
            "currentOpenUserId": credentials.open_user_id, "apiName": api_name,
            "searchQuery": {
                "offset": offset, "limit": limit,
                "rangeConditions": [{"fieldName": "last_modified_time", "from": from_ms,
                                     "includeLower": True, "to": 4102358400000,
                                     "includeUpper": False}],
                "orders": [{"field": "last_modified_time", "ascending": True},
                           {"field": "_id", "ascending": True}],
            }})
        records = answer.get("datas") or []
        if not isinstance(records, list):
            raise FxiaokeError(-9, "datas is not a list")
        total = answer.get("totalNumber")
        return Page([r for r in records if isinstance(r, dict)],
                    total if isinstance(total, int) else len(records))
