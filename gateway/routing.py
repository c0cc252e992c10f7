"""Which service owns which public path. Specific customer sub-resources come before the
general ``/v1/customers`` prefix because three services share that root."""

from __future__ import annotations

import re

ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v1/customers/[^/]+/(risk|scores)(/.*)?$"), "scoring"),
    (re.compile(r"^/v1/customers/[^/]+/profile-history(/.*)?$"), "reviews"),
    (re.compile(r"^/v1/(customers|events|webhooks|webhook-sources|imports)(/.*)?$"), "ingest"),
    (re.compile(r"^/v1/(decisions|models|tiers|scoring)(/.*)?$"), "scoring"),
    (re.compile(r"^/v1/(alerts|alert-rules|silences|receivers|playbooks|drills)(/.*)?$"),
     "alerts"),
    (re.compile(r"^/v1/(reviews|review-policies|reports|audit|queue)(/.*)?$"), "reviews"),
]

# Paths whose bodies may be larger than the general limit (streamed CSV uploads).
LARGE_BODY = re.compile(r"^/v1/(imports|models/train-from-file)(/.*)?$")


def service_for(path: str) -> str | None:
    for pattern, service in ROUTES:
        if pattern.match(path):
            return service
    return None
