"""Console pages and actions. Handlers render use-case results; they never touch a store.

Sign-in: the admin key is typed once and kept in an HttpOnly, SameSite=Strict cookie scoped to
/console. Forms that change anything carry a CSRF token derived from that key (so it works across
API replicas) and are refused from another origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlparse

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from service.api.console import charts
from service.api.deps import KEYLESS
from service.domain.errors import Forbidden, InvalidInput, MemoryServiceError, NotFound
from service.domain.models import Principal
from service.domain.usage import MESSAGE_BUCKETS, cumulative
from service.ports import ApiKeys, Heartbeat
from service.usecases import admin, console, observability
from service.usecases import reindex as reindex_uc
from service.usecases.context import get_snapshot
from service.usecases.services import Services

COOKIE = "cmem_console"
COOKIE_MAX_AGE_S = 12 * 3600
# No scripts at all; styles and charts are inline.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SCOPE_FIELDS = ("doc_ids", "tag", "older_than", "embedding_model", "user_id", "session_id")
PAGE = 50

templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["ago"] = lambda s: _ago(s)

router = APIRouter(prefix="/console", include_in_schema=False)
T = TypeVar("T")


class SignIn(Exception):
    """No admin key in the cookie: the page sends the browser to the sign-in form."""


def _svc(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _caller(request: Request) -> Principal:
    keys: ApiKeys = request.app.state.keys
    if not keys.configured():
        return KEYLESS
    key = request.cookies.get(COOKIE, "")
    found = keys.authenticate(key) if key else None
    if found is None or not found.is_admin:
        raise SignIn
    return found


def _csrf(request: Request) -> str:
    """A token only a page served to the cookie's holder can carry (HMAC over the key)."""
    secret: bytes = request.app.state.console_secret
    material = request.cookies.get(COOKIE, "")
    if material:  # the same on every replica: derived from the key alone
        return hashlib.sha256(b"cmem-console-csrf:" + material.encode()).hexdigest()
    return hmac.new(secret, b"keyless", hashlib.sha256).hexdigest()


async def _form(request: Request) -> dict[str, str]:
    """A url-encoded form; refused from another origin or without this session's CSRF token."""
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.headers.get("host"):
        raise Forbidden("cross-origin form refused")
    fields = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if not hmac.compare_digest(fields.get("csrf", ""), _csrf(request)):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page")
    return fields


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(
        request=request, csrf=_csrf(request), path=request.url.path, **context
    )
    return HTMLResponse(html, status, headers={"Content-Security-Policy": CSP})


async def _page(
    request: Request, name: str, read: Callable[[Services, Principal], T], key: str
) -> Response:
    """Render `name` with the result of `read` (run in the thread pool) under `key`."""
    try:
        caller = _caller(request)
    except SignIn:
        return RedirectResponse(f"/console/login?{urlencode({'next': str(request.url.path)})}", 303)
    try:
        data = await run_in_threadpool(read, _svc(request), caller)
    except MemoryServiceError as exc:
        status = 404 if isinstance(exc, NotFound) else 422 if isinstance(exc, InvalidInput) else 503
        return _render(request, "error.html", status, message=exc.message, caller=caller)
    context: dict[str, Any] = {key: data}
    return _render(request, name, caller=caller, **context)


@router.get("/login")
async def login_form(request: Request, next: str = "/console") -> Response:
    return _render(request, "login.html", next=_local(next), error=None, caller=None)


