"""Embedder contract (hashing and the real packaged model) and the offline tokenizer."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.adapters.hashing_embedder import HashingEmbedder
from service.adapters.onnx_embedder import OnnxEmbedder, UnsupportedModel
from service.adapters.sentence_embedder import SentenceTransformerEmbedder, packaged_model_path
from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.errors import InvalidInput
from service.ports import Embedder


@pytest.fixture(scope="module")
def real_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(packaged_model_path(), "all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_model(models: Path) -> OnnxEmbedder:
    return OnnxEmbedder(packaged_model_path(), "all-MiniLM-L6-v2", models)


@pytest.fixture(scope="module")
def int8_models(
    onnx_model: OnnxEmbedder, models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A model dir of its own holding the float export (linked): quantized there, not exported."""
    own = tmp_path_factory.mktemp("models-int8")
    [exported] = list(models.iterdir())
    (own / exported.name).symlink_to(exported)
    return own


@pytest.fixture(scope="module")
def int8_model(int8_models: Path) -> OnnxEmbedder:
    return OnnxEmbedder(packaged_model_path(), "all-MiniLM-L6-v2", int8_models, quantized=True)


@pytest.fixture(params=["hashing", "minilm", "minilm-onnx", "minilm-onnx-int8"])
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    if request.param == "hashing":
        yield HashingEmbedder()
    elif request.param == "minilm":
        yield request.getfixturevalue("real_model")
    elif request.param == "minilm-onnx":
        yield request.getfixturevalue("onnx_model")
    else:
        yield request.getfixturevalue("int8_model")


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


def test_real_model_single_text_path_equals_batched(
    real_model: SentenceTransformerEmbedder,
) -> None:
    """One text takes a shorter path (the context query); it must give encode()'s vector,
    including for a text past the model's 256-token limit (truncated the same way)."""
    texts = ["where does Lena's manager live?", "a long turn about memory " * 120, ""]
    batched = real_model.embed([*texts, "padding so that this is a batch"])[:3]
    for text, expected in zip(texts, batched, strict=True):
        assert real_model.embed([text])[0] == pytest.approx(expected, abs=1e-5)


TEXTS = [
    "where does Lena's manager live?",
    "",
    "   ",
    "Grüße aus Zürich: 31-7-22, naïve café, 東京 🚀",
    "a long turn about memory " * 120,  # past the 256-token limit: truncated alike
    *(f"turn {i}: " + "lorem ipsum dolor " * (i % 9) for i in range(40)),
]


def test_onnx_runtime_gives_the_torch_vectors(
    real_model: SentenceTransformerEmbedder, onnx_model: OnnxEmbedder
) -> None:
    """The ONNX path (the default runtime) must not move a single vector: the index holds
    vectors of either runtime, and the queries of the other are searched against them."""
    assert onnx_model.dimension == real_model.dimension == 384
    assert onnx_model.model_name == real_model.model_name
    torch_vectors = real_model.embed(TEXTS)
    onnx_vectors = onnx_model.embed(TEXTS)  # batched, sorted by length, order restored
    for expected, got in zip(torch_vectors, onnx_vectors, strict=True):
        assert got == pytest.approx(expected, abs=1e-5)
    for text, expected in zip(TEXTS[:5], torch_vectors[:5], strict=True):
        assert onnx_model.embed([text])[0] == pytest.approx(expected, abs=1e-5)


def test_onnx_export_is_reused_and_named_by_the_weights(
    onnx_model: OnnxEmbedder, models: Path
) -> None:
    [exported] = list(models.iterdir())
    assert exported.name.startswith("all-MiniLM-L6-v2-")
    assert exported.suffix == ".onnx"
    before = exported.stat().st_mtime_ns
    again = OnnxEmbedder(packaged_model_path(), "all-MiniLM-L6-v2", exported.parent)
    assert exported.stat().st_mtime_ns == before  # loaded, not exported again
    assert again.embed(["x"]) == onnx_model.embed(["x"])


def test_int8_is_its_own_model_near_the_float_one(
    int8_model: OnnxEmbedder, onnx_model: OnnxEmbedder, int8_models: Path
) -> None:
    # Other vectors, so another name: cache keys and document versions never mix the two.
    assert int8_model.model_name == "all-MiniLM-L6-v2-int8"
    assert onnx_model.model_name == "all-MiniLM-L6-v2"
    quantized = int8_model.embed(TEXTS)
    for text, q, f in zip(TEXTS, quantized, onnx_model.embed(TEXTS), strict=True):
        assert 0.97 < _cos(q, f) < 0.99999, text
    [int8] = [p for p in int8_models.iterdir() if p.name.endswith("-int8.onnx")]
    assert int8.stat().st_size < 0.4 * (int8_models / int8.name.replace("-int8", "")).stat().st_size
    before = int8.stat().st_mtime_ns
    again = OnnxEmbedder(packaged_model_path(), "all-MiniLM-L6-v2", int8_models, quantized=True)
    assert int8.stat().st_mtime_ns == before  # loaded, not quantized again
    assert again.embed(TEXTS[:3]) == quantized[:3]


def test_onnx_refuses_a_pipeline_it_does_not_reproduce(tmp_path: Path) -> None:
    model = tmp_path / "cls-model"
    source = packaged_model_path()
    for item in source.iterdir():
        if item.name != "1_Pooling":
            (model / item.name).parent.mkdir(parents=True, exist_ok=True)
            (model / item.name).symlink_to(item)
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true}'
    )
    with pytest.raises(UnsupportedModel, match="pooling"):
        OnnxEmbedder(model, "cls", tmp_path / "models")
    assert not (tmp_path / "models").exists()  # refused before any export


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
