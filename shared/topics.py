"""Work-queue topics: who produces what for whom. Keys are customer ids."""

# ingest -> scoring: recompute this customer's features and score (coalesced per customer).
SCORING_RESCORE = "scoring.rescore"
# ingest -> alerts: one item per stored event, payload {"event_pk": int, "type": str}.
ALERTS_EVENT = "alerts.event"
# scoring -> alerts / reviews: the score or tier moved materially.
ALERTS_SCORE_CHANGED = "alerts.score_changed"
REVIEWS_SCORE_CHANGED = "reviews.score_changed"
