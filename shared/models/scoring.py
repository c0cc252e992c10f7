"""Tables owned by the scoring service."""

from __future__ import annotations
