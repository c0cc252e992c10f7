"""Work-queue topics: who produces what for whom, and whether that consumer runs yet.

Producers enqueue a topic only when :func:`has_consumer` says its consumer exists, and the
queue refuses the others, so work nobody takes never piles up. When the reviews worker
lands, flip their ``consumed`` to True below: nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

# ingest API -> ingest worker: apply one verified, decrypted Fxiaoke push (payload {"app",
# "message"}): the callback answers within the platform's 3 seconds, the work runs after.
INGEST_FXIAOKE = "ingest.fxiaoke"
# ingest -> scoring: recompute this customer's features and score (coalesced per customer).
SCORING_RESCORE = "scoring.rescore"
# scoring API -> scoring jobs loop: run background job `job_id` (key: the job id).
SCORING_JOB = "scoring.job"
# scoring (a rescore of stored vectors: promotion, rollback) -> scoring worker: explain this
# customer's moved score, then tell alerts and reviews (payload: the score-changed notice).
SCORING_EXPLAIN = "scoring.explain"
# ingest -> alerts: one item per stored event, payload {"event_pk": int, "type": str}.
ALERTS_EVENT = "alerts.event"
# scoring -> alerts / reviews: the score or tier moved materially.
ALERTS_SCORE_CHANGED = "alerts.score_changed"
REVIEWS_SCORE_CHANGED = "reviews.score_changed"
# alerts core -> alerts receivers: an alert opened, repeated, resolved or reopened, as a
# self-contained snapshot (key: the customer id); enqueued with the alert's own write.
ALERTS_NOTIFY = "alerts.notify"
# alerts receivers -> themselves: send delivery `delivery_id` now (one item per attempt,
# re-enqueued with a delay to back off).
ALERTS_DELIVER = "alerts.deliver"
# alerts API (drills) -> alerts worker: send drill `drill_id`'s scenario events to ingest's
# API (key: the drill's customer id).
ALERTS_DRILL = "alerts.drill"


@dataclass(frozen=True)
class Route:
    producer: str
    consumer: str
    consumed: bool  # the consumer's worker exists; False: producers do not enqueue


ROUTES: dict[str, Route] = {
    INGEST_FXIAOKE: Route(producer="ingest API (Fxiaoke callback)", consumer="ingest worker",
                          consumed=True),
    SCORING_RESCORE: Route(producer="ingest", consumer="scoring worker", consumed=True),
    SCORING_JOB: Route(producer="scoring API", consumer="scoring worker", consumed=True),
    SCORING_EXPLAIN: Route(producer="scoring (rescoring jobs)", consumer="scoring worker",
                           consumed=True),
    ALERTS_EVENT: Route(producer="ingest", consumer="alerts worker", consumed=True),
    ALERTS_SCORE_CHANGED: Route(producer="scoring", consumer="alerts worker", consumed=True),
    REVIEWS_SCORE_CHANGED: Route(producer="scoring", consumer="reviews worker", consumed=True),
    ALERTS_NOTIFY: Route(producer="alerts worker (rules)", consumer="alerts worker (receivers)",
                         consumed=True),
    ALERTS_DELIVER: Route(producer="alerts receivers", consumer="alerts worker (receivers)",
                          consumed=True),
    ALERTS_DRILL: Route(producer="alerts API (drills)", consumer="alerts worker (drills)",
                        consumed=True),
}


def has_consumer(topic: str) -> bool:
    """False for a declared topic whose consumer is not built yet. A topic not declared here
    (an ad-hoc one in a test) is the caller's business, so True."""
    route = ROUTES.get(topic)
    return route is None or route.consumed


class NoConsumer(RuntimeError):
    """Raised by the queue for a topic nobody consumes: the producer must check first."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic!r} has no consumer yet (shared/topics.py); "
                         "check has_consumer() before enqueueing it")
