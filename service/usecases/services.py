"""The dependencies every use case receives; built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from service.ports import (
    AuditLog,
    Cutoffs,
    DocumentStore,
    Durability,
    Embedder,
    EmbeddingCache,
    FactExtractor,
    FactStore,
    JobQueue,
    JobStore,
    Quotas,
    RateLimiter,
    SeenFacts,
    SessionStore,
    SnapshotStore,
    Summarizer,
    SummaryStore,
    Tokenizer,
    UsageStats,
    VectorIndex,
    WorkingMemoryStore,
)
from service.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Ports and settings, passed down explicitly (no module-level singletons)."""

    settings: Settings
    sessions: SessionStore
    facts: FactStore
    snapshots: SnapshotStore
    index: VectorIndex
    embedder: Embedder
    embedding_cache: EmbeddingCache
    tokenizer: Tokenizer
    jobs: JobQueue
    documents: DocumentStore
    job_states: JobStore
    audit: AuditLog
    cutoffs: Cutoffs
    summaries: SummaryStore
    summarizer: Summarizer
    extractor: FactExtractor
    working_memory: WorkingMemoryStore
    usage: UsageStats
    durability: Durability
    rate_limiter: RateLimiter
    quotas: Quotas
    seen_facts: SeenFacts
    clock: Callable[[], datetime] = field(default=utc_now)

    def now_ms(self) -> int:
        """The clock in unix milliseconds (invalidation cutoffs and the times they compare)."""
        return int(self.clock().timestamp() * 1000)
