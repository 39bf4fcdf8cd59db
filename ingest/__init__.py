"""Connectors, chunking strategies, the summarizer and the indexing pipeline. Imports only core."""
