"""Reading a /metrics page the way Prometheus does (prometheus_client's own parser), for the metrics tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value; raises if the exposition does not parse."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(after: dict, before: dict, name: str, **labels: str) -> float:
    """How much a sample moved between two scrapes (absent counts as 0)."""
    return value(after, name, **labels) - value(before, name, **labels)
