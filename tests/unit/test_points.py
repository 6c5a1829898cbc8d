"""Vector points: stored ids never change, and every payload reads back as it was written."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from service.domain import points
from service.domain.chunking import Chunk
from service.domain.models import Fact, Message

WHEN = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)


def test_point_ids_are_those_earlier_releases_stored() -> None:
    # Computed by the code before points.py existed: a changed namespace or name string would
    # orphan every stored point (and duplicate it at the next write).
    assert points.message_point_id("acme", "s1", 2, "m7") == "3eb88fd0-15e3-5822-b701-e2ff817d539c"
    assert points.fact_point_id("acme", "f123") == "37e73a72-c03b-5c70-91f5-a1ff1af35e51"
    assert (
        points.chunk_point_id("acme", "refunds", "v1abc", 3)
        == "6716ee93-742f-5db5-ac4e-d41403f98a04"
    )


def test_point_ids_differ_by_every_part() -> None:
    ids = {
        points.message_point_id("acme", "s1", 2, "m7"),
        points.message_point_id("other", "s1", 2, "m7"),
        points.message_point_id("acme", "s1", 3, "m7"),
        points.fact_point_id("acme", "m7"),
        points.chunk_point_id("acme", "s1", "2", 7),
        points.chunk_point_id("acme", "s1", "2", 8),
    }
    assert len(ids) == 6


def test_a_turn_reads_back_from_its_payload() -> None:
    turn = Message(
        tenant="acme",
        session_id="s1",
        user_id="u1",
        id="m7",
        seq=41,
        role="assistant",
        content="The refund takes 14 days.",
        created_at=WHEN,
        tokens=9,
        name="helper",
        tokens_encoding="o200k_base",
    )
    payload = points.message_payload(turn, epoch=2, indexed_at=1_700_000_000_000)
    assert points.message_from_payload("acme", payload) == turn
    ref = points.message_ref(payload)
    assert ref == points.MessageRef("s1", "m7", 2, 41, 1_700_000_000_000, turn.content)
    assert points.scope_of(payload) == points.session_scope("acme", "s1", 2) == payload["scope"]
    assert points.session_recall_filter("acme", "s1", 2).must == {"scope": payload["scope"]}


def test_a_turn_point_without_its_text_is_no_turn() -> None:
    payload = points.message_payload(
        Message("acme", "s1", "u1", "m1", 0, "user", "hi", WHEN, 1), 0, 0
    )
    del payload["content"]
    assert points.message_from_payload("acme", payload) is None
    assert points.message_ref(payload).content == ""


def test_a_fact_reads_back_from_its_payload() -> None:
    fact = Fact("acme", "f1", "u1", "Likes tea", "user.drink", "active", 1, WHEN, WHEN)
    payload = points.fact_payload(fact, embedded_at=123)
    assert points.fact_ref(payload) == points.FactRef("f1", "u1", 123)
    assert payload["key"] == "user.drink"
    assert "key" not in points.fact_payload(dataclasses.replace(fact, key=None), 0)
    assert points.scope_of(payload) == points.facts_scope("acme", "u1", "active")
    conflict = points.facts_scope("acme", "u1", "conflict")
    assert points.facts_filter("acme", "u1").must == {"scope": [payload["scope"], conflict]}
    # A superseded fact's point leaves the active scope that reads filter on.
    moved = {**payload, **points.fact_status("acme", "u1", "superseded")}
    assert points.scope_of(moved) == moved["scope"] != payload["scope"]


def test_a_chunk_reads_back_from_its_payload() -> None:
    chunk = Chunk(3, "Refunds take 14 days.", 6)
    payload = points.chunk_payload("acme", "refunds", "v1", chunk, ["policy"], 0, "minilm")
    assert points.chunk_ref(payload) == points.ChunkRef("acme", "refunds", "v1", 3, chunk.text)
    assert payload["status"] == "pending"
    assert payload["content_hash"] == chunk.content_hash
    assert {**payload, **points.chunk_live()}["status"] == "live"


def test_filters_select_by_the_payload_fields_the_builders_write() -> None:
    chunk = points.chunk_payload("acme", "d", "v1", Chunk(0, "x", 1), ["t"], 0, "m")
    where = points.chunk_filter("acme", tags=["t"], doc_ids=["d"])
    assert all(_matches(chunk, k, v) for k, v in where.must.items())
    assert points.chunk_filter("acme").must == {"tenant": "acme", "kind": "chunk"}
    where = points.version_chunks_filter("acme", "d", "v1")
    assert all(_matches(chunk, k, v) for k, v in where.must.items())
    assert points.document_chunks_filter("acme", "d", keep="v1").must_not == {"version": "v1"}
    assert points.document_chunks_filter("acme", "d").must_not == {}


def _matches(payload: dict[str, object], key: str, wanted: object) -> bool:
    value = payload[key]
    if isinstance(wanted, list):
        return bool(set(value) & set(wanted)) if isinstance(value, list) else value in wanted
    return value == wanted
