"""Every user mistake gets a clear status and one JSON error shape; never a 500."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from service.api.errors import ErrorOut


def _error(r, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert set(body) >= {"code", "message"}
    return body  # type: ignore[no-any-return]


def test_missing_field_names_it(api: TestClient) -> None:
    err = _error(api.post("/v1/sessions/s/messages", json={"messages": []}), 422)
    assert err["field"] == "user_id"


def test_bad_role_names_the_field(api: TestClient) -> None:
    body = {"user_id": "u", "messages": [{"role": "robot", "content": "x"}]}
    err = _error(api.post("/v1/sessions/s/messages", json=body), 422)
    assert err["field"] == "messages.0.role"


def test_bad_session_id(api: TestClient) -> None:
    body = {"user_id": "u", "messages": [{"role": "user", "content": "x"}]}
    err = _error(api.post("/v1/sessions/bad{id}/messages", json=body), 422)
    assert err["field"] == "session_id"


def test_message_without_content(api: TestClient) -> None:
    body = {"user_id": "u", "messages": [{"role": "user", "content": None}]}
    err = _error(api.post("/v1/sessions/s/messages", json=body), 422)
    assert err["field"] == "messages[0].content"


def test_tool_message_without_call_id(api: TestClient) -> None:
    body = {"user_id": "u", "messages": [{"role": "tool", "content": "x"}]}
    err = _error(api.post("/v1/sessions/s/messages", json=body), 422)
    assert err["field"] == "messages[0].tool_call_id"


def test_not_found(api: TestClient) -> None:
    assert _error(api.get("/v1/sessions/nope"), 404)["code"] == "not_found"
    assert _error(api.get("/v1/facts/nope"), 404)["code"] == "not_found"
    assert _error(api.get("/v1/snapshots/nope"), 404)["code"] == "not_found"
    assert _error(api.get("/v1/no-such-route"), 404)["code"] == "not_found"


def test_oversized_message_batch_and_body(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    limits = container.services.settings
    big = {
        "user_id": "u",
        "messages": [{"role": "user", "content": "x" * (limits.max_message_chars + 1)}],
    }
    assert _error(api.post("/v1/sessions/s/messages", json=big), 413)["field"] == (
        "messages[0].content"
    )
    many = {
        "user_id": "u",
        "messages": [{"role": "user", "content": "x"}] * (limits.max_batch_messages + 1),
    }
    assert _error(api.post("/v1/sessions/s/messages", json=many), 413)["field"] == "messages"
    huge = b"{" + b" " * limits.max_request_bytes + b"}"
    r = api.post(
        "/v1/sessions/s/messages", content=huge, headers={"content-type": "application/json"}
    )
    assert _error(r, 413)["code"] == "too_large"
    state = {"state": {"blob": "x" * limits.max_state_bytes}}
    assert _error(api.put("/v1/sessions/s/state", json=state), 413)["field"] == "state"


def test_session_of_another_user_is_a_conflict(api: TestClient) -> None:
    body = {"user_id": "alice", "messages": [{"role": "user", "content": "hi"}]}
    api.post("/v1/sessions/shared/messages", json=body)
    body["user_id"] = "bob"
    assert _error(api.post("/v1/sessions/shared/messages", json=body), 409)["field"] == "user_id"
    ctx = {"session_id": "shared", "user_id": "bob", "budget_tokens": 100}
    _error(api.post("/v1/context", json=ctx), 409)


def test_context_input_errors(api: TestClient) -> None:
    base = {"session_id": "s", "user_id": "u", "budget_tokens": 100}
    assert _error(api.post("/v1/context", json={**base, "model": "nope"}), 422)["field"] == "model"
    assert _error(api.post("/v1/context", json={**base, "budget_tokens": 0}), 422)["field"] == (
        "budget_tokens"
    )
    r = api.post("/v1/context", json={**base, "response_reserve": 100})
    assert _error(r, 422)["field"] == "response_reserve"
    r = api.post("/v1/context", json={**base, "system_prompt": "word " * 500})
    assert _error(r, 422)["field"] == "system_prompt"
    assert _error(api.post("/v1/context", json={**base, "extra": 1}), 422)["field"] == "extra"


def test_invalid_json(api: TestClient) -> None:
    r = api.post("/v1/facts", content=b"{not json", headers={"content-type": "application/json"})
    _error(r, 422)


def test_chunked_body_over_the_limit(api: TestClient, container) -> None:  # type: ignore[no-untyped-def]
    limit = container.services.settings.max_request_bytes

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"user_id": "u", "query": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = api.post("/v1/facts/search", content=chunks(), headers={"content-type": "application/json"})
    assert _error(r, 413)["code"] == "too_large"

    def small():  # type: ignore[no-untyped-def]
        yield b'{"user_id": "u", "query": "tea"}'

    ok = api.post("/v1/facts/search", content=small(), headers={"content-type": "application/json"})
    assert ok.status_code == 200


def test_free_form_json_and_text_are_bounded(api: TestClient) -> None:
    deep: dict = {}  # type: ignore[type-arg]
    node = deep
    for _ in range(40):
        node["a"] = {}
        node = node["a"]
    cases = [
        (
            "/v1/sessions/s/messages",
            {"user_id": "u", "messages": [{"role": "user", "content": "\ud800"}]},
            "messages.0.content",
        ),
        (
            "/v1/sessions/s/messages",
            {
                "user_id": "u",
                "messages": [{"role": "user", "content": "x", "metadata": {"n": 1 << 70}}],
            },
            "messages.0.metadata",
        ),
        ("/v1/facts", {"user_id": "u", "text": "x", "metadata": deep}, "metadata"),
        (
            "/v1/context",
            {"session_id": "s", "user_id": "u", "budget_tokens": 50, "query": "a\udfffb"},
            "query",
        ),
    ]
    for path, body, field in cases:
        r = api.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
        assert _error(r, 422)["field"] == field, (path, r.text)
    r = api.put("/v1/sessions/s/state", json={"state": deep})
    assert _error(r, 422)["field"] == "state"
    r = api.get("/v1/sessions/s/messages", params={"offset": 1 << 63})
    assert _error(r, 422)["field"] == "offset"


def test_every_route_declares_its_errors_in_the_one_shape(api: TestClient) -> None:
    """The OpenAPI document lists each /v1 route's errors (key, size, input, store at least),
    all in the shape the handlers send."""
    spec = api.get("/openapi.json").json()
    ams = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            shapes = {
                s: r["content"]["application/json"]["schema"]["$ref"] for s, r in errors.items()
            }
            if "agent-memory-server" in operation["tags"]:
                # Agent Memory Server's routes: its `{"detail"}`, but for the size limit's 413
                # (refused before routing); its health probe checks nothing.
                ams += 1
                if path == "/v1/health":
                    assert shapes == {}
                    continue
                assert shapes.pop("413") == "#/components/schemas/ErrorOut", (method, path)
                assert set(shapes.values()) == {"#/components/schemas/AmsErrorOut"}, (method, path)
                assert {"401", "422", "503"} <= set(shapes), (method, path)
                continue
            assert {"401", "413", "422", "503"} <= set(errors), (method, path)
            assert set(shapes.values()) == {"#/components/schemas/ErrorOut"}, (method, path)
    assert ams == 11
    assert {"403", "200", "202"} <= set(spec["paths"]["/v1/admin/reindex"]["post"]["responses"])
    assert "404" in spec["paths"]["/v1/facts/{fact_id}"]["get"]["responses"]
    # The declared shape is the one sent.
    ErrorOut.model_validate_json(_raw(api.get("/v1/facts/nope"), 404))
    ErrorOut.model_validate_json(_raw(api.post("/v1/facts", json={}), 422))


def _raw(r, status: int) -> bytes:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    return r.content  # type: ignore[no-any-return]


def test_invalid_json_is_422_naming_where_it_broke(api: TestClient) -> None:
    broken = '{"user_id": "u", "messages": [{"role": "user", "content": "hi"},]}'
    r = api.post(
        "/v1/sessions/s/messages", content=broken, headers={"content-type": "application/json"}
    )
    err = _error(r, 422)
    assert err["code"] == "invalid_input"
    assert err["field"] == "body"
    assert err["message"].startswith(f"body: not valid JSON at character {broken.index(']')}")
