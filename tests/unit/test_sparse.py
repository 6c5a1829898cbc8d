"""BM25-style sparse encoding: terms, weights, stability."""

from __future__ import annotations

import zlib

from hypothesis import given
from hypothesis import strategies as st

from service.domain.sparse import Bm25, encode_document, encode_query, term_index, terms


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
