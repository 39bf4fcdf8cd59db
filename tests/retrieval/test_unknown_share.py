"""The embedder's blindness measure: the default English model cannot read Japanese, whatever its [UNK] count."""

from __future__ import annotations


def test_english_is_readable_and_japanese_is_not(embedder):
    assert embedder.unknown_share("Which VPN client do we use, and which version?") == 0.0
    # Few [UNK]s here, but the model sees only lone characters: still unreadable.
    assert embedder.unknown_share("2013年のラオスのGDPはいくらか。") >= 0.5
    assert embedder.unknown_share("経費精算申請書は何日以内に提出する必要がありますか？") >= 0.5


def test_an_english_question_with_one_japanese_name_stays_readable(embedder):
    assert embedder.unknown_share("What is the address of the 東京 office?") < 0.5
