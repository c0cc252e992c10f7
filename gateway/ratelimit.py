"""Per-key token buckets. In memory per gateway replica: N replicas allow N times the rate,
which the k8s manifests account for by dividing the configured rate."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float | None = None) -> float:
        """Spend one token; returns 0 when allowed, else seconds until one is available."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.buckets: dict[str, TokenBucket] = {}

    def check(self, key_id: str, rate: float | None = None) -> int:
        """0 if the request may pass, else the Retry-After seconds (rounded up)."""
        bucket = self.buckets.get(key_id)
        if bucket is None or (rate is not None and bucket.rate != rate):
            # A key with its own rate gets a burst of two seconds' worth of it.
            burst = float(self.burst) if rate is None else max(1.0, 2 * rate)
            bucket = TokenBucket(rate=rate or self.rate, burst=burst)
            self.buckets[key_id] = bucket
        wait = bucket.take()
        return 0 if wait == 0 else max(1, math.ceil(wait))
