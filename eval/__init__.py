"""Evaluation: datasets, retrieval/answer/groundedness metrics, reports. Nothing imports eval."""
