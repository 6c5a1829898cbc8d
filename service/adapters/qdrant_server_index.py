"""QdrantServerIndex: the VectorIndex on a Qdrant server through qdrant-client.

CI exercises it against qdrant-client's in-process engine (same API as a server); set
CMEM_TEST_QDRANT_URL to run the contract suite against a real server too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from service.domain.errors import StoreUnavailable
from service.domain.models import VectorFilter, VectorHit, VectorPoint, VectorQuery
from service.domain.points import INTEGER_FIELDS, KEYWORD_FIELDS
from service.domain.ranking import RRF_K

DENSE = "dense"
SPARSE = "sparse"


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except (ResponseHandlingException, UnexpectedResponse, ConnectionError) as exc:
        raise StoreUnavailable("vector", "Qdrant is unavailable") from exc
    except ValueError as exc:
        # Local mode raises ValueError where a server answers 404 (missing collection).
        raise StoreUnavailable("vector", "Qdrant collection problem (see the service log)") from exc


def _match(key: str, value: str | int | list[str]) -> models.FieldCondition:
    if isinstance(value, list):
        return models.FieldCondition(key=key, match=models.MatchAny(any=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def to_filter(where: VectorFilter) -> models.Filter:
    below: list[models.Condition] = [
        models.FieldCondition(key=k, range=models.Range(lt=v)) for k, v in where.below.items()
    ]
    must: list[models.Condition] = [_match(k, v) for k, v in where.must.items()]
    missing: list[models.Condition] = [
        models.IsEmptyCondition(is_empty=models.PayloadField(key=k)) for k in where.missing
    ]
    return models.Filter(
        must=must + below + missing,
        must_not=[_match(k, v) for k, v in where.must_not.items()] or None,
    )


def _vectors(p: VectorPoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE: list(p.vector)}
    if p.sparse:
        vectors[SPARSE] = models.SparseVector(
            indices=list(p.sparse.indices), values=list(p.sparse.values)
        )
    return vectors


class QdrantServerIndex:
    """Implements VectorIndex with qdrant-client (server URL, or a local path / :memory:)."""

    def __init__(self, client: QdrantClient, collection: str, dimension: int) -> None:
        self._c = client
        self._name = collection
        self._dim = dimension

    @classmethod
    def connect(cls, url: str, api_key: str, collection: str, dimension: int) -> QdrantServerIndex:
        client = QdrantClient(url=url, api_key=api_key or None, timeout=10)
        return cls(client, collection, dimension)

    def ensure_collection(self) -> None:
        """Create the collection if missing, then any payload index it lacks (idempotent)."""
        with _errors():
            if not self._c.collection_exists(self._name):
                self._create()
            schema = self._c.get_collection(self._name).payload_schema
            with warnings.catch_warnings():
                # Local mode warns that payload indexes have no effect there; servers use them.
                warnings.simplefilter("ignore", UserWarning)
                if "tenant" not in schema:
                    self._c.create_payload_index(
                        self._name,
                        "tenant",
                        models.KeywordIndexParams(
                            type=models.KeywordIndexType.KEYWORD, is_tenant=True
                        ),
                    )
                for name in KEYWORD_FIELDS:
                    if name not in schema:
                        self._c.create_payload_index(
                            self._name, name, models.PayloadSchemaType.KEYWORD
                        )
                for name in INTEGER_FIELDS:
                    if name not in schema:
                        self._c.create_payload_index(
                            self._name, name, models.PayloadSchemaType.INTEGER
                        )

    def _create(self) -> None:
        self._c.create_collection(
            self._name,
            vectors_config={
                DENSE: models.VectorParams(size=self._dim, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(id=p.id, vector=_vectors(p), payload=p.payload) for p in points
        ]
        with _errors():
            self._c.upsert(self._name, points=structs, wait=True)

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if not ids:
            return
        with _errors():
            self._c.set_payload(self._name, payload=payload, points=list(ids), wait=True)

    def set_payload_where(self, where: VectorFilter, payload: dict[str, Any]) -> None:
        with _errors():
            self._c.set_payload(
                self._name,
                payload=payload,
                points=models.FilterSelector(filter=to_filter(where)),
                wait=True,
            )

    def delete_ids(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with _errors():
            self._c.delete(self._name, points_selector=models.PointIdsList(points=list(ids)))

    def delete(self, where: VectorFilter) -> None:
        with _errors():
            self._c.delete(
                self._name, points_selector=models.FilterSelector(filter=to_filter(where))
            )

    def query_batch(self, queries: Sequence[VectorQuery]) -> list[list[VectorHit]]:
        def request(q: VectorQuery) -> models.QueryRequest:
            flt = to_filter(q.where)
            dense = list(q.vector)
            if q.sparse is None:
                return models.QueryRequest(
                    query=dense, using=DENSE, filter=flt, limit=q.limit, with_payload=q.with_payload
                )
            terms = models.SparseVector(
                indices=list(q.sparse.indices), values=list(q.sparse.values)
            )
            if not dense:
                return models.QueryRequest(
                    query=terms,
                    using=SPARSE,
                    filter=flt,
                    limit=q.limit,
                    with_payload=q.with_payload,
                )
            return models.QueryRequest(
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                prefetch=[
                    models.Prefetch(query=dense, using=DENSE, filter=flt, limit=q.limit),
                    models.Prefetch(query=terms, using=SPARSE, filter=flt, limit=q.limit),
                ],
                limit=q.limit,
                with_payload=q.with_payload,
            )

        if not queries:
            return []
        with _errors():
            results = self._c.query_batch_points(self._name, requests=[request(q) for q in queries])
        return [
            [
                VectorHit(str(p.id), float(p.score), dict(p.payload or {}))
                # Equal scores: by id, so the same request gets the same (as EdgeIndex).
                for p in sorted(r.points, key=lambda p: (-p.score, str(p.id)))
            ]
            for r in results
        ]

    def scroll(
        self, where: VectorFilter, limit: int, offset: str | None = None
    ) -> tuple[list[VectorHit], str | None]:
        with _errors():
            records, next_offset = self._c.scroll(
                self._name,
                scroll_filter=to_filter(where),
                limit=limit,
                offset=offset,
                with_payload=True,
            )
        hits = [VectorHit(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return hits, None if next_offset is None else str(next_offset)

    def retrieve(self, ids: Sequence[str]) -> list[VectorHit]:
        if not ids:
            return []
        with _errors():
            records = self._c.retrieve(self._name, list(ids), with_payload=True)
        return [VectorHit(str(r.id), 0.0, dict(r.payload or {})) for r in records]

    def count(self, where: VectorFilter) -> int:
        with _errors():
            return int(self._c.count(self._name, count_filter=to_filter(where), exact=True).count)

    def disk_bytes(self) -> int | None:
        return None  # on the Qdrant server's disk: its own /metrics reports it

    def check_writable(self) -> None:
        """A Qdrant server guards its own disk and answers an error, not a crash: nothing to do."""

    def ping(self) -> None:
        with _errors():
            self._c.collection_exists(self._name)

    def close(self) -> None:
        self._c.close()
