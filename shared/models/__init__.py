"""Every table of the one riskwatch schema; importing this registers them all on Base.metadata."""

# Service issues add their tables in modules of their own, imported here.
from shared.models import alerts as _alerts  # noqa: E402,F401
from shared.models import ingest as _ingest  # noqa: E402,F401
from shared.models import notifications as _notifications  # noqa: E402,F401
from shared.models import playbooks as _playbooks  # noqa: E402,F401
from shared.models import reviews as _reviews  # noqa: E402,F401
from shared.models import scoring as _scoring  # noqa: E402,F401
from shared.models.audit import AuditCheckpoint, AuditEntry, AuditTile
from shared.models.base import Base, JsonDoc, UtcDateTime, utcnow
from shared.models.customers import Customer, CustomerAlias, Event, IndustryOutlook
from shared.models.platform import ApiKey, BigId, WorkItem

__all__ = [
    "ApiKey",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditTile",
    "Base",
    "BigId",
    "Customer",
    "CustomerAlias",
    "Event",
    "IndustryOutlook",
    "JsonDoc",
    "UtcDateTime",
    "WorkItem",
    "utcnow",
]
