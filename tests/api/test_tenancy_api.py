"""API keys map to tenants; tenant A can never read, list, search or delete tenant B's data."""

from __future__ import annotations

import dataclasses
import time

import pytest
from fastapi.testclient import TestClient

from service.adapters.redis_rate_limiter import RedisRateLimiter
from service.api.app import create_app
from service.runtime.container import Container
from tests.api.conftest import wait_indexed


@pytest.fixture
def keys(container: Container) -> dict[str, dict[str, str]]:
    make = container.keys.create
    return {name: {"Authorization": f"Bearer {make(name, 'client')}"} for name in ("ta", "tb")}


def test_keys_are_required_once_configured(api: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    r = api.get("/v1/facts?user_id=u")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert (
        api.get("/v1/facts?user_id=u", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert api.get("/v1/facts?user_id=u", headers=keys["ta"]).status_code == 200
    x_key = {"X-API-Key": keys["ta"]["Authorization"][7:]}
    assert api.get("/v1/facts?user_id=u", headers=x_key).status_code == 200
    assert api.get("/healthz").status_code == 200  # probes stay open


def test_keys_are_stored_hashed(container: Container) -> None:
    key = container.keys.create("ta", "admin")
    stored = container.services.settings.keys_path.read_text()
    assert key not in stored
    principal = container.keys.authenticate(key)
    assert principal is not None
    assert (principal.tenant, principal.is_admin) == ("ta", True)


def test_tenant_isolation(api: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    a, b = keys["ta"], keys["tb"]
    secret = {
        "user_id": "u",
        "messages": [{"id": "m1", "role": "user", "content": "The vault code is 9-9-1-4"}],
    }
    assert api.post("/v1/sessions/s/messages", json=secret, headers=a).status_code == 201
    fact = api.post(
        "/v1/facts", json={"user_id": "u", "text": "Vault code is 9-9-1-4"}, headers=a
    ).json()
    wait_indexed(api, "s", a)
    ctx_a = api.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "budget_tokens": 200, "query": "vault code"},
        headers=a,
    ).json()
    # B sees none of it: read, list, search, context, snapshots.
    assert api.get("/v1/sessions/s", headers=b).status_code == 404
    assert api.get("/v1/sessions/s/messages", headers=b).status_code == 404
    assert api.get("/v1/sessions/s/state", headers=b).json() == {"state": {}, "version": 0}
    assert api.get("/v1/sessions/s/state/versions", headers=b).json()["versions"] == []
    assert api.get(f"/v1/facts/{fact['id']}", headers=b).status_code == 404
    assert api.get("/v1/facts?user_id=u", headers=b).json()["facts"] == []
    found = api.post("/v1/facts/search", json={"user_id": "u", "query": "vault code"}, headers=b)
    assert found.json()["facts"] == []
    ctx_b = api.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "budget_tokens": 200, "query": "vault code"},
        headers=b,
    ).json()
    assert ctx_b["items"] == []
    assert "9-9-1-4" not in str(ctx_b)
    assert api.get(f"/v1/snapshots/{ctx_a['snapshot_id']}", headers=b).status_code == 404
    # B cannot delete A's data; B writing the same ids creates B's own, separate data.
    assert api.delete("/v1/sessions/s", headers=b).status_code == 404
    assert api.delete(f"/v1/facts/{fact['id']}", headers=b).status_code == 404
    theirs = {"user_id": "other", "messages": [{"id": "m1", "role": "user", "content": "hi"}]}
    assert api.post("/v1/sessions/s/messages", json=theirs, headers=b).json()["appended"] == 1
    # A still has everything.
    assert api.get("/v1/sessions/s", headers=a).json()["user_id"] == "u"
    assert api.get(f"/v1/facts/{fact['id']}", headers=a).status_code == 200
    assert api.get(f"/v1/snapshots/{ctx_a['snapshot_id']}", headers=a).status_code == 200
    again = api.post(
        "/v1/context",
        json={"session_id": "s", "user_id": "u", "budget_tokens": 200, "query": "vault code"},
        headers=a,
    ).json()
    assert "9-9-1-4" in str(again["messages"])


def test_unreadable_key_file_fails_closed(api: TestClient, container: Container) -> None:
    container.services.settings.keys_path.write_text("{not json")
    r = api.get("/v1/facts?user_id=u")
    assert r.status_code == 503
    assert "unreadable" in r.json()["error"]["message"]
    assert str(container.services.settings.data_dir) not in r.text  # no path to callers


def test_removing_the_key_file_does_not_switch_auth_off(
    api: TestClient, keys: dict[str, dict[str, str]], container: Container
) -> None:
    path = container.services.settings.keys_path
    assert api.get("/v1/facts?user_id=u", headers=keys["ta"]).status_code == 200
    path.rename(path.with_suffix(".moved"))
    assert api.get("/v1/facts?user_id=u").status_code == 503
    path.with_suffix(".moved").rename(path)
    path.write_text('{"keys": []}')
    assert api.put("/v1/sessions/s/state", json={"state": {}}).status_code == 503


def test_rate_limit_per_key_answers_429_with_retry_after(container: Container) -> None:
    settings = container.services.settings.model_copy(
        update={"rate_limit_per_s": 2.0, "rate_limit_burst": 3}
    )
    svc = dataclasses.replace(
        container.services,
        settings=settings,
        rate_limiter=RedisRateLimiter(container.redis, 2.0, 3),
    )
    a = {"Authorization": f"Bearer {container.keys.create('ta', 'client')}"}
    b = {"Authorization": f"Bearer {container.keys.create('ta', 'client')}"}
    app = create_app(svc, container.keys, container.heartbeat)
    with TestClient(app, raise_server_exceptions=False) as api:
        statuses = [api.get("/v1/facts?user_id=u", headers=a).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = api.get("/v1/facts?user_id=u", headers=a)
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert api.get("/v1/facts?user_id=u", headers=b).status_code == 200  # per key
        time.sleep(float(limited.json()["error"]["details"]["retry_after_s"]) + 0.05)
        assert api.get("/v1/facts?user_id=u", headers=a).status_code == 200
