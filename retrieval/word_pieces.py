"""When word-piece counts add up: the chunker's shortcut for ``count(prefix + "\\n" + text)``.

The chunker checks, for every chunk, whether its title line still fits before its text in the embedder's
input limit. Counting the joined text tokenizes the whole chunk a second time (about a third of chunking's
CPU). For a BERT WordPiece tokenizer the joined count is known without that call::

    count(prefix + "\\n" + text) == count(prefix) + count(text) - 2

because its normalizer works per character ("\\n" stays a separate space), its pre-tokenizer never makes a
pre-token across whitespace, WordPiece splits each pre-token on its own, and the single-text template adds
exactly two special tokens ([CLS] ... [SEP]). Any other tokenizer (sentencepiece, byte-level BPE, a
Sequence normalizer that might rewrite across characters) is not trusted: the caller counts the joined text.
"""

from __future__ import annotations

import json


def pieces_add_up(tokenizer_spec: dict | str) -> bool:
    """True when ``tokenizer_spec`` (a ``tokenizer.json``, parsed or not) is the BERT WordPiece pipeline above."""
    spec = json.loads(tokenizer_spec) if isinstance(tokenizer_spec, str) else tokenizer_spec
    normalizer = spec.get("normalizer") or {}
    pre_tokenizer = spec.get("pre_tokenizer") or {}
    model = spec.get("model") or {}
    if normalizer.get("type") != "BertNormalizer" or pre_tokenizer.get("type") != "BertPreTokenizer":
        return False
    if model.get("type") != "WordPiece":
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
