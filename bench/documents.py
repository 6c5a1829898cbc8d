"""Document benchmarks (issue 3), against a real `cmem serve` subprocess over HTTP.

1. Ingest throughput of new documents (write-through PUTs) next to the raw embedder's
   throughput on the same chunk texts, same batch size, same run.
2. A 50-chunk document with one changed paragraph: chunks embedded, write-through latency.
3. Invalidate-to-unserved: POST /v1/admin/invalidate for one document, then a context read
   that must not serve it.
4. /v1/context latency with 100,000 chunks in the tenant (before and after `cmem optimize`).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.http_context import measure_context
from bench.stats import line, save
from harness.served import CMEM, Served
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.chunking import Chunk, ChunkerConfig, chunk_text, document_version
from service.domain.documents import DocumentVersion
from service.domain.models import VectorPoint
from service.domain.points import chunk_payload, chunk_point_id
from service.domain.sparse import encode_document
from service.logging import configure_logging
from service.runtime.container import build_container, build_embedder
from service.runtime.valkey import start_valkey
from service.settings import Settings

TOPICS = [
    "refund",
    "warehouse",
    "invoice",
    "shipping",
    "passport",
    "mortgage",
    "printer",
    "roadmap",
    "vaccine",
    "firmware",
    "payroll",
    "glacier",
    "orchard",
    "satellite",
    "turbine",
    "ledger",
]
VERBS = ["requires", "excludes", "covers", "delays", "approves", "lists", "limits", "tracks"]


def paragraph(rng: random.Random, i: int, sentences: int) -> str:
    out = []
    for s in range(sentences):
        a, b = rng.choice(TOPICS), rng.choice(TOPICS)
        out.append(
            f"Clause {i}.{s}: the {a} policy {rng.choice(VERBS)} {rng.randint(2, 900)} "
            f"{b} items before day {rng.randint(1, 365)} of year {rng.randint(1990, 2030)}."
        )
    return " ".join(out)


def document(rng: random.Random, paragraphs: int, sentences: int = 8) -> list[str]:
    return [paragraph(rng, i, sentences) for i in range(paragraphs)]


def chunks_of(text: str, tokenizer: TiktokenTokenizer, settings: Settings) -> list[str]:
    config = ChunkerConfig(
        settings.chunk_max_tokens, settings.chunk_overlap_tokens, settings.chunk_encoding
    )
    enc = settings.chunk_encoding
    found = chunk_text(
        text, config, lambda t: tokenizer.count(t, enc), lambda t, n: tokenizer.split(t, n, enc)
    )
    return [c.text for c in found]


def bench_ingest_update_invalidate(results: dict[str, object]) -> None:
    rng = random.Random(7)
    settings = Settings()
    data_dir = Path(tempfile.mkdtemp(prefix="cmem-bench-docs-"))
    tokenizer = TiktokenTokenizer(data_dir / "tiktoken-bench", settings.default_model)
    docs = ["\n\n".join(document(rng, 24)) for _ in range(16)]
    chunk_texts = [c for d in docs for c in chunks_of(d, tokenizer, settings)]
    embedder = build_embedder(settings)
    embedder.embed(chunk_texts[:32])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(chunk_texts), settings.embedding_batch_size):
        embedder.embed(chunk_texts[start : start + settings.embedding_batch_size])
    raw = len(chunk_texts) / (time.perf_counter() - started)
    del embedder

    served = Served(data_dir)
    served.wait_ready()
    with served.client() as http:
        http.put("/v1/documents/warmup", json={"text": paragraph(rng, 0, 3)}).raise_for_status()
        started = time.perf_counter()
        embedded = 0
        for n, text in enumerate(docs):
            r = http.put(f"/v1/documents/new{n}", json={"text": text}, timeout=300)
            r.raise_for_status()
            embedded += r.json()["embedded"]
        ingest = len(chunk_texts) / (time.perf_counter() - started)
        print(
            f"{'ingest new documents (write-through)':<46} {ingest:8.1f} chunks/s   "
            f"raw embedder {raw:8.1f} chunks/s   ratio {ingest / raw:5.2f}   target >= 0.80"
            f"   ({len(docs)} docs, {len(chunk_texts)} chunks, {embedded} embedded)"
        )

        # One-paragraph updates of a 50-chunk document.
        paragraphs = document(rng, 50, sentences=9)
        first = http.put("/v1/documents/big", json={"text": "\n\n".join(paragraphs)}, timeout=300)
        first.raise_for_status()
        assert first.json()["chunks"] == 50, first.json()
        update_ms: list[float] = []
        embeds: list[int] = []
        for k in range(40):
            paragraphs[(k * 7) % 50] = paragraph(rng, 1000 + k, 9)
            body = {"text": "\n\n".join(paragraphs), "policy": "write_through"}
            t = time.perf_counter()
            r = http.put("/v1/documents/big", json=body)
            update_ms.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
            embeds.append(r.json()["embedded"])
        print(line("50-chunk doc, one paragraph changed (PUT)", update_ms, "target p50<=100"))
        print(
            f"{'  chunks embedded per update':<46} min {min(embeds)}  median "
            f"{statistics.median(embeds):.0f}  max {max(embeds)}   target 1-2"
        )

        # Invalidate-to-unserved.
        for n in range(40):
            text = f"Bulletin {n}: the zeppelin{n} hangar opens at {n % 12 + 1} pm. " * 4
            http.put(f"/v1/documents/bulletin{n}", json={"text": text}).raise_for_status()
        invalidate_ms: list[float] = []
        served_after = 0
        for n in range(40):
            body = {"scope": {"doc_ids": [f"bulletin{n}"]}, "action": "drop"}
            t = time.perf_counter()
            r = http.post("/v1/admin/invalidate", json=body)
            invalidate_ms.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
            ctx = http.post(
                "/v1/context",
                json={
                    "session_id": "bench",
                    "user_id": "bench",
                    "budget_tokens": 2000,
                    "query": f"when does the zeppelin{n} hangar open",
                    "doc_ids": [f"bulletin{n}"],
                },
            ).json()
            served_after += sum(1 for i in ctx["items"] if i.get("doc_id") == f"bulletin{n}")
        print(line("POST /v1/admin/invalidate (one document)", invalidate_ms, "target p50<=50"))
        print(f"{'  chunks served after the call returned':<46} {served_after}   target 0")
    served.stop()
    results.update(
        ingest_chunks_per_s=ingest,
        raw_chunks_per_s=raw,
        update_ms=update_ms,
        update_embeds=embeds,
        invalidate_ms=invalidate_ms,
        served_after_invalidate=served_after,
    )


def populate_chunks(data_dir: Path, n_docs: int, per_doc: int) -> None:
    """n_docs live documents of per_doc chunks, written straight to the stores (offline).

    Vectors: 1,000 really embedded sentences, each reused with noise (100k real embeddings
    would take the embedder ~10 minutes here; search cost does not depend on where they came
    from). Records and the live-version map are the service's own, so reads check them.
    """
    rng = random.Random(3)
    settings = Settings(data_dir=data_dir)
    valkey = start_valkey(data_dir / "valkey")
    try:
        container = build_container(settings, valkey.connection_url)
        svc = container.services
        sentences = [paragraph(rng, i, 2) for i in range(1_000)]
        base = svc.embedder.embed(sentences)
        model = svc.embedder.model_name
        config = ChunkerConfig(
            settings.chunk_max_tokens, settings.chunk_overlap_tokens, settings.chunk_encoding
        )
        for d in range(n_docs):
            doc_id = f"kb{d:05d}"
            picks = [rng.randrange(len(sentences)) for _ in range(per_doc)]
            text = "\n\n".join(sentences[p] for p in picks)
            version = document_version(text, config, model)
            entry = DocumentVersion(version, 1, "pending", per_doc, "2026-01-01T00:00:00+00:00")
            svc.documents.add_version("default", doc_id, entry, text, ["kb"], {})
            points = []
            for c, p in enumerate(picks):
                noisy = [x + rng.gauss(0, 0.02) for x in base[p]]
                norm = sum(x * x for x in noisy) ** 0.5
                points.append(
                    VectorPoint(
                        chunk_point_id("default", doc_id, version, c),
                        [x / norm for x in noisy],
                        chunk_payload(
                            "default",
                            doc_id,
                            version,
                            Chunk(c, sentences[p], 0),  # tokens: not part of the payload
                            ["kb"],
                            0,
                            model,
                            status="live",
                        ),
                        encode_document(sentences[p]),
                    )
                )
            svc.index.upsert(points)
            svc.documents.switch_live("default", doc_id, version, 1, 0, "2026-01-01T00:00:00")
        container.close()
    finally:
        valkey.stop()


def kb_context_ms(http: httpx.Client, rng: random.Random, calls: int = 200) -> list[float]:
    """Client ms of `calls` context calls (after 20 warm-up), each of which must hold a chunk."""
    requests = [
        {
            "session_id": "kb",
            "user_id": "bench",
            "budget_tokens": 4096,
            "query": f"which {rng.choice(TOPICS)} policy {rng.choice(VERBS)} "
            f"{rng.choice(TOPICS)} items",
        }
        for _ in range(calls + 20)
    ]
    measured = measure_context(http, requests)
    assert all(any(i["kind"] == "chunk" for i in body["items"]) for body in measured.bodies)
    return measured.total


def bench_context_100k(results: dict[str, object]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cmem-bench-100k-chunks-"))
    t0 = time.perf_counter()
    populate_chunks(data_dir, 2_000, 50)
    print(f"populated 100,000 chunks (2,000 documents) in {time.perf_counter() - t0:.1f} s")
    rng = random.Random(11)

    def measure(label: str) -> list[float]:
        served = Served(data_dir)
        served.wait_ready(120)
        with served.client() as http:
            found = kb_context_ms(http, rng)
        served.stop()
        print(line(label, found, "target p50<=30"))
        return found

    plain = measure("POST /v1/context, 100k chunks")
    t0 = time.perf_counter()
    subprocess.run([CMEM, "optimize", "--data-dir", str(data_dir)], check=True)
    print(f"cmem optimize (offline) took {time.perf_counter() - t0:.1f} s")
    optimized = measure("POST /v1/context, 100k chunks, optimized")
    results.update(context_100k_chunks_ms=plain, context_100k_chunks_optimized_ms=optimized)


def main() -> None:
    configure_logging("console", "warning")
    results: dict[str, object] = {}
    bench_ingest_update_invalidate(results)
    bench_context_100k(results)
    save("documents", results)
