"""Operator invalidation: admin only, in effect before it returns, finished by a job, audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.domain.models import VectorFilter
from service.runtime.container import Container
from service.usecases import admin as admin_usecases
from tests.api.conftest import wait_indexed

DOC = "The refund window for hardware orders is 30 days from delivery."
OTHER = "Office note: the printer on floor two needs toner again."


@pytest.fixture
def keys(container: Container) -> dict[str, dict[str, str]]:
    return {
        role: {"Authorization": f"Bearer {container.keys.create('acme', role)}"}
        for role in ("admin", "client")
    }


def _chunk_docs(api: TestClient, headers: dict[str, str]) -> set[str]:
    ctx = api.post(
        "/v1/context",
        headers=headers,
        json={
            "session_id": "s",
            "user_id": "u",
            "budget_tokens": 800,
            "query": "refund window hardware printer toner",
        },
    ).json()
    return {i["doc_id"] for i in ctx["items"] if i["kind"] == "chunk"}


def _wait_job(api: TestClient, job_id: str, headers: dict[str, str]) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def _invalidate(api: TestClient, headers: dict[str, str], scope: dict[str, Any], action: str):  # type: ignore[no-untyped-def]
    return api.post(
        "/v1/admin/invalidate", headers=headers, json={"scope": scope, "action": action}
    )


def test_only_admins_may_invalidate(api: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    r = _invalidate(api, keys["client"], {"all": True}, "drop")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert api.get("/v1/admin/audit", headers=keys["client"]).status_code == 403


def test_drop_is_in_effect_before_the_call_returns(api: TestClient, keys, container) -> None:  # type: ignore[no-untyped-def]
    admin = keys["admin"]
    api.put("/v1/documents/refunds", headers=admin, json={"text": DOC})
    api.put("/v1/documents/notes", headers=admin, json={"text": OTHER})
    assert _chunk_docs(api, admin) == {"refunds", "notes"}
    r = _invalidate(api, admin, {"doc_ids": ["refunds"]}, "drop")
    assert r.status_code == 200
    assert r.json()["affected"]["documents"] == 1
    assert _chunk_docs(api, admin) == {"notes"}  # no wait: the read path already ignores it
    job = _wait_job(api, r.json()["job_id"], admin)
    assert job["state"] == "done"
    index = container.services.index
    assert index.count(VectorFilter(must={"tenant": "acme", "doc_id": "refunds"})) == 0
    assert index.count(VectorFilter(must={"tenant": "acme", "doc_id": "notes"})) > 0


@pytest.fixture
def no_worker_api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container.services, container.keys, container.heartbeat)) as client:
        yield client


def test_reembed_unserves_now_and_serves_again_after_its_job(  # type: ignore[no-untyped-def]
    no_worker_api: TestClient, keys, container
) -> None:
    api, admin = no_worker_api, keys["admin"]
    version = api.put(
        "/v1/documents/refunds", headers=admin, json={"text": DOC, "tags": ["policy"]}
    ).json()["version"]
    api.put("/v1/documents/notes", headers=admin, json={"text": OTHER, "tags": ["office"]})
    r = _invalidate(api, admin, {"tag": "policy", "caches": True}, "reembed")
    assert r.json()["affected"] == {"documents": 1, "users": 0, "sessions": 0, "caches": True}
    assert _chunk_docs(api, admin) == {"notes"}  # no worker ran: the call itself did this
    job = api.get(f"/v1/jobs/{r.json()['job_id']}", headers=admin).json()
    assert job["state"] == "queued"
    targets = [{"doc_id": "refunds", "sequence": 2, "version": version}]
    counts = admin_usecases.run_invalidation(
        container.services, job["job_id"], "acme", "reembed", targets, True
    )
    assert counts == {"documents": 1, "rebuilt": 1, "cache_entries": 2, "facts": 0, "turns": 0}
    assert _chunk_docs(api, admin) == {"refunds", "notes"}
    assert api.get("/v1/documents/refunds", headers=admin).json()["live_version"] == version
    assert api.get(f"/v1/jobs/{job['job_id']}", headers=admin).json()["state"] == "done"


def test_scope_errors_and_audit(api: TestClient, keys) -> None:  # type: ignore[no-untyped-def]
    admin = keys["admin"]
    assert _invalidate(api, admin, {}, "drop").json()["error"]["field"] == "scope"
    r = _invalidate(api, admin, {"user_id": "bad id"}, "drop")
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "user_id"
    assert _invalidate(api, admin, {"all": True}, "explode").status_code == 422
    _invalidate(api, admin, {"all": True}, "drop")
    entries = api.get("/v1/admin/audit", headers=admin).json()["entries"]
    assert entries[0]["action"] == "drop"
    assert entries[0]["scope"] == {"all": True}
    assert entries[0]["who"] == admin["Authorization"][7:16]


def _fact_ids(api: TestClient, headers: dict[str, str], user: str, query: str) -> set[str]:
    ctx = api.post(
        "/v1/context",
        headers=headers,
        json={"session_id": f"s-{user}", "user_id": user, "budget_tokens": 800, "query": query},
    ).json()
    return {i["id"] for i in ctx["items"] if i["kind"] == "fact"}


def _remember(api: TestClient, headers: dict[str, str], user: str, text: str) -> str:
    r = api.post("/v1/facts", headers=headers, json={"user_id": user, "text": text})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


@pytest.mark.parametrize("action", ["drop", "reembed"])
def test_user_scope_unserves_the_users_facts_at_once(  # type: ignore[no-untyped-def]
    no_worker_api: TestClient, keys, container, action: str
) -> None:
    api, admin, client = no_worker_api, keys["admin"], keys["client"]
    mine = _remember(api, client, "u1", "Prefers green tea in the morning")
    theirs = _remember(api, client, "u2", "Prefers green tea in the evening")
    assert _fact_ids(api, client, "u1", "green tea") == {mine}
    r = _invalidate(api, admin, {"user_id": "u1"}, action)
    assert r.status_code == 200
    assert r.json()["affected"]["users"] == 1
    # No worker has run: the cutoff alone keeps u1's facts out, u2 is untouched.
    assert _fact_ids(api, client, "u1", "green tea") == set()
    assert _fact_ids(api, client, "u2", "green tea") == {theirs}
    # A fact remembered after the invalidation is served.
    later = _remember(api, client, "u1", "Drinks green tea with lemon")
    assert _fact_ids(api, client, "u1", "green tea") == {later}
    cutoff = container.services.cutoffs.get("acme", "user", "u1")
    counts = admin_usecases.run_invalidation(
        container.services, r.json()["job_id"], "acme", action, [], False, ["u1"], [], cutoff
    )
    after = _fact_ids(api, client, "u1", "green tea")
    if action == "drop":
        assert counts["facts"] == 1  # only what was there at the call
        assert after == {later}
        assert api.get(f"/v1/facts/{mine}", headers=client).status_code == 404
    else:
        assert counts["facts"] == 2
        assert after == {mine, later}


@pytest.mark.parametrize("action", ["drop", "reembed"])
def test_session_scope_unserves_recalled_turns_at_once(  # type: ignore[no-untyped-def]
    api: TestClient, keys, container, worker, action: str
) -> None:
    client, admin = keys["client"], keys["admin"]
    turns = [
        {"role": "user", "content": f"filler turn number {i} about weather"} for i in range(60)
    ]
    turns[3] = {"role": "user", "content": "My locker code is 4417, remember it"}
    api.post("/v1/sessions/s1/messages", headers=client, json={"user_id": "u", "messages": turns})
    wait_indexed(api, "s1", client)
    worker.stop()  # from here the test runs the job itself, after checking the call's effect

    def recalled() -> set[str]:
        ctx = api.post(
            "/v1/context",
            headers=client,
            json={"session_id": "s1", "user_id": "u", "budget_tokens": 300, "query": "locker code"},
        ).json()
        return {i["id"] for i in ctx["items"] if i["component"] == "recall"}

    assert recalled()
    r = _invalidate(api, admin, {"session_id": "s1"}, action)
    assert r.json()["affected"]["sessions"] == 1
    assert recalled() == set()  # in effect as the call returns
    counts = admin_usecases.run_invalidation(
        container.services, r.json()["job_id"], "acme", action, [], False, [], ["s1"]
    )
    assert counts["turns"] == 60
    assert bool(recalled()) == (action == "reembed")
