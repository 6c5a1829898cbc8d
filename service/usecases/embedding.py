"""Embedding through the content-addressed cache: each distinct text is embedded once per model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from service.usecases.services import Services


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def embed_cached(
    svc: Services, tenant: str, texts: Sequence[str], reuse: bool = True
) -> tuple[list[list[float]], int]:
    """Vectors for `texts` in order, and how many had to be computed (the rest were cached).

    reuse=False recomputes everything and overwrites the cache (operator re-embedding).
    """
    model = svc.embedder.model_name
    hashes = [content_hash(t) for t in texts]
    cached: list[list[float] | None] = (
        svc.embedding_cache.get_many(tenant, model, hashes) if reuse else [None] * len(hashes)
    )
    missing = sorted(
        {h: i for i, (h, v) in enumerate(zip(hashes, cached, strict=True)) if v is None}.values()
    )
    fresh = svc.embedder.embed([texts[i] for i in missing])
    computed = {hashes[i]: vec for i, vec in zip(missing, fresh, strict=True)}
    svc.embedding_cache.put_many(tenant, model, computed)
    out = [v if v is not None else computed[h] for h, v in zip(hashes, cached, strict=True)]
    return out, len(computed)