@router.post("/login")
async def login(request: Request) -> Response:
    fields = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    key, target = fields.get("key", "").strip(), _local(fields.get("next", "/console"))
    keys: ApiKeys = request.app.state.keys
    found = keys.authenticate(key) if key else None
    if found is None or not found.is_admin:
        return _render(
            request, "login.html", 401, next=target, error="not an admin key", caller=None
        )
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_MAX_AGE_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        await _form(request)
    except Forbidden as exc:
        return _render(request, "error.html", 403, message=exc.message, caller=None)
    response = RedirectResponse("/console/login", 303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
async def overview(request: Request) -> Response:
    heartbeat: Heartbeat = request.app.state.heartbeat

    def read(svc: Services, caller: Principal) -> dict[str, Any]:
        found = console.overview(svc, heartbeat, caller.tenant)
        sizes = found.status.usage.messages
        per_bucket = []
        previous = 0
        for le, running in cumulative(sizes.buckets, MESSAGE_BUCKETS):
            per_bucket.append((f"≤{le}" if le != "+Inf" else ">10k", running - previous))
            previous = running
        return {"data": found, "sizes": charts.columns(per_bucket)}

    return await _page(request, "overview.html", read, "view")


@router.get("/sessions")
async def sessions(request: Request, offset: int = 0) -> Response:
    return await _page(
        request,
        "sessions.html",
        lambda svc, c: observability.list_sessions(svc, c.tenant, max(0, offset), PAGE),
        "page",
    )


@router.get("/sessions/{session_id}")
async def session(request: Request, session_id: str, offset: int | None = None) -> Response:
    def read(svc: Services, caller: Principal) -> dict[str, Any]:
        timeline = console.session_timeline(svc, caller.tenant, session_id, offset)
        return {"t": timeline, "strip": charts.strip([t.state for t in timeline.turns])}

    return await _page(request, "session.html", read, "view")


@router.get("/snapshots/{snapshot_id}")
async def snapshot(request: Request, snapshot_id: str) -> Response:
    def read(svc: Services, caller: Principal) -> dict[str, Any]:
        body = get_snapshot(svc, caller.tenant, snapshot_id)
        budget = int(body.get("request", {}).get("budget_tokens") or body["usage"]["total"])
        chart = charts.horizontal_bars(body["usage"]["by_component"], max(budget, 1))
        return {"s": body, "id": snapshot_id, "budget": budget, "chart": chart}

    return await _page(request, "snapshot.html", read, "view")


@router.get("/facts")
async def facts(request: Request, user_id: str = "") -> Response:
    def read(svc: Services, caller: Principal) -> console.UserFacts | None:
        return console.user_facts(svc, caller.tenant, user_id) if user_id else None

    return await _page(request, "facts.html", read, "facts")


@router.get("/documents")
async def documents(request: Request, offset: int = 0) -> Response:
    def read(svc: Services, caller: Principal) -> dict[str, Any]:
        rows, total = console.documents(svc, caller.tenant, max(0, offset), PAGE)
        return {"rows": rows, "total": total, "offset": max(0, offset)}

    return await _page(request, "documents.html", read, "view")


@router.get("/jobs")
async def jobs(request: Request) -> Response:
    return await _page(
        request, "jobs.html", lambda svc, c: console.recent_jobs(svc, c.tenant), "jobs"
    )


@router.get("/audit")
async def audit(request: Request) -> Response:
    return await _page(
        request, "audit.html", lambda svc, c: console.audit(svc, c.tenant), "entries"
    )


@router.get("/actions")
async def actions(request: Request) -> Response:
    return await _page(request, "actions.html", lambda svc, c: None, "nothing")


@router.post("/actions/confirm")
async def confirm(request: Request) -> Response:
    """Step one of an action: show exactly what will happen; nothing is done yet."""
    return await _action(request, _confirm)


@router.post("/actions/run")
async def run(request: Request) -> Response:
    """Step two: the confirmed action, audited by its use case; then its job page."""
    return await _action(request, _run)


async def _action(
    request: Request,
    step: Callable[[Request, Principal, dict[str, str]], Awaitable[Response]],
) -> Response:
    try:
        caller = _caller(request)
    except SignIn:
        return RedirectResponse("/console/login", 303)
    try:
        return await step(request, caller, await _form(request))
    except MemoryServiceError as exc:
        status = 403 if isinstance(exc, Forbidden) else 422
        return _render(request, "error.html", status, message=exc.message, caller=caller)


async def _confirm(request: Request, caller: Principal, fields: dict[str, str]) -> Response:
    kind = fields.get("kind")
    if kind not in ("invalidate", "reindex"):
        raise InvalidInput("unknown action", field="kind")
    scope = _scope(fields) if kind == "invalidate" else {}
    return _render(
        request,
        "confirm.html",
        caller=caller,
        kind=kind,
        action=fields.get("action", "drop"),
        scope=scope,
        fields={k: v for k, v in fields.items() if k != "csrf"},
    )


async def _run(request: Request, caller: Principal, fields: dict[str, str]) -> Response:
    if fields.get("confirmed") != "yes":
        raise InvalidInput("the action was not confirmed", field="confirmed")
    svc = _svc(request)
    if fields.get("kind") == "reindex":
        started = await run_in_threadpool(reindex_uc.start_reindex, svc, caller)
        job_id = started.job_id
    else:
        action: admin.Action = "reembed" if fields.get("action") == "reembed" else "drop"
        scope = admin.Scope(**_scope(fields))
        done = await run_in_threadpool(admin.invalidate, svc, caller, scope, action)
        job_id = done.job_id
    return RedirectResponse(f"/console/jobs?{urlencode({'started': job_id})}", 303)


def _scope(fields: dict[str, str]) -> dict[str, Any]:
    scope: dict[str, Any] = {}
    for name in SCOPE_FIELDS:
        value = fields.get(name, "").strip()
        if not value:
            continue
        if name == "doc_ids":
            scope[name] = [d.strip() for d in value.split(",") if d.strip()]
        elif name == "older_than":
            try:
                scope[name] = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput("older_than must be an ISO date", field=name) from None
        else:
            scope[name] = value
    for flag in ("all", "caches"):
        if fields.get(flag) == "on":
            scope[flag] = True
    return scope


def _local(target: str) -> str:
    """Only console paths: a sign-in link must not redirect off the site."""
    return target if target.startswith("/console") and "//" not in target else "/console"


def _ago(stamp: Any) -> str:
    if not stamp:
        return ""
    try:
        at = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    seconds = (datetime.now(UTC) - at).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{max(0, int(seconds))} s ago"


def install(app: FastAPI) -> None:
    """Mount the console on the app, with its per-process state."""
    app.state.console_secret = secrets.token_bytes(32)  # CSRF tokens of keyless development
    # Compiled now (~120 ms for all), not by the first load of each page (overview: ~25 ms).
    for name in templates.list_templates():
        templates.get_template(name)
    app.include_router(router)
