"""Cross-language questions: the question in the index's other language (LLM, else the term table), fused."""

from __future__ import annotations

import pytest

from bots.app import KuraApp, files_connector
from chat.llm_client import LLMClient
from chat.rewrite import CrossLanguageRewriter, document_language, language_of
from core.settings import Settings
from retrieval.term_bridge import TermBridge
from tests.fakes.fake_openai import FakeOpenAI, Reply

QUESTION = "What is the nightly hotel limit for business trips within Tokyo?"
TRANSLATION = "東京での出張のホテルの宿泊費の1泊あたりの上限はいくらですか"


def client_for(fake):
    return LLMClient(fake.base_url, model="fake-gpt", api_key=fake.api_key, timeout_s=1.0, max_retries=0)


@pytest.fixture(scope="module")
def bridge():
    return TermBridge.load()


def test_the_llm_translates_into_each_other_language(fake):
    fake.script(TRANSLATION, "When is the Tokyo fire drill?")
    rewriter = CrossLanguageRewriter(client=client_for(fake))
    assert [(r.query, r.method) for r in rewriter.rewrites(QUESTION)] == [(TRANSLATION, "translated")]
    assert rewriter.queries("東京オフィスの防災訓練はいつですか？") == ["When is the Tokyo fire drill?"]
    first, second = fake.completion_requests
    assert "into Japanese" in first["messages"][0]["content"] and QUESTION in first["messages"][1]["content"]
    assert "into English" in second["messages"][0]["content"]


def test_an_index_in_one_language_costs_no_llm_call(fake):
    rewriter = CrossLanguageRewriter(client=client_for(fake))
    assert rewriter.queries(QUESTION, languages=["en"]) == []
    assert fake.completion_requests == []


def test_the_same_question_is_translated_once(fake):
    fake.script(TRANSLATION)
    rewriter = CrossLanguageRewriter(client=client_for(fake))
    assert rewriter.queries(QUESTION) == rewriter.queries(QUESTION) == [TRANSLATION]
    assert len(fake.completion_requests) == 1


@pytest.mark.parametrize("reply", [Reply(status=500), Reply(""), Reply("The nightly hotel limit is..."), Reply("x" * 400)])
def test_a_failed_or_untranslated_reply_falls_back_to_the_term_table(fake, bridge, reply):
    fake.script(reply)
    rewrites = CrossLanguageRewriter(client=client_for(fake), bridge=bridge).rewrites(QUESTION)
    assert [r.method for r in rewrites] == ["bridged"] and "ホテル" in rewrites[0].query
    # and without a table there is nothing to search with but the question
    fake.script(reply)
    assert CrossLanguageRewriter(client=client_for(fake)).rewrites(QUESTION + " ") == []


def test_languages_of_questions_and_documents():
    assert language_of("HoshiOS 7.4 のリリース日") == "ja" and language_of("When is HoshiOS 7.4 out?") == "en"
    # an English page quoting one Japanese term is English
    assert document_language("The travel policy (出張規定) says hotels are booked through the agency.") == "en"
    assert document_language("出張規定：宿泊費の上限は1泊あたり18,000円です。Hoshi Expense で申請します。") == "ja"
    with pytest.raises(ValueError, match="unknown index language"):
        CrossLanguageRewriter(languages=("en", "de"))


def test_a_corpus_in_one_language_is_searched_as_asked(tmp_path, embedder):
    from retrieval.multiquery import MultiQueryRetriever

    with KuraApp(Settings(data_dir=tmp_path / "data"), embedder=embedder) as kura:
        inner = object()
        assert kura.with_cross_language(inner, ["ja", "ja"]) is inner  # JSQuAD: nothing to translate into
        assert isinstance(kura.with_cross_language(inner, ["en", "ja"]), MultiQueryRetriever)
    with KuraApp(Settings(data_dir=tmp_path / "data", cross_language=False), embedder=embedder) as kura:
        assert kura.with_cross_language(inner, ["en", "ja"]) is inner


# --- through KuraApp: a Japanese page answers an English question -----------------------------

DOCS = {
    "shucchou.md": "# 出張規定\n\n東京23区・大阪市のホテルの宿泊費の上限は1泊あたり18,000円です。その他の国内は14,000円です。\n",
    "vpn.md": "# VPN setup\n\nInstall Hoshi Connect 4.2 to use the VPN. Sign in with your SSO account.\n",
    "laptops.md": "# Laptop policy\n\nLaptops are replaced every 3 years. Report a lost laptop within 24 hours.\n",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("kura-xl")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with KuraApp(Settings(data_dir=root / "data"), embedder=embedder) as kura:
        kura.ingest(files_connector(docs))
        assert kura.store.get_meta()["languages"] == ["en", "ja"]  # recorded at ingest: what to translate into
    return root / "data"


def _titles(answer) -> list[str]:
    return [h.chunk.title for h in answer.retrieved]


def test_with_an_llm_the_translated_question_finds_the_japanese_page(data_dir, embedder):
    def respond(request):
        system = request["messages"][0]["content"]
        if "translate" in system:
            return Reply(TRANSLATION)
        return Reply("NOT_FOUND")

    with FakeOpenAI(responder=respond) as fake:
        settings = Settings(data_dir=data_dir, llm_base_url=fake.base_url, llm_api_key=fake.api_key, llm_timeout_s=2.0,
                            llm_max_retries=0, bm25_weight=1.0, retriever_mode="bm25", cross_language_offline=False)  # fmt: skip
        with KuraApp(settings, embedder=embedder) as kura:
            answer = kura.ask(QUESTION, principals=["public"], answerer="extractive")
            assert "出張規定" in _titles(answer)[:2]  # beside the English page sharing "within"
        translations = [r for r in fake.completion_requests if "translate" in r["messages"][0]["content"]]
        assert len(translations) == 1 and QUESTION in translations[0]["messages"][1]["content"]
    off = Settings(data_dir=data_dir, retriever_mode="bm25", cross_language=False)
    with KuraApp(off, embedder=embedder) as kura:
        assert "出張規定" not in _titles(kura.ask(QUESTION, principals=["public"]))  # BM25 shares no term with it


def test_offline_the_term_table_bridges_a_loanword(data_dir, embedder):
    question = "How much can I spend on a hotel per night?"
    with KuraApp(Settings(data_dir=data_dir, retriever_mode="bm25"), embedder=embedder) as kura:
        assert "出張規定" in _titles(kura.ask(question, principals=["public"]))
    with KuraApp(Settings(data_dir=data_dir, retriever_mode="bm25", cross_language_offline=False), embedder=embedder) as kura:
        assert "出張規定" not in _titles(kura.ask(question, principals=["public"]))
