"""Tables owned by the ingest service."""

from __future__ import annotations
