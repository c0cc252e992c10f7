"""The network side of a delivery: one try at sending, with a time limit, reporting what came
back. Nothing here touches the database or raises on a receiver's failure."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import apprise
import httpx
from standardwebhooks import Webhook

from shared.models import utcnow

# What an attempt keeps of an answer (the issue: "truncated answer", at most 2 KB).
MAX_RESPONSE_BYTES = 2048
MAX_ERROR_CHARS = 2000
USER_AGENT = "riskwatch-alerts/0.1 (+https://www.standardwebhooks.com)"
log = logging.getLogger("riskwatch.alerts.receivers")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None = None
    response: str | None = None
    error: str | None = None


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def signature_headers(secret: str, *, message_id: str, body: bytes,
                      at: dt.datetime) -> dict[str, str]:
    """Standard Webhooks headers, signed by the ``standardwebhooks`` package itself."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature}


def send_webhook(url: str, *, secret: str, message_id: str, body: bytes,
                 timeout: float) -> Outcome:
    """POST the body, signed; a 2xx answer is a delivery, anything else a failed try.
    Redirects are not followed: a receiver that moved must be reconfigured, not guessed."""
    started_at, started = utcnow(), time.perf_counter()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               **signature_headers(secret, message_id=message_id, body=body, at=started_at)}
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                          trust_env=False) as client, \
                client.stream("POST", url, content=body, headers=headers) as response:
            kept = bytearray()
            # Read at most 2 KB, within the time limit: an endless answer stops neither.
            for chunk in response.iter_raw():
                kept += chunk
                if len(kept) >= MAX_RESPONSE_BYTES or time.perf_counter() - started > timeout:
                    break
            text = bytes(kept[:MAX_RESPONSE_BYTES]).decode("utf-8", errors="replace")
            ok = 200 <= response.status_code < 300
            return Outcome(ok=ok, started_at=started_at, duration_ms=_elapsed_ms(started),
                           status_code=response.status_code, response=text or None,
                           error=None if ok else f"HTTP {response.status_code}")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, started_at=started_at, duration_ms=_elapsed_ms(started),
                       error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])


def describe_apprise_url(url: str) -> tuple[str | None, str | None]:
    """(scheme, the URL with its secrets masked), or (None, None) when Apprise cannot load
    it. Loading does no network I/O."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return None, None
    scheme = url.split("://", 1)[0].lower()
    return scheme, str(plugin.url(privacy=True))


def send_apprise(url: str, *, title: str, body: str, markdown: bool,
                 timeout: float) -> Outcome:
    """Send through Apprise (e-mail over SMTP, Slack, Teams, DingTalk, WeCom, Feishu, ...);
    what Apprise reports on a failure becomes the attempt's error."""
    started_at, started = utcnow(), time.perf_counter()
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return Outcome(ok=False, started_at=started_at, duration_ms=_elapsed_ms(started),
                       error="Apprise cannot load this URL")
    # Apprise's per-service socket limits default to 4-15 s; hold them to ours as well.
    for plugin in notifier:
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout)
    try:
        result = notifier.notify(
            body=body, title=title, timeout=timeout,
            body_format=apprise.NotifyFormat.MARKDOWN if markdown else apprise.NotifyFormat.TEXT)
        report = "\n".join(entry.message for entry in result.logs())
        ok = bool(result)
    except Exception as exc:  # noqa: BLE001 - a plugin's crash is one failed try
        report, ok = f"{type(exc).__name__}: {exc}", False
    return Outcome(ok=ok, started_at=started_at, duration_ms=_elapsed_ms(started),
                   response=report[:MAX_RESPONSE_BYTES] or None,
                   error=None if ok else (report or "Apprise reported a failure")
                   [:MAX_ERROR_CHARS])
