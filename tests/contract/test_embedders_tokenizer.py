"""Embedder contract (hashing and the real packaged model) and the offline tokenizer."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.sentence_embedder import SentenceTransformerEmbedder, packaged_model_path
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.errors import InvalidInput
from service.ports import Embedder


@pytest.fixture(scope="module")
def real_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(packaged_model_path(), "all-MiniLM-L6-v2")


@pytest.fixture(params=["hashing", "minilm"])
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    if request.param == "hashing":
        yield HashingEmbedder()
    else:
        yield request.getfixturevalue("real_model")


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_unit_vectors_of_the_declared_dimension(embedder: Embedder) -> None:
    vectors = embedder.embed(["hello there", "", "a much longer text about memory " * 20])
    assert [len(v) for v in vectors] == [embedder.dimension] * 3
    for v in vectors:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3)
    assert embedder.embed([]) == []


def test_deterministic_and_related_texts_are_closer(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        ["my locker code is 31-7-22", "what is my locker code", "the weather in lisbon is sunny"]
    )
    assert embedder.embed(["my locker code is 31-7-22"])[0] == pytest.approx(a, abs=1e-5)
    assert _cos(a, b) > _cos(a, c)


def test_real_model_is_minilm(real_model: SentenceTransformerEmbedder) -> None:
    assert real_model.dimension == 384
    cat, kitten, invoice = real_model.embed(["a cat", "a kitten", "an unpaid invoice"])
    assert _cos(cat, kitten) > 0.6 > _cos(cat, invoice)


def test_tokenizer_maps_models_to_encodings_offline(tmp_path: Path) -> None:
    tok = TiktokenTokenizer(tmp_path, "gpt-4o")
    assert tok.encoding_for("gpt-4") == "cl100k_base"
    assert tok.encoding_for("gpt-4o") == "o200k_base"
    assert tok.encoding_for("cl100k_base") == "cl100k_base"
    assert tok.count("hello world", "gpt-4") == 2
    assert tok.count("<|endoftext|>", "gpt-4") > 1  # special tokens in content are plain text
    with pytest.raises(InvalidInput) as err:
        tok.count("x", "no-such-model")
    assert err.value.field == "model"


def test_tokenizer_caches_stay_bounded(tmp_path: Path) -> None:
    from service.adapters import tiktoken_tokenizer as tt

    tok = TiktokenTokenizer(tmp_path, "gpt-4o")
    big = "word " * (tt.CACHED_TEXT_CHARS)
    before = tt._count.cache_info().currsize
    assert tok.count(big, "gpt-4o") == tok.count(big, "gpt-4o") > 1000
    assert tt._count.cache_info().currsize == before  # long texts are not kept
    for i in range(50):
        tok.encoding_for(f"gpt-4o-variant-{i}")
    assert len(tok._encodings) == 2
