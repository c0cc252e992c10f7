"""API documentation pages served with no internet: Swagger UI (and ReDoc) from the assets
``fastapi-offline`` ships, instead of FastAPI's default public CDN, so ``/docs`` renders on
networks that cannot reach it."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
# The package's own directory of pinned swagger-ui-dist and redoc files.
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"


def install_offline_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json",
                         redoc: bool = True) -> None:
    """Serve ``/docs`` (and ``/redoc``) for ``app`` from local assets. Create ``app`` with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not registered first."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png")

    if redoc:
        @app.get("/redoc", include_in_schema=False)
        async def redoc_page() -> HTMLResponse:
            return get_redoc_html(openapi_url=openapi_url, title=title,
                                  redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                                  redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                                  with_google_fonts=False)
