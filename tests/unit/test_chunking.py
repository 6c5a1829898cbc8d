"""Chunking: bounded chunks, nothing lost, boundaries preferred, overlap, versions by content."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.adapters.tiktoken_tokenizer import TiktokenTokenizer
from service.domain.chunking import ChunkerConfig, chunk_text, document_version

MODEL = "cl100k_base"


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> TiktokenTokenizer:
    return TiktokenTokenizer(tmp_path_factory.mktemp("tt"), MODEL)


def _fns(tok: TiktokenTokenizer) -> tuple[Callable[[str], int], Callable[[str, int], list[str]]]:
    return (lambda t: tok.count(t, MODEL)), (lambda t, n: tok.split(t, n, MODEL))


words = st.text(alphabet=st.sampled_from(list("abcdefgh ij.!?é中\n")), max_size=60)


@settings(max_examples=120, deadline=None)
@given(
    paragraphs=st.lists(words, max_size=30),
    max_tokens=st.integers(16, 80),
    overlap=st.integers(0, 7),
)
def test_chunks_are_bounded_and_cover_the_text(  # type: ignore[no-untyped-def]
    tok, paragraphs, max_tokens, overlap
) -> None:
    count, split = _fns(tok)
    text = "\n\n".join(paragraphs)
    config = ChunkerConfig(max_tokens=max_tokens, overlap_tokens=overlap, encoding=MODEL)
    chunks = chunk_text(text, config, count, split)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.tokens == count(c.text)
        assert c.tokens <= max_tokens
    # Every non-space character of the text appears, in order, in the chunks.
    joined = "".join("".join(c.text.split()) for c in chunks)
    remaining = iter(joined)
    assert all(ch in remaining for ch in "".join(text.split()))


def test_paragraph_boundaries_are_preferred(tok: TiktokenTokenizer) -> None:
    count, split = _fns(tok)
    paras = [f"Paragraph {i} talks about topic {i} in one short sentence." for i in range(12)]
    config = ChunkerConfig(max_tokens=40, overlap_tokens=0, encoding=MODEL)
    chunks = chunk_text("\n\n".join(paras), config, count, split)
    assert len(chunks) > 1
    for c in chunks:
        assert all(line in paras for line in c.text.split("\n"))


def test_overlap_repeats_the_tail_of_the_previous_chunk(tok: TiktokenTokenizer) -> None:
    count, split = _fns(tok)
    sentences = " ".join(f"Sentence number {i} is here." for i in range(40))
    config = ChunkerConfig(max_tokens=40, overlap_tokens=12, encoding=MODEL)
    chunks = chunk_text(sentences, config, count, split)
    for a, b in itertools.pairwise(chunks):
        assert b.text.split("\n")[0] in a.text


def test_hard_split_never_cuts_inside_a_character(tok: TiktokenTokenizer) -> None:
    count, split = _fns(tok)
    text = "東京タワー" * 200
    chunks = chunk_text(text, ChunkerConfig(max_tokens=32, overlap_tokens=0), count, split)
    assert "".join(c.text for c in chunks) == text
    assert all(c.tokens <= 32 for c in chunks)


def test_version_depends_on_text_config_and_model() -> None:
    base = document_version("text", ChunkerConfig(), "m")
    assert base == document_version("text", ChunkerConfig(), "m")
    assert base != document_version("text!", ChunkerConfig(), "m")
    assert base != document_version("text", ChunkerConfig(max_tokens=128), "m")
    assert base != document_version("text", ChunkerConfig(), "other-model")


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ChunkerConfig(max_tokens=64, overlap_tokens=40)
