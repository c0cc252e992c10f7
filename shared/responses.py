"""Answering a pydantic model as JSON directly.

A route that returns a model lets FastAPI validate it again against the route's
response_model and, for a sync route, do so in a second trip through the thread pool. Hot
routes build their model once (so it is validated once) and answer it with
:func:`model_response`; the route keeps ``response_model`` for the OpenAPI document."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, *, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code,
                    media_type="application/json")
