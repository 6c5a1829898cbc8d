"""The reference docs keep up with the code: every setting and every route is documented."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from service.api.app import create_app
from service.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
# FastAPI's own pages, not routes of the service.
FRAMEWORK_PATHS = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}


class _Stub:
    """Stands in for every collaborator of `create_app`: building the app touches no store."""

    settings = Settings.model_construct()

    def __getattr__(self, name: str) -> Any:
        return _Stub()


def _routes() -> set[str]:
    """`METHOD /path` of every route the app serves, from the app itself."""
    parameters = inspect.signature(create_app).parameters.values()
    app = create_app(**{p.name: _Stub() for p in parameters if p.default is p.empty})
    routes = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    # Routes left out of the schema are still routes (included routers show up in the schema).
    routes |= {
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    }
    return {r for r in routes if r.split(" ", 1)[1] not in FRAMEWORK_PATHS}


def test_the_app_has_routes() -> None:
    # Guards the test below against passing on an empty list.
    assert {"POST /v1/context", "GET /healthz"} <= _routes()


def test_every_route_is_in_the_api_reference() -> None:
    text = (DOCS / "api.md").read_text()
    missing = sorted(r for r in _routes() if f"`{r}`" not in text)
    assert missing == [], f"add these routes to docs/api.md (as `METHOD /path`): {missing}"


def test_every_setting_is_in_the_configuration_docs() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = sorted(
        name
        for name in Settings.model_fields
        if f"`{name}`" not in text or f"`CMEM_{name.upper()}`" not in text
    )
    assert missing == [], f"document these settings in docs/configuration.md: {missing}"
