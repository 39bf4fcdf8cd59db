"""Prometheus metrics of a serving process (web app, Slack bot), exposed at ``GET /metrics``.

Counters and histograms live in one registry per process (``METRICS``): every
answer is counted by the observer in bots/observe.py, every verdict by the
feedback store. The sync and re-index jobs are separate processes, so their
figures come from the job state file (bots/job_state.py), read at each scrape.

Families (names as exposed; counters end in ``_total``):

- ``kura_questions_total{surface}``             questions that reached the answerer (web, slack; not `kura ask`)
- ``kura_answers_total{surface,outcome}``       outcome: answered, abstained, fallback, error
- ``kura_stage_seconds{stage}``                 histogram; stage: retrieval, answer, llm_first_token, llm_total
- ``kura_verification_total{check}``            citations_removed, sentences_unverified, sentences_dropped
- ``kura_verdicts_total{surface,verdict}``      helpful, not_helpful
- ``kura_job_documents_total{job,source,change}``  change: added, updated, deleted, failed
- ``kura_job_failed_documents{job,source}``     documents that failed in the source's last run
- ``kura_job_last_success_timestamp_seconds{job,source}``, ``kura_job_last_run_timestamp_seconds{job,source}``

No label ever carries a question, a document title or a user.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bots.job_state import CHANGES, JobStateFile

OUTCOMES = ("answered", "abstained", "fallback", "error")
STAGES = ("retrieval", "answer", "llm_first_token", "llm_total")
CHECKS = ("citations_removed", "sentences_unverified", "sentences_dropped")
# Retrieval takes milliseconds, an LLM answer seconds: buckets cover both.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class KuraMetrics:
    """The answer-side metric families, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter("kura_questions", "Questions that reached the answerer, by surface.", ["surface"],
                                 registry=r)
        self.answers = Counter("kura_answers", "Answers by surface and outcome (answered, abstained, fallback, "
                               "error).", ["surface", "outcome"], registry=r)
        self.stage_seconds = Histogram("kura_stage_seconds", "Time spent per stage of answering.", ["stage"],
                                       buckets=_BUCKETS, registry=r)
        self.verification = Counter("kura_verification", "What answer verification changed: citations removed, "
                                    "sentences marked unverified or dropped.", ["check"], registry=r)
        self.verdicts = Counter("kura_verdicts", "Helpful / not helpful verdicts, by surface.",
                                ["surface", "verdict"], registry=r)

    def verdict(self, surface: str, helpful: bool) -> None:
        self.verdicts.labels(surface=surface, verdict="helpful" if helpful else "not_helpful").inc()


METRICS = KuraMetrics()


class JobStateCollector:
    """Exports the job state file at scrape time (a custom collector: the figures are the file's, not ours)."""

    def __init__(self, state: JobStateFile) -> None:
        self.state = state

    def collect(self):
        documents = CounterMetricFamily("kura_job_documents", "Documents the sync / re-index jobs changed or failed "
                                        "on, per source.", labels=["job", "source", "change"])
        failed_now = GaugeMetricFamily("kura_job_failed_documents", "Documents that failed in the source's last run.",
                                       labels=["job", "source"])
        success = GaugeMetricFamily("kura_job_last_success_timestamp_seconds", "When the job last succeeded for "
                                    "the source (Unix time).", labels=["job", "source"])
        last_run = GaugeMetricFamily("kura_job_last_run_timestamp_seconds", "When the job last ran for the source "
                                     "(Unix time).", labels=["job", "source"])
        for job, sources in sorted(self.state.read().items()):
            for source, figures in sorted(sources.items()):
                for change in CHANGES:
                    documents.add_metric([job, source, change], float(figures.get(change, 0)))
                failed_now.add_metric([job, source], float(len(figures.get("failures", []))))
                if figures.get("last_success"):
                    success.add_metric([job, source], float(figures["last_success"]))
                if figures.get("last_run"):
                    last_run.add_metric([job, source], float(figures["last_run"]))
        yield from (documents, failed_now, success, last_run)


def exposition(state_dir: Path | None, metrics: KuraMetrics = METRICS) -> tuple[bytes, str]:
    """The ``/metrics`` body and its content type: this process's families, then the jobs' (when a state dir is set)."""
    body = generate_latest(metrics.registry)
    if state_dir is not None:
        jobs = CollectorRegistry(auto_describe=False)
        jobs.register(JobStateCollector(JobStateFile.in_state_dir(state_dir)))
        body += generate_latest(jobs)
    return body, CONTENT_TYPE_LATEST
