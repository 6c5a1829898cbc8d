"""What the OpenAPI schema adds to what FastAPI derives: the API-key security schemes on every
operation that checks a key (those that document a 401), and the 400 of a body that is not
JSON on every operation that takes one."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <key>` (a key from `cmem keys create`).",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same key in `X-API-Key`.",
    },
}
# Either scheme. While the service has no key at all, none is needed (tenant `default`).
KEYED: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


MALFORMED = {
    "description": "The body is not JSON (`bad_request`).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}
# The Agent Memory Server routes answer errors in its shape, and take our key as HTTP Basic's
# password too (agent-memory-client has no header setting; httpx sends `user:key@` as Basic).
AMS_TAG = "agent-memory-server"
AMS_MALFORMED = {
    "description": "The body is not JSON.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AmsErrorOut"}}},
}
BASIC = {
    "type": "http",
    "scheme": "basic",
    "description": "Agent Memory Server routes only: the key as the password (any user name).",
}


def document_security(app: FastAPI) -> None:
    """Generate the schema once, with the security schemes on every keyed operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemes = {**SECURITY_SCHEMES, "basic": BASIC}
            spec.setdefault("components", {})["securitySchemes"] = schemes
            for operations in spec["paths"].values():
                for operation in operations.values():
                    ams = AMS_TAG in operation.get("tags", [])
                    if "401" in operation["responses"]:
                        operation["security"] = [*KEYED, {"basic": []}] if ams else KEYED
                    if "requestBody" in operation:
                        operation["responses"]["400"] = AMS_MALFORMED if ams else MALFORMED
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
