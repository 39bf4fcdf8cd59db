"""Spelling variants of one Japanese word meet in BM25: tokens are Sudachi's normalized forms, not surfaces."""

from __future__ import annotations

import pytest

from retrieval.bm25 import BM25Encoder
from retrieval.tokenize import tokenize

# (variant in the query, variant in the document): okurigana and kana/kanji variants of the same word.
VARIANTS = [("申込み", "申し込み"), ("申込", "申し込み"), ("引越し", "引っ越し"), ("問合せ", "問い合わせ")]


@pytest.mark.parametrize("query_form,doc_form", VARIANTS)
def test_spelling_variants_share_a_term(query_form, doc_form):
    assert set(tokenize(query_form)) & set(tokenize(doc_form))


def test_a_query_with_one_spelling_scores_a_document_with_the_other():
    encoder = BM25Encoder()
    document = encoder.encode_document("研修への申し込みは人事部のポータルから行います。")
    query = encoder.encode_query("申込みはどこで")
    shared = set(query.indices) & set(document.indices)
    assert shared, "the query's 申込み must hit the document's 申し込み"
