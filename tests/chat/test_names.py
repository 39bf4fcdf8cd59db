"""Names nobody mentions (chat/names.py): what counts as known, in which language and spelling."""

from __future__ import annotations

from chat.names import question_names, romaji, unknown_names
from retrieval.term_bridge import TermBridge
from retrieval.tokenize import tokenize
from tests.chat.conftest import make_hit

ROOMS_JA = make_hit("rooms", "8階の会議室は富士（12名）と飛鳥（6名）です。", title="東京オフィスガイド")
ROOMS_EN = make_hit("rooms-en", "Berlin rooms: Spree seats 10, Havel 6. Reception is run by Beyoncé Müller.", title="Berlin office")
BRIDGE = TermBridge.load()


def translations(term: str) -> frozenset[str]:
    return frozenset(t for word in BRIDGE.translations(term) for t in tokenize(word))


def nowhere(name: str) -> bool:
    return False


def test_names_are_capitalised_words_inside_the_question_not_weekdays_or_its_first_word():
    assert question_names("How many people does the Rhein room in Berlin seat?") == ["Rhein", "Berlin"]
    assert question_names("Who is on call on Sunday?") == []
    assert question_names("Where is it? Spree or Havel?") == ["Havel"]  # after a sentence's end: not a name


def test_romaji_of_katakana_readings():
    assert romaji("フジ") == "fuji" and romaji("キョウト") == "kyouto" and romaji("マッチャ") == "matcha"
    assert romaji("シャチョウ") == "shachou" and romaji("コーヒー") == "koohii"


def test_a_name_in_no_chunk_and_no_readable_document_is_unknown():
    question = "How many people does the Rhein room in Berlin seat?"
    assert unknown_names(question, [ROOMS_EN], translations=translations, mentioned=nowhere) == ("Rhein",)
    assert unknown_names(question, [ROOMS_EN], translations=translations, mentioned=lambda n: n == "Rhein") == ()


def test_a_name_spelt_without_accents_or_read_in_japanese_is_known():
    assert unknown_names("Who is Beyonce Muller?", [ROOMS_EN], translations=translations, mentioned=nowhere) == ()
    # 富士 is read フジ: the English question's Fuji room is the Japanese page's.
    assert unknown_names("How many seats does the Fuji room have?", [ROOMS_JA], translations=translations,
                         mentioned=nowhere) == ()
    assert unknown_names("How many seats does the Fiji room have?", [ROOMS_JA], translations=translations,
                         mentioned=nowhere) == ("Fiji",)


def test_a_name_the_term_table_translates_into_the_chunks_is_known():
    chunk = make_hit("de", "ドイツの祝日は州ごとに異なります。", title="祝日")  # read doitsu: only the table links it
    question = "Which public holidays apply in Germany?"
    assert unknown_names(question, [chunk], translations=translations, mentioned=nowhere) == ()
    assert unknown_names(question, [chunk], translations=lambda t: frozenset(), mentioned=nowhere) == ("Germany",)


def test_a_form_or_a_slip_of_a_name_in_the_chunks_is_known():
    chunk = make_hit("ny", "German and Bangladeshi immigrants settled in Manhattan.", title="New York")
    for question in ("Why did people leave Germany?", "How many came from Bangladesh?", "Who lived in Manhatten?"):
        assert unknown_names(question, [chunk], translations=translations, mentioned=nowhere) == (), question
    assert unknown_names("Who lived in Brooklyn?", [chunk], translations=translations, mentioned=nowhere) == ("Brooklyn",)
    assert unknown_names("Who filled the Spree?", [make_hit("s", "Fill in the spreadsheet.", title="Forms")],
                         translations=translations, mentioned=nowhere) == ("Spree",)
