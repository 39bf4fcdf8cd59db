"""BM25 tokenization and sparse vectors, the embedder, fusion and the hybrid retriever. Imports only core."""
