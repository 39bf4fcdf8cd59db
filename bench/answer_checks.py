"""How well the LLM answer checks separate supported from unsupported sentences, and what they cost.

Builds answer sentences from the sample corpus and runs them through Kura's
citation verifier (``chat.citations.AnswerVerifier`` with the offline support
scorer), as if a model had written them:

* faithful      — a sentence of a document, cited to that document (should be supported);
* wrong source  — the same sentence cited to another document (should not be);
* number changed — a sentence with a figure, the figure altered, cited to its document (should not be).

Also times the context builder on 8 chunks. No LLM and no index needed. Ends with one JSON line.

    python bench/answer_checks.py [--threshold 0.5] [--per-doc 6]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chat.citations import AnswerVerifier, RawSentence  # noqa: E402
from chat.context import ContextBuilder  # noqa: E402
from chat.sentences import split_sentences  # noqa: E402
from chat.support import OfflineSupportScorer, content_terms  # noqa: E402
from core.types import Chunk, ScoredChunk  # noqa: E402
from ingest.connectors.sample import SampleConnector  # noqa: E402
from retrieval.tokenize import has_japanese  # noqa: E402

_NUMBER = re.compile(r"\d+")


def corpus_hits() -> list[ScoredChunk]:
    """One whole-document chunk per sample document."""
    hits = []
    for batch in SampleConnector().load():
        for doc in batch.documents:
            chunk = Chunk(doc.id, 0, doc.text, doc.text, (), 0, "bench", doc.principals, doc.title, doc.url, doc.source)
            hits.append(ScoredChunk(chunk, 1.0))
    return hits


def cases(hits: list[ScoredChunk], per_doc: int, rng: random.Random):
    """(kind, language, sentence, cited document index) tuples."""
    for i, hit in enumerate(hits):
        sentences = [s for s in split_sentences(hit.chunk.text) if len(content_terms(s)) >= 4 and "|" not in s]
        for sentence in rng.sample(sentences, min(per_doc, len(sentences))):
            lang = "ja" if has_japanese(sentence) else "en"
            yield "faithful", lang, sentence, i
            yield "wrong_source", lang, sentence, rng.choice([j for j in range(len(hits)) if j != i])
            numbers = _NUMBER.findall(sentence)
            if numbers:
                n = rng.choice(numbers)
                changed = re.sub(rf"(?<!\d){n}(?!\d)", str(int(n) + 7), sentence, count=1)
                yield "number_changed", lang, changed, i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--per-doc", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    hits = corpus_hits()
    builder = ContextBuilder(model="gpt-4o-mini", context_tokens=128_000, answer_tokens=600)
    documents = builder.build(hits)
    scorer = OfflineSupportScorer()

    results: dict[tuple[str, str], list[bool]] = {}
    times = []
    for kind, lang, sentence, doc_index in cases(hits, args.per_doc, rng):
        verifier = AnswerVerifier(documents, scorer, threshold=args.threshold, mode="mark")
        started = time.perf_counter()
        verifier.add(RawSentence(f"{sentence} [{documents[doc_index].number}]", False))
        times.append((time.perf_counter() - started) * 1000)
        results.setdefault((kind, lang), []).append(bool(verifier.sentences and verifier.sentences[0].supported))

    top8 = ContextBuilder(model="gpt-4o-mini", context_tokens=8000, answer_tokens=600)
    started = time.perf_counter()
    for _ in range(20):
        top8.build(hits[:8], prompt_tokens=400)
    context_ms = (time.perf_counter() - started) * 1000 / 20

    print(f"documents: {len(hits)}  threshold: {args.threshold}")
    summary = {}
    for (kind, lang), flags in sorted(results.items()):
        rate = sum(flags) / len(flags)
        summary[f"{kind}_{lang}_supported_rate"] = round(rate, 3)
        print(f"  {kind:15s} {lang}: {len(flags):4d} sentences, judged supported: {rate:6.1%}")
    summary["verify_ms_per_sentence_median"] = round(statistics.median(times), 3)
    summary["verify_ms_per_sentence_p95"] = round(sorted(times)[int(len(times) * 0.95)], 3)
    summary["context_build_ms_top8"] = round(context_ms, 3)
    print(f"  verify: median {summary['verify_ms_per_sentence_median']} ms/sentence, "
          f"p95 {summary['verify_ms_per_sentence_p95']} ms; context build (8 chunks): {context_ms:.2f} ms")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
