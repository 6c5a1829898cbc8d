"""EdgeIndex: the VectorIndex on Qdrant Edge (Qdrant's engine in-process, WAL on).

One shard directory can be opened by one process at a time (the WAL is locked), hence the
in-process worker in embedded mode. Edge calls hold the GIL: keep `optimize()` off hot paths.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    IntegerIndexParams,
    IsEmptyCondition,
    KeywordIndexParams,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryBatchRequest,
    QueryRequest,
    RangeFloat,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

from service.adapters.disk_space import check_writable
from service.domain.errors import StoreUnavailable
from service.domain.models import VectorFilter, VectorHit, VectorPoint, VectorQuery
from service.domain.points import INTEGER_FIELDS, KEYWORD_FIELDS
from service.domain.ranking import RRF_K

DENSE = "dense"
SPARSE = "sparse"
T = TypeVar("T")


class ShardLocked(Exception):
    """The shard directory is held by another process (the WAL lock)."""


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as exc:  # qdrant_edge raises plain Exception/ValueError for storage errors
        raise StoreUnavailable("vector", "Qdrant Edge failed (see the service log)") from exc


def _match(key: str, value: str | int | list[str]) -> FieldCondition:
    if isinstance(value, bool):
        raise TypeError("qdrant-edge-py turns booleans into 0/1: filter on strings or integers")
    if isinstance(value, list):
        return FieldCondition(key=key, match=MatchAny(any=value))
    return FieldCondition(key=key, match=MatchValue(value))


def to_filter(where: VectorFilter) -> Filter:
    must: list[Any] = [_match(k, v) for k, v in where.must.items()]
    must += [FieldCondition(key=k, range=RangeFloat(lt=v)) for k, v in where.below.items()]
    must += [IsEmptyCondition(k) for k in where.missing]
    return Filter(
        must=must,
        must_not=[_match(k, v) for k, v in where.must_not.items()] or None,
    )


def _point(p: VectorPoint) -> Point:
    vectors: dict[str, Any] = {DENSE: list(p.vector)}
    if p.sparse:
        vectors[SPARSE] = SparseVector(list(p.sparse.indices), list(p.sparse.values))
    return Point(id=p.id, vector=vectors, payload=p.payload)


def _hit(point: Any, with_payload: bool) -> VectorHit:
    """A scored point as a hit (each read of `point.payload` builds a new dict: no copy)."""
    payload = (point.payload or {}) if with_payload else {}
    return VectorHit(str(point.id), float(point.score), payload)


_ID, _SCORE = attrgetter("id"), attrgetter("score")


def _by_score_then_id(hits: list[VectorHit]) -> list[VectorHit]:
    """Best first, equal scores by id (Edge returns them in no fixed order: the same request
    must get the same hits). Two stable sorts by plain attributes, no key tuples."""
    hits.sort(key=_ID)
    hits.sort(key=_SCORE, reverse=True)
    return hits


class EdgeIndex:
    """Implements VectorIndex on one Qdrant Edge shard directory."""

    def __init__(
        self, path: Path, dimension: int, min_free_bytes: int = 0, search_threads: int = 1
    ) -> None:
        """`search_threads`: the shard's search pool (0: one per CPU, Edge's default). One runs
        each search on the calling thread: a context's few small searches then wait for no pool
        thread to be scheduled (measured on 2 busy cores: 1-2 ms less per context, same hits).
        Always given explicitly: Edge keeps a loaded shard's settings, so "default" would keep
        whatever the shard was last opened with."""
        self._path = path
        self._dim = dimension
        self._min_free = min_free_bytes
        self._search_threads = search_threads or os.cpu_count() or 1
        self._closed = False
        self._lock = threading.Lock()
        self._writes = threading.Lock()  # held by each update and by copy_to
        self._shard = self._open()

    def _config(self) -> EdgeConfig:
        return EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=self._dim, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            max_search_threads=self._search_threads,
            wal_enabled=True,
        )

    def _load_config(self) -> EdgeConfig:
        """What loading sets: the search pool; the rest stays as stored (the dense vectors'
        size is inherited: `cmem optimize` opens a shard without knowing it)."""
        return EdgeConfig(
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            max_search_threads=self._search_threads,
        )

    def _open(self) -> EdgeShard:
        fresh = not self._path.exists() or not any(self._path.iterdir())
        try:
            if fresh:
                return EdgeShard.create(str(self._path), self._config())
            return EdgeShard.load(str(self._path), self._load_config())
        except Exception as exc:
            text = str(exc).lower()
            if "lock" in text or "resource temporarily unavailable" in text:
                raise ShardLocked(
                    f"the vector store at {self._path} is open in another process "
                    f"(is another `cmem serve` running on this data dir?): {exc}"
                ) from exc
            raise StoreUnavailable(
                "vector", f"cannot open Qdrant Edge at {self._path}: {exc}"
            ) from exc

    def _call(self, fn: Callable[[EdgeShard], T]) -> T:
        if self._closed:
            raise StoreUnavailable("vector", "the vector store is closed")
        with _errors():
            return fn(self._shard)

    def ensure_collection(self) -> None:
        # Payload indexes before data: the tenant index makes tenant-filtered search fast.
        schema = self._call(lambda s: s.info().payload_schema)
        ops: list[UpdateOperation] = []
        if "tenant" not in schema:
            ops.append(
                UpdateOperation.create_field_index("tenant", KeywordIndexParams(is_tenant=True))
            )
        ops += [
            UpdateOperation.create_field_index(f, PayloadSchemaType.Keyword)
            for f in KEYWORD_FIELDS
            if f not in schema
        ]
        ops += [
            UpdateOperation.create_field_index(f, IntegerIndexParams(lookup=True, range=True))
            for f in INTEGER_FIELDS
            if f not in schema
        ]
        for op in ops:
            self._update(op)

    def check_writable(self) -> None:
        """Refuse before Edge would SIGBUS: a full disk or a read-only/immutable shard."""
        check_writable(self._path, self._min_free)
        wal = self._path / "wal"
        if wal.exists():
            check_writable(wal, self._min_free)

    def _update(self, op: UpdateOperation) -> None:
        self.check_writable()
        with self._writes:
            self._call(lambda s: s.update(op))

    def copy_to(self, dest: Path) -> None:
        """A consistent copy of the shard while serving: writes wait, reads go on."""
        with self._writes:
            self._call(lambda s: s.flush())
            shutil.copytree(self._path, dest)

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if points:
            self._update(UpdateOperation.upsert_points([_point(p) for p in points]))

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if ids:
            self._update(UpdateOperation.set_payload(list(ids), payload))

    def set_payload_where(self, where: VectorFilter, payload: dict[str, Any]) -> None:
        self._update(UpdateOperation.set_payload_by_filter(to_filter(where), payload))

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._update(UpdateOperation.delete_points(list(ids)))

    def delete(self, where: VectorFilter) -> None:
        self._update(UpdateOperation.delete_points_by_filter(to_filter(where)))

    def query_batch(self, queries: Sequence[VectorQuery]) -> list[list[VectorHit]]:
        """With a sparse query a search is hybrid: a dense and a sparse prefetch under the same
        filter, fused by reciprocal rank."""

        def request(q: VectorQuery) -> QueryRequest:
            flt = to_filter(q.where)
            dense = Query.Nearest(list(q.vector), using=DENSE)
            if q.sparse is None:
                return QueryRequest(
                    limit=q.limit, query=dense, filter=flt, with_payload=q.with_payload
                )
            terms = Query.Nearest(
                SparseVector(list(q.sparse.indices), list(q.sparse.values)), using=SPARSE
            )
            if not q.vector:
                return QueryRequest(
                    limit=q.limit, query=terms, filter=flt, with_payload=q.with_payload
                )
            return QueryRequest(
                limit=q.limit,
                query=Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # stub omits nested classes
                prefetches=[
                    Prefetch(q.limit, dense, filter=flt),
                    Prefetch(q.limit, terms, filter=flt),
                ],
                with_payload=q.with_payload,
            )

        if not queries:
            return []
        batch = QueryBatchRequest([request(q) for q in queries])
        results = self._call(lambda s: s.query_batch(batch))
        # Each read of a point's `id` builds a UUID (~2 us), its str ~1.3 us more: a context's
        # searches return ~500 points, so each id is read once, by `_hit`.
        return [
            _by_score_then_id([_hit(p, q.with_payload) for p in points])
            for q, points in zip(queries, results, strict=True)
        ]

    def scroll(
        self, where: VectorFilter, limit: int, offset: str | None = None
    ) -> tuple[list[VectorHit], str | None]:
        request = ScrollRequest(
            limit=limit,
            offset=offset,
            filter=to_filter(where),
            with_payload=True,
            with_vector=False,
        )
        records, next_offset = self._call(lambda s: s.scroll(request))
        hits = [VectorHit(str(r.id), 0.0, dict(r.payload or {})) for r in records]
        return hits, None if next_offset is None else str(next_offset)

    def retrieve(self, ids: Sequence[str]) -> list[VectorHit]:
        if not ids:
            return []
        records = self._call(lambda s: s.retrieve(list(ids), True, False))
        return [VectorHit(str(r.id), 0.0, r.payload or {}) for r in records]

    def count(self, where: VectorFilter) -> int:
        return int(self._call(lambda s: s.count(CountRequest(exact=True, filter=to_filter(where)))))

    def disk_bytes(self) -> int | None:
        """The shard directory's size (WAL, segments, payload indexes)."""
        total = 0
        for path in self._path.rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:
                continue  # a segment file replaced while we walked
        return total

    def points(self) -> int:
        return int(self._call(lambda s: s.info().points_count))

    def optimize(self) -> bool:
        """Build HNSW/segment optimizations; blocks the GIL for seconds on large shards."""
        return bool(self._call(lambda s: s.optimize()))

    def ping(self) -> None:
        self._call(lambda s: s.info())

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with _errors():
                self._shard.flush()
                self._shard.close()
