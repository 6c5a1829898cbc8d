"""The one composition root: builds every adapter from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis
import structlog

from service.adapters.celery_queue import CeleryJobQueue, producer_app
from service.adapters.edge_index import EdgeIndex
from service.adapters.extractors import OpenAIExtractor, RuleExtractor
from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.key_file import KeyFile
from service.adapters.onnx_embedder import OnnxEmbedder
from service.adapters.redis_audit import RedisAuditLog
from service.adapters.redis_client import connect
from service.adapters.redis_cutoffs import RedisCutoffs
from service.adapters.redis_documents import RedisDocumentStore
from service.adapters.redis_durability import RedisDurability
from service.adapters.redis_embedding_cache import RedisEmbeddingCache
from service.adapters.redis_facts import RedisFactStore
from service.adapters.redis_heartbeat import RedisHeartbeat
from service.adapters.redis_jobs import RedisJobStore
from service.adapters.redis_quotas import RedisQuotas
from service.adapters.redis_rate_limiter import RedisRateLimiter
from service.adapters.redis_seen_facts import RedisSeenFacts
from service.adapters.redis_sessions import RedisSessionStore
from service.adapters.redis_snapshots import RedisSnapshotStore
from service.adapters.redis_summaries import RedisSummaryStore
from service.adapters.redis_usage import RedisUsageStats
from service.adapters.redis_working_memory import RedisWorkingMemory
from service.adapters.sentence_embedder import SentenceTransformerEmbedder, packaged_model_path
from service.adapters.summarizers import ExtractiveSummarizer, OpenAISummarizer
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.metrics import Metrics
from service.ports import Embedder, FactExtractor, Summarizer, Tokenizer, VectorIndex
from service.settings import Settings
from service.usecases.services import Services

log = structlog.get_logger()

HASHING = "hashing"


@dataclass
class Container:
    """Everything a process needs, built once; `close()` releases it."""

    services: Services
    redis: redis.Redis
    keys: KeyFile
    heartbeat: RedisHeartbeat
    # One registry per process: the embedded worker's job counters show on the API's /metrics.
    metrics: Metrics = field(default_factory=Metrics)

    def close(self) -> None:
        self.services.index.close()
        self.redis.close()


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_model_path == HASHING:
        return HashingEmbedder()
    path = Path(settings.embedding_model_path) if settings.embedding_model_path else None
    quantized = settings.embedding_runtime == "onnx-int8"
    if quantized or settings.embedding_runtime == "onnx":
        try:
            return OnnxEmbedder(
                path or packaged_model_path(),
                settings.embedding_model_name,
                settings.model_path,
                threads=settings.embedding_threads,
                quantized=quantized,
            )
        except Exception as exc:
            if quantized:  # torch has no int8 model: its vectors would not match the index's
                raise
            log.warning(
                "embedder.onnx_unavailable",
                error=f"{type(exc).__name__}: {exc}",
                fallback="torch",
                model_dir=str(settings.model_path),
            )
    return SentenceTransformerEmbedder(
        path or packaged_model_path(),
        settings.embedding_model_name,
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads,
    )


def build_index(settings: Settings, dimension: int) -> VectorIndex:
    if settings.qdrant_url:
        # Imported here: qdrant-client costs ~0.5 s of start-up that embedded mode does not need.
        from service.adapters.qdrant_server_index import QdrantServerIndex

        return QdrantServerIndex.connect(
            settings.qdrant_url, settings.qdrant_api_key, settings.collection, dimension
        )
    return EdgeIndex(
        settings.edge_path,
        dimension,
        settings.min_free_disk_mb * 2**20,
        settings.edge_search_threads,
    )


def build_summarizer(settings: Settings, tokenizer: Tokenizer) -> Summarizer:
    """The extractive summarizer, or an OpenAI-compatible endpoint that falls back to it."""

    def count(text: str) -> int:
        return tokenizer.count(text, settings.default_model)

    extractive = ExtractiveSummarizer(count)
    if not settings.summarizer_base_url:
        return extractive
    return OpenAISummarizer(
        settings.summarizer_base_url,
        settings.summarizer_model,
        settings.summarizer_api_key,
        settings.summarizer_timeout_s,
        extractive,
        count,
    )


def build_extractor(settings: Settings) -> FactExtractor:
    """The built-in rules, or an OpenAI-compatible endpoint that falls back to them."""
    rules = RuleExtractor()
    if not settings.extractor_base_url:
        return rules
    return OpenAIExtractor(
        settings.extractor_base_url,
        settings.extractor_model,
        settings.extractor_api_key,
        settings.extractor_timeout_s,
        rules,
    )


def build_container(
    settings: Settings,
    redis_url: str,
    embedder: Embedder | None = None,
    index: VectorIndex | None = None,
    tokenizer: Tokenizer | None = None,
) -> Container:
    """Wire adapters to ports. `embedder`/`index`/`tokenizer` may be passed in to share them."""
    client = connect(redis_url)
    embedder = embedder or build_embedder(settings)
    index = index or build_index(settings, embedder.dimension)
    index.ensure_collection()
    tokenizer = tokenizer or TiktokenTokenizer(
        settings.data_dir / "tiktoken", settings.default_model
    )
    services = Services(
        settings=settings,
        sessions=RedisSessionStore(client),
        facts=RedisFactStore(client),
        snapshots=RedisSnapshotStore(client),
        index=index,
        embedder=embedder,
        embedding_cache=RedisEmbeddingCache(client, settings.embedding_cache_ttl_s),
        tokenizer=tokenizer,
        jobs=CeleryJobQueue(producer_app(redis_url), client),
        documents=RedisDocumentStore(client),
        job_states=RedisJobStore(client),
        audit=RedisAuditLog(client),
        cutoffs=RedisCutoffs(client),
        summaries=RedisSummaryStore(client),
        summarizer=build_summarizer(settings, tokenizer),
        extractor=build_extractor(settings),
        working_memory=RedisWorkingMemory(client),
        usage=RedisUsageStats(client),
        durability=RedisDurability(client),
        rate_limiter=RedisRateLimiter(client, settings.rate_limit_per_s, settings.rate_limit_burst),
        quotas=RedisQuotas(client),
        seen_facts=RedisSeenFacts(client),
    )
    return Container(services, client, KeyFile(settings.keys_path), RedisHeartbeat(client))
