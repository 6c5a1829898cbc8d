"""The console's sign-in, CSRF and origin checks, and its audited actions, through HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.container import Container

BASE = "http://testserver"


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    return {
        "admin": container.keys.create("acme", "admin"),
        "client": container.keys.create("acme", "client"),
    }


@pytest.fixture
def console(container: Container, keys: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(container.services, container.keys, container.heartbeat)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client


def sign_in(console: TestClient, key: str) -> None:
    r = console.post("/console/login", data={"key": key, "next": "/console/jobs"})
    assert r.status_code == 303
    assert r.headers["location"] == "/console/jobs"


def csrf(console: TestClient, path: str = "/console/actions") -> str:
    page = console.get(path)
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


def test_pages_need_an_admin_key(console: TestClient, keys: dict[str, str]) -> None:
    r = console.get("/console/sessions")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2Fsessions"
    refused = console.post("/console/login", data={"key": keys["client"]})
    assert refused.status_code == 401
    assert "not an admin key" in refused.text
    assert "set-cookie" not in refused.headers
    sign_in(console, keys["admin"])
    assert console.get("/console/sessions").status_code == 200


def test_the_key_cookie_is_http_only_same_site_and_scoped(
    console: TestClient, keys: dict[str, str]
) -> None:
    r = console.post("/console/login", data={"key": keys["admin"]})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie
    page = console.get("/console")
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts at all
    assert keys["admin"] not in page.text  # the key is never rendered back


def test_sign_in_never_redirects_off_the_console(console: TestClient, keys: dict[str, str]) -> None:
    for target in ("https://evil.example/", "//evil.example/console", "/v1/admin/keys"):
        r = console.post("/console/login", data={"key": keys["admin"], "next": target})
        assert r.headers["location"] == "/console"


def test_actions_need_the_csrf_token_and_the_same_origin(
    console: TestClient, container: Container, keys: dict[str, str]
) -> None:
    sign_in(console, keys["admin"])
    form = {"kind": "invalidate", "session_id": "s1", "action": "drop", "confirmed": "yes"}
    forged = console.post("/console/actions/run", data=form)
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    token = csrf(console)
    cross = console.post(
        "/console/actions/run",
        data={**form, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert container.services.audit.recent("acme", 10) == []
    unconfirmed = console.post(
        "/console/actions/run", data={**form, "csrf": token, "confirmed": ""}
    )
    assert unconfirmed.status_code == 422
    done = console.post("/console/actions/run", data={**form, "csrf": token})
    assert done.status_code == 303
    job_id = done.headers["location"].split("started=")[1]
    (entry,) = container.services.audit.recent("acme", 10)
    assert entry["job_id"] == job_id
    assert entry["scope"] == {"session_id": "s1"}
    assert entry["action"] == "drop"


def test_confirmation_shows_the_scope_and_does_nothing(
    console: TestClient, container: Container, keys: dict[str, str]
) -> None:
    sign_in(console, keys["admin"])
    token = csrf(console)
    page = console.post(
        "/console/actions/confirm",
        data={"kind": "invalidate", "tag": "old", "action": "reembed", "csrf": token},
    )
    assert page.status_code == 200
    assert "invalidate and reembed" in page.text
    assert ">tag<" in page.text
    assert ">old<" in page.text
    assert container.services.audit.recent("acme", 10) == []
    bad = console.post(
        "/console/actions/confirm",
        data={"kind": "invalidate", "older_than": "yesterday", "csrf": token},
    )
    assert bad.status_code == 422
    assert "older_than must be an ISO date" in bad.text


def test_signing_out_clears_the_cookie(console: TestClient, keys: dict[str, str]) -> None:
    sign_in(console, keys["admin"])
    token = csrf(console)
    out = console.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303
    assert (
        'cmem_console=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    console.cookies.clear()
    assert console.get("/console").status_code == 303
