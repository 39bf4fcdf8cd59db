"""When word-piece counts add up: the chunker's shortcut for ``count(prefix + "\\n" + text)``.

The chunker checks, for every chunk, whether its title line still fits before its text in the embedder's
input limit. Counting the joined text tokenizes the whole chunk a second time (about a third of chunking's
CPU). For a BERT WordPiece tokenizer the joined count is known without that call::

    count(prefix + "\\n" + text) == count(prefix) + count(text) - 2

because its normalizer works per character ("\\n" stays a separate space), its pre-tokenizer never makes a
pre-token across whitespace, WordPiece splits each pre-token on its own, and the single-text template adds
exactly two special tokens ([CLS] ... [SEP]). Any other tokenizer (sentencepiece, byte-level BPE, a
Sequence normalizer that might rewrite across characters) is not trusted: the caller counts the joined text.

The same reasoning gives ``PieceMap``: the count of any span of a text from that text's one encoding, as long
as the span cuts no word (pre-token) in two. The chunker encodes each text once (for its piece-per-token
ratio) and then needs the count of every window it cuts from it.
"""

from __future__ import annotations

import bisect
import json

import numpy as np


def pieces_add_up(tokenizer_spec: dict | str) -> bool:
    """True when ``tokenizer_spec`` (a ``tokenizer.json``, parsed or not) is the BERT WordPiece pipeline above."""
    spec = json.loads(tokenizer_spec) if isinstance(tokenizer_spec, str) else tokenizer_spec
    normalizer = spec.get("normalizer") or {}
    pre_tokenizer = spec.get("pre_tokenizer") or {}
    model = spec.get("model") or {}
    if normalizer.get("type") != "BertNormalizer" or pre_tokenizer.get("type") != "BertPreTokenizer":
        return False
    # "##" marks a word's continuation pieces: PieceMap finds word boundaries by it.
    if model.get("type") != "WordPiece" or model.get("continuing_subword_prefix", "##") != "##":
        return False
    # An added token holding whitespace could be matched across the joining newline.
    if any(any(c.isspace() for c in t.get("content", " ")) for t in spec.get("added_tokens") or ()):
        return False
    return _two_specials(spec.get("post_processor") or {})


def _two_specials(post: dict) -> bool:
    """The single-text template is exactly one special token, the text, one special token."""
    if post.get("type") == "BertProcessing":
        return True
    if post.get("type") != "TemplateProcessing":
        return False
    single = post.get("single") or []
    shape = [next(iter(part)) for part in single]
    if shape != ["SpecialToken", "Sequence", "SpecialToken"]:
        return False
    specials = post.get("special_tokens") or {}
    return all(len((specials.get(single[i]["SpecialToken"]["id"]) or {}).get("ids") or ()) == 1 for i in (0, 2))


def continuation_ids(vocab: dict[str, int]) -> np.ndarray:
    """A table over piece ids: True where the piece continues a word ("##" pieces)."""
    table = np.zeros(max(vocab.values(), default=-1) + 1, dtype=bool)
    table[[i for piece, i in vocab.items() if piece.startswith("##")]] = True
    return table


class PieceMap:
    """Word-piece counts (with the two special tokens) of spans of one text, from its encoding.

    Words are rebuilt from the pieces: a "##" piece continues the word before it. A span ``text[a:b]`` is
    counted only when no word's characters lie on both sides of ``a`` or of ``b``; otherwise (a window cut
    inside a word) the answer is None and the caller counts the span itself. Built with numpy: a Python
    loop over a long document's pieces cost as much as the tokenizer calls it saves.
    """

    def __init__(self, text: str, ids: list[int], offsets: list[tuple[int, int]], continues: np.ndarray) -> None:
        self.text = text
        self.total = len(ids) + 2
        if not ids:
            self._starts, self._ends, self._before, self._usable = [], [], [0], True
            return
        spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        first = np.flatnonzero(~continues[np.asarray(ids, dtype=np.int64)] | (np.arange(len(ids)) == 0))
        starts = spans[first, 0]
        ends = np.maximum.reduceat(spans[:, 1], first)  # a word ends where its last piece does
        # A word of no characters (offsets (s, s)) could belong to either side of a cut there: trust no span.
        self._usable = bool((ends > starts).all())
        self._starts, self._ends = starts.tolist(), ends.tolist()
        self._before = [*first.tolist(), len(ids)]  # pieces before each word, then all of them

    def count(self, start: int, piece: str) -> int | None:
        """``count(piece)`` where ``piece`` is ``text[start:start + len(piece)]``, or None when not derivable."""
        end = start + len(piece)
        if not self._usable or start < 0 or not self.text.startswith(piece, start):
            return None
        i = bisect.bisect_left(self._starts, start)
        if i > 0 and self._ends[i - 1] > start:
            return None  # a word runs across the span's start
        j = bisect.bisect_left(self._starts, end)
        if j > 0 and self._ends[j - 1] > end:
            return None  # a word runs across the span's end
        return self._before[j] - self._before[i] + 2
