"""Test-wide fixtures: no network beyond loopback, offline models, one shared embedder."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _refuse_non_loopback(monkeypatch):
    """Unit tests may talk to loopback fake servers only."""
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise RuntimeError(f"tests may not reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _no_kura_env(monkeypatch, tmp_path):
    """Settings come from the test, never from the developer's environment or .env."""
    for key in list(os.environ):
        if key.startswith("KURA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder():
    """The real default embedder, loaded once for the whole session."""
    from retrieval.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def compiled_embedder():
    """The default compiled embedder from the per-user cache `make install` fills: exported once, shared by every test."""
    from core.settings import Settings
    from retrieval.embedder_compiled import CompiledEmbedder

    settings = Settings()
    embedder = CompiledEmbedder(settings.embedding_model, backend=settings.embedding_backend,
                                cache_dir=settings.embedder_cache_dir)
    embedder.embed_query("load")
    return embedder
