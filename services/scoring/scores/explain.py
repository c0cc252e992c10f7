"""Explanations after scores: the second half of a rescore that scored first.

A rescore after a promotion or rollback moves nearly every score, and a tree model's reasons
(``pred_contrib``) cost about a hundred predictions each. So that rescore stores the scores
at once (``score_frame(..., explain_later=True)``) and leaves one ``scoring.explain`` item
per moved customer, carrying its score-changed notice. This worker step explains a batch of
them from the stored feature vectors, by the model that scored them, keeps the reasons on
the current risk and on the history entry of that scoring, and only then sends the notices
to alerts and reviews, which show why a score moved.

In the meantime every ``/risk`` answer and credit decision still carries reasons: a score
without them is explained on its first read (``explain_missing``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.scoring.features.service import stored_features_page
from services.scoring.scores import engine
from services.scoring.scores.service import lock_customers
from services.scoring.settings import get_scoring_settings
from shared import queue
from shared.bulk import bulk_update, table_of
from shared.db import among
from shared.models import utcnow
from shared.models.scoring import CustomerRisk, Score
from shared.topics import ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED, has_consumer


def explain_batch(session: Session, items: Sequence[queue.ClaimedItem]) -> None:
    """Explain the moved scores of ``items`` still without reasons, then pass their notices
    on. A customer scored again since is not explained here (that scoring explained it if it
    moved; any other score is explained on first read), but its notice still goes: the move
    happened."""
    ids = sorted({item.key for item in items})
    lock_customers(session, ids)  # no scoring of these customers until this commits
    scored_at = {item.key: dt.datetime.fromisoformat(item.payload["scored_at"])
                 for item in items}
    by_model: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
    for row in session.execute(
            select(CustomerRisk.customer_id, CustomerRisk.model_id, CustomerRisk.scored_at,
                   CustomerRisk.reasons).where(among(session, CustomerRisk.customer_id, ids))):
        if (row.reasons is None and row.model_id is not None
                and row.scored_at == scored_at[row.customer_id]):
            by_model[row.model_id][row.customer_id] = row.scored_at
    with engine.explain_threads(get_scoring_settings().rescore_explain_threads):
        for model_id, customers in by_model.items():
            _explain(session, model_id, customers)
    notices = [(item.key, item.payload) for item in items]
    now = utcnow()
    for topic in (ALERTS_SCORE_CHANGED, REVIEWS_SCORE_CHANGED):
        if has_consumer(topic):
            queue.enqueue_batch(session, topic=topic, items=notices, coalesce=False, now=now)


def _explain(session: Session, model_id: int, scored_at: dict[str, dt.datetime]) -> None:
    """Reasons for ``scored_at``'s customers (id -> the stored time of their score), scored
    by model ``model_id``, kept on that score only."""
    scorer = engine.scorer_for_id(session, model_id)
    if scorer is None:  # the model is gone: nothing can explain its scores any more
        return
    frame = stored_features_page(session, after=None, limit=len(scored_at),
                                 customer_ids=sorted(scored_at))
    rows = np.flatnonzero(~frame.in_default)
    reasons = scorer.score(session, frame).reasons_for(rows)
    kept = [{"customer_id": frame.customer_ids[i], "scored_at": scored_at[frame.customer_ids[i]],
             "reasons": reasons[i]} for i in rows.tolist()]
    bulk_update(session, table_of(CustomerRisk), kept, key=("customer_id", "scored_at"))
    # The history entry of that same scoring: the default target's, not a challenger's.
    bulk_update(session, table_of(Score), [{**row, "target": "default", "shadow": False}
                                         for row in kept],
                key=("customer_id", "scored_at", "target", "shadow"))
