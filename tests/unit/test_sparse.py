"""BM25-style sparse encoding: terms, weights, stability."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from service.domain.sparse import (
    CONTEXT_WEIGHT,
    NAME_WEIGHT,
    SHORT_TEXT,
    Bm25,
    bridges,
    encode_document,
    encode_query,
    encode_turn,
    term_index,
    terms,
)


def test_terms_fold_case_drop_stopwords_and_stem() -> None:
    assert terms("The Invoices of ACME's Stores") == ["invoic", "acm", "store"]
    assert terms("running runs ran") == ["run", "run", "ran"]
    assert terms("class bus") == ["class", "bus"]  # not over-stripped
    assert terms("a b 7 x") == ["7"]  # single letters carry nothing; digits do


def test_a_query_still_matches_terms_stored_before_snowball() -> None:
    """Vectors written by earlier releases hold light stems ("invoice" for "invoices"); a
    query asks for both stems of each word, so they are still found by their words."""
    old_document = {term_index("invoice"), term_index("running")}
    query = set(encode_query("overdue invoices running").indices)
    assert old_document <= query
    assert {term_index(t) for t in terms("overdue invoices running")} <= query


def test_indices_are_stable_crc32() -> None:
    """Hashing must not depend on the process (PYTHONHASHSEED): points outlive processes."""
    assert term_index("invoice") == zlib.crc32(b"invoice")
    vec = encode_query("invoice overdue invoice")
    # Snowball's stems ("invoic", "overdu") and the light stems stored before ("invoice",
    # "overdue"), each once.
    expected = {zlib.crc32(t) for t in (b"invoic", b"overdu", b"invoice", b"overdue")}
    assert list(vec.indices) == sorted(expected)
    assert set(vec.values) == {1.0}


def test_bm25_saturates_and_normalises_length() -> None:
    params = Bm25(k1=1.2, b=0.75, avg_len=10)
    one = encode_document("zebra", params).values[0]
    many = encode_document("zebra " * 50, params).values[0]
    assert one < many < params.k1 + 1  # more occurrences count, but saturate below k1 + 1
    in_short = _weight("zebra lion", "zebra", params)
    in_long = _weight("zebra " + "lion tiger bear " * 20, "zebra", params)
    assert in_long < in_short


def _weight(text: str, term: str, params: Bm25) -> float:
    vec = encode_document(text, params)
    return dict(zip(vec.indices, vec.values, strict=True))[term_index(term)]


def _dot(query: str, turn: tuple[str, str]) -> float:
    """The sparse score with every term's IDF 1."""
    q = set(encode_query(query).indices)
    vec = encode_turn(*turn)
    return sum(v for i, v in zip(vec.indices, vec.values, strict=True) if i in q)


def test_a_speaker_name_weighs_the_same_in_every_turn_and_less_than_a_word_said() -> None:
    """A question naming a speaker matched each of her turns by the name, as a word of the
    text: the shortest turns weighed most and filled the ranking. The name is now a term of
    fixed weight: it orders turns that match the same words and ranks none by itself."""
    short = ("Caroline", "Wow! What got you into running?")
    long = ("Caroline", "I finally sat down this week and read " + "all of it " * 12)
    said = ("Melanie", "I did a lot of research on adoption agencies over the whole weekend.")
    ask = "What did Caroline research?"
    assert _dot(ask, short) == _dot(ask, long) == NAME_WEIGHT
    assert _dot(ask, said) > 2 * _dot(ask, short)
    by_her = ("Caroline", said[1])
    assert _dot(ask, by_her) == _dot(ask, said) + NAME_WEIGHT
    # The content's weights are its own BM25 weights: the name does not lengthen the text.
    content = encode_document(said[1], SHORT_TEXT)
    vec = encode_turn(*by_her)
    assert set(content.indices) < set(vec.indices)
    mine = dict(zip(vec.indices, vec.values, strict=True))
    assert all(mine[i] == v for i, v in zip(content.indices, content.values, strict=True))
    assert encode_turn(None, said[1]) == content


def test_empty_and_stopword_only_texts_are_empty_vectors() -> None:
    assert not encode_document("")
    assert not encode_query("the of and to")


@given(st.text(max_size=300))
def test_vectors_are_sorted_distinct_and_positive(text: str) -> None:
    for vec in (encode_document(text), encode_query(text)):
        assert list(vec.indices) == sorted(set(vec.indices))
        assert len(vec.indices) == len(vec.values)
        assert all(v > 0 for v in vec.values)
        assert all(0 <= i < 2**32 for i in vec.indices)


def test_bridges_are_names_and_numbers_not_a_sentences_first_word() -> None:
    text = "Found out Marek reports to Theo Tanaka now. The dog barked at the postman all day!"
    assert bridges(text) == "Marek Theo Tanaka"
    assert bridges("  Thanks, Mel! Room 4B is booked for 2023.") == "Mel 4B 2023"
    assert bridges("nothing here to link by.") == ""


def test_a_turn_holds_the_words_of_the_turn_before_it_at_a_share() -> None:
    before = "What got you into running?"
    reply = encode_turn("Bo", "It has been great for my mental health, running.", before=before)
    alone = encode_turn("Bo", "It has been great for my mental health, running.")
    weights = dict(zip(reply.indices, reply.values, strict=True))
    own = dict(zip(alone.indices, alone.values, strict=True))
    prior = encode_document(before, SHORT_TEXT)
    for index, value in zip(prior.indices, prior.values, strict=True):
        # A word of its own keeps its own weight when that is more; others come at the share.
        assert weights[index] == max(own.get(index, 0.0), CONTEXT_WEIGHT * value)
    assert {i: w for i, w in weights.items() if i in own and i not in prior.indices} == {
        i: w for i, w in own.items() if i not in prior.indices
    }
    assert encode_turn("Bo", "great", before="") == encode_turn("Bo", "great")
