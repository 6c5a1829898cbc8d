"""/docs and /openapi.json behind an API key, when `ops_endpoints` says so."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from service.api.deps import Caller

OPENAPI = "/openapi.json"


def install_protected_docs(app: FastAPI) -> None:
    """The schema and Swagger UI for callers with a valid key (any role). FastAPI's own routes
    are off (`openapi_url=None`); these stay out of the schema they serve."""

    @app.get(OPENAPI, include_in_schema=False)
    async def openapi(_: Caller) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_: Caller) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI, title=f"{app.title} - docs")
