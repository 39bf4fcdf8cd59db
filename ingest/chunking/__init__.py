"""Chunking strategies, selectable by name (see base.STRATEGIES and README.md)."""

# Importing the modules registers their strategies.
from ingest.chunking import contextual, structure, summary, tokens  # noqa: F401
from ingest.chunking.base import STRATEGIES, ChunkingConfig, create_chunker

__all__ = ["STRATEGIES", "ChunkingConfig", "create_chunker"]
