"""Bulk writes of scores: shared/bulk.py (one JSON document per batch on PostgreSQL), kept
under this name for the scoring service's callers."""

from __future__ import annotations

from shared.bulk import bulk_write

__all__ = ["bulk_write"]
