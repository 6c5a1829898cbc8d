"""One contract for every VectorIndex adapter: Qdrant Edge, and qdrant-client (in-process
engine in CI; a real server where CMEM_TEST_QDRANT_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from service.adapters.edge_index import EdgeIndex
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.qdrant_server_index import QdrantServerIndex
from service.domain.models import VectorFilter, VectorHit, VectorPoint, VectorQuery
from service.domain.sparse import SparseVector, encode_document, encode_query
from service.ports import VectorIndex

EMB = HashingEmbedder(dimension=64)
BACKENDS = ["edge", "qdrant-local"] + (
    ["qdrant-server"] if os.environ.get("CMEM_TEST_QDRANT_URL") else []
)


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    built: VectorIndex
    if request.param == "edge":
        built = EdgeIndex(tmp_path / "edge", 64)
    elif request.param == "qdrant-local":
        built = QdrantServerIndex(QdrantClient(location=":memory:"), "contract", 64)
    else:
        name = "contract_" + uuid.uuid4().hex[:8]
        built = QdrantServerIndex.connect(os.environ["CMEM_TEST_QDRANT_URL"], "", name, 64)
    built.ensure_collection()
    built.ensure_collection()  # idempotent
    yield built
    built.close()


def _one(
    index: VectorIndex, vector: Sequence[float], where: VectorFilter, limit: int
) -> list[VectorHit]:
    return index.query_batch([VectorQuery(vector, where, limit)])[0]


def _many(
    index: VectorIndex,
    vector: Sequence[float],
    searches: list[tuple[VectorFilter, int]],
    sparse: SparseVector | None = None,
) -> list[list[VectorHit]]:
    """One vector, several filtered searches (hybrid with `sparse`), in one batch."""
    return index.query_batch([VectorQuery(vector, w, n, sparse) for w, n in searches])


def _points(tenant: str, texts: list[str], **payload: str | int) -> list[VectorPoint]:
    return [
        VectorPoint(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{t}")),
            v,
            {"tenant": tenant, "kind": "fact", "text": t, "status": "active", **payload},
        )
        for t, v in zip(texts, EMB.embed(texts), strict=True)
    ]


def test_query_finds_nearest_within_filter(index: VectorIndex) -> None:
    index.upsert(_points("a", ["green tea lover", "lives in berlin", "likes jazz"], user_id="u1"))
    index.upsert(_points("b", ["green tea lover"], user_id="u1"))
    [query] = EMB.embed(["green tea"])
    hits = _one(index, query, VectorFilter(must={"tenant": "a", "user_id": "u1"}), 2)
    assert hits[0].payload["text"] == "green tea lover"
    assert all(h.payload["tenant"] == "a" for h in hits)
    assert hits[0].score >= hits[1].score
    assert isinstance(hits[0].id, str)


def test_filters_any_and_must_not(index: VectorIndex) -> None:
    index.upsert(_points("a", ["one"], user_id="u1") + _points("a", ["two"], user_id="u2"))
    index.upsert(_points("a", ["three"], user_id="u3"))
    assert index.count(VectorFilter(must={"tenant": "a", "user_id": ["u1", "u2"]})) == 2
    assert index.count(VectorFilter(must={"tenant": "a"}, must_not={"user_id": "u1"})) == 2


def test_integer_filter(index: VectorIndex) -> None:
    index.upsert(_points("a", ["x"], epoch=1) + _points("a", ["y"], epoch=2))
    assert index.count(VectorFilter(must={"tenant": "a", "epoch": 2})) == 1


def test_upsert_is_idempotent_by_id(index: VectorIndex) -> None:
    pts = _points("a", ["same"])
    index.upsert(pts)
    index.upsert(pts)
    assert index.count(VectorFilter(must={"tenant": "a"})) == 1


def test_set_payload_and_deletes(index: VectorIndex) -> None:
    pts = _points("a", ["p", "q", "r"])
    index.upsert(pts)
    index.set_payload([pts[0].id], {"status": "superseded"})
    assert index.count(VectorFilter(must={"tenant": "a", "status": "active"})) == 2
    index.delete_ids([pts[1].id])
    assert index.count(VectorFilter(must={"tenant": "a"})) == 2
    index.delete(VectorFilter(must={"tenant": "a", "status": "superseded"}))
    assert index.count(VectorFilter(must={"tenant": "a"})) == 1
    index.delete_ids([str(uuid.uuid4())])  # unknown id: no error


def test_scroll_pages_through_everything(index: VectorIndex) -> None:
    index.upsert(_points("a", [f"text {i}" for i in range(7)]))
    index.upsert(_points("b", ["other"]))
    seen: list[str] = []
    offset = None
    while True:
        page, offset = index.scroll(VectorFilter(must={"tenant": "a"}), 3, offset)
        seen += [h.payload["text"] for h in page]
        if offset is None:
            break
    assert sorted(seen) == sorted(f"text {i}" for i in range(7))


def test_retrieve_by_id_skips_unknown_and_deleted(index: VectorIndex) -> None:
    pts = _points("a", ["p", "q", "r"], user_id="u1")
    index.upsert(pts)
    index.delete_ids([pts[2].id])
    found = index.retrieve([pts[0].id, str(uuid.uuid4()), pts[1].id, pts[2].id])
    assert sorted(h.payload["text"] for h in found) == ["p", "q"]
    assert {h.id for h in found} == {pts[0].id, pts[1].id}
    assert found[0].payload["user_id"] == "u1"
    assert index.retrieve([]) == []


def test_ping(index: VectorIndex) -> None:
    index.ping()


def test_query_many_equals_separate_queries(index: VectorIndex) -> None:
    index.upsert(_points("a", ["green tea lover", "lives in berlin"], user_id="u1"))
    index.upsert(_points("a", ["green tea fan", "likes jazz"], user_id="u2"))
    [query] = EMB.embed(["green tea"])
    searches = [
        (VectorFilter(must={"tenant": "a", "user_id": "u1"}), 2),
        (VectorFilter(must={"tenant": "a", "user_id": "u2"}), 1),
        (VectorFilter(must={"tenant": "nobody"}), 5),
    ]
    batched = _many(index, query, searches)
    separate = [_one(index, query, where, limit) for where, limit in searches]
    assert [[h.id for h in hits] for hits in batched] == [[h.id for h in hits] for hits in separate]
    assert [len(hits) for hits in batched] == [2, 1, 0]


def test_query_batch_searches_each_with_its_own_vector(index: VectorIndex) -> None:
    texts = ["green tea lover", "lives in berlin", "likes jazz", "berlin jazz bars"]
    index.upsert(_points("a", texts, user_id="u1"))
    where = VectorFilter(must={"tenant": "a"})
    tea, jazz = EMB.embed(["green tea", "likes jazz"])
    batched = index.query_batch(
        [
            VectorQuery(tea, where, 1),
            VectorQuery(jazz, where, 2, encode_query("jazz")),
            VectorQuery(jazz, VectorFilter(must={"tenant": "nobody"}), 3),
        ]
    )
    assert [h.payload["text"] for h in batched[0]] == ["green tea lover"]
    assert {h.payload["text"] for h in batched[1]} == {"likes jazz", "berlin jazz bars"}
    assert batched[2] == []
    [alone] = _many(index, jazz, [(where, 2)], encode_query("jazz"))
    assert [h.id for h in alone] == [h.id for h in batched[1]]  # same as searched alone
    assert index.query_batch([]) == []


def test_below_filter_on_integers(index: VectorIndex) -> None:
    index.upsert(_points("a", ["x"], epoch=0) + _points("a", ["y"], epoch=1))
    index.upsert(_points("a", ["z"], epoch=2))
    assert index.count(VectorFilter(must={"tenant": "a"}, below={"epoch": 2})) == 2
    index.delete(VectorFilter(must={"tenant": "a"}, below={"epoch": 2}))
    assert [h.payload["text"] for h in index.scroll(VectorFilter(must={"tenant": "a"}), 10)[0]] == [
        "z"
    ]


def test_missing_selects_points_without_the_field(index: VectorIndex) -> None:
    index.upsert(_points("a", ["x", "y"]) + _points("a", ["z"], scope="a/1"))
    where = VectorFilter(must={"tenant": "a"}, missing=("scope",))
    assert sorted(h.payload["text"] for h in index.scroll(where, 10)[0]) == ["x", "y"]
    [x] = [h.id for h in index.scroll(where, 10)[0] if h.payload["text"] == "x"]
    index.set_payload([x], {"scope": "a/1"})
    assert [h.payload["text"] for h in index.scroll(where, 10)[0]] == ["y"]


def _sparse_points(tenant: str, texts: list[str], vectors: list[list[float]]) -> list[VectorPoint]:
    return [
        VectorPoint(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{t}")),
            v,
            {"tenant": tenant, "kind": "chunk", "text": t},
            encode_document(t),
        )
        for t, v in zip(texts, vectors, strict=True)
    ]


def test_hybrid_fuses_dense_and_sparse_by_rank(index: VectorIndex) -> None:
    """A point that only the exact term finds joins the dense winner; one found by both leads."""
    # "INV-4471 paid" is shorter, so its BM25 weights (and sparse rank) beat the invoice's.
    texts = ["alpha notes", "invoice INV-4471 overdue", "beta notes", "INV-4471 paid"]
    dense = [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.8, 0.2]]
    vectors = [v + [0.0] * 62 for v in dense]
    index.upsert(_sparse_points("a", texts, vectors))
    index.upsert(_sparse_points("b", ["INV-4471 of another tenant"], [vectors[1]]))
    query = [1.0, 0.0] + [0.0] * 62
    where = VectorFilter(must={"tenant": "a"})
    dense_only = [h.payload["text"] for h in _one(index, query, where, 2)]
    assert dense_only == ["alpha notes", "beta notes"]
    [hybrid] = _many(index, query, [(where, 2)], encode_query("INV-4471"))
    texts_found = [h.payload["text"] for h in hybrid]
    # Dense ranks: alpha 1, beta 2; sparse ranks: the two INV-4471 points. RRF sums 1/(k+rank).
    assert "invoice INV-4471 overdue" in texts_found or "INV-4471 paid" in texts_found
    assert all(h.payload["tenant"] == "a" for h in hybrid)
    [wide] = _many(index, query, [(where, 4)], encode_query("INV-4471"))
    order = [h.payload["text"] for h in wide]
    assert order[0] == "INV-4471 paid"  # in both lists: ranked first by fusion
    assert set(order) == set(texts)
    scores = [h.score for h in wide]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_with_empty_sparse_query_is_dense(index: VectorIndex) -> None:
    index.upsert(_points("a", ["green tea lover", "lives in berlin"]))
    [query] = EMB.embed(["green tea"])
    where = VectorFilter(must={"tenant": "a"})
    [dense] = _many(index, query, [(where, 2)])
    [hybrid] = _many(index, query, [(where, 2)], encode_query("the of and"))
    assert [h.id for h in hybrid] == [h.id for h in dense]


def test_sparse_alone_and_without_payload(index: VectorIndex) -> None:
    texts = ["invoice INV-4471 is overdue", "the weather is lovely", "pay INV-4471 today"]
    index.upsert(_sparse_points("a", texts, EMB.embed(texts)))
    where = VectorFilter(must={"tenant": "a"})
    [query] = EMB.embed(["INV-4471"])
    sparse, bare = index.query_batch(
        [
            VectorQuery((), where, 5, encode_query("INV-4471")),
            VectorQuery(query, where, 3, with_payload=False),
        ]
    )
    # Sparse alone: only the texts that share a term, scored by BM25 (> 0).
    assert {h.payload["text"] for h in sparse} == {texts[0], texts[2]}
    assert all(h.score > 0 for h in sparse)
    # Without payload: ids and scores only; retrieve brings the payloads of the ones kept.
    assert len(bare) == 3
    assert all(h.payload == {} for h in bare)
    dense = _one(index, query, where, 3)
    assert [h.id for h in bare] == [h.id for h in dense]
    assert [round(h.score, 5) for h in bare] == [round(h.score, 5) for h in dense]


def test_equal_scores_come_back_ordered_by_id(index: VectorIndex) -> None:
    """The same request gets the same hits in the same order, ties included (a context is
    reproducible: its hash verifies a replay)."""
    texts = [f"the same words again {i}" for i in range(40)]
    [vector] = EMB.embed(["the same words again"])
    points = [
        VectorPoint(p.id, list(vector), p.payload, encode_document("the same words again"))
        for p in _points("a", texts)
    ]
    index.upsert(points)
    where = VectorFilter(must={"tenant": "a"})
    terms = encode_query("same words")
    runs = [
        index.query_batch([VectorQuery(vector, where, 10), VectorQuery((), where, 10, terms)])
        for _ in range(5)
    ]
    for dense, sparse in runs:
        for hits in (dense, sparse):
            assert [h.id for h in hits] == sorted(h.id for h in hits)
            assert [h.id for h in hits] == [h.id for h in runs[0][0 if hits is dense else 1]]
