"""Chunking strategies, selectable by name (see base.STRATEGIES and README.md)."""

from ingest.chunking import tokens  # noqa: F401  (registers "tokens")
from ingest.chunking.base import STRATEGIES, ChunkingConfig, create_chunker

__all__ = ["STRATEGIES", "ChunkingConfig", "create_chunker"]
