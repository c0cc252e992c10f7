"""How the current PDs spread against the tier cut-offs: a histogram whose bucket edges
include the thresholds in force, so every bucket lies in one tier."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.scoring.tiers import repository
from services.scoring.tiers.schemas import PdBucket, PdDistribution
from services.scoring.tiers.service import current_policy

# Finer where portfolios sit (PDs of a few per cent), coarser in the tail.
BASE_EDGES = (0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
              0.15, 0.2, 0.3, 0.5, 1.0)


def pd_distribution(session: Session) -> PdDistribution:
    policy = current_policy(session)
    cuts = (policy.thresholds.medium, policy.thresholds.high)
    edges = sorted({*BASE_EDGES, *(c for c in cuts if 0.0 < c < 1.0)})
    counts = repository.pd_bucket_counts(session, edges)
    buckets = [PdBucket(from_pd=low, to_pd=high, tier=policy.tier_for(low),
                        customers=counts.get(k, 0))
               for k, (low, high) in enumerate(zip(edges, edges[1:], strict=False))]
    by_tier = {t: sum(b.customers for b in buckets if b.tier == t)
               for t in ("low", "medium", "high")}
    return PdDistribution(version=policy.version,
                          thresholds={"medium": cuts[0], "high": cuts[1]},
                          total=sum(by_tier.values()), by_tier=by_tier, buckets=buckets)
