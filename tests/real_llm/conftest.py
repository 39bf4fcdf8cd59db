"""Tests against a real OpenAI-compatible server: they run only when KURA_TEST_LLM_BASE_URL is set.

    bench/llm_server.sh install && bench/llm_server.sh serve      # prints {"base_url": ..., "pid": ...}
    KURA_TEST_LLM_BASE_URL=http://127.0.0.1:PORT/v1 python -m pytest -m real_llm tests/real_llm -s

Optional: KURA_TEST_LLM_MODEL (default: the first model the server lists), KURA_TEST_LLM_API_KEY,
LLM_VENV (the server's venv; the kill test starts and kills its own server from it). Each test prints one
JSON line with what it measured. Not part of CI: a real server is slow and does not exist there.
"""

from __future__ import annotations

import json
import os

import pytest

# Read at import: the suite's autouse fixture removes KURA_* variables before each test runs.
BASE_URL = os.environ.get("KURA_TEST_LLM_BASE_URL", "")
MODEL = os.environ.get("KURA_TEST_LLM_MODEL", "")
API_KEY = os.environ.get("KURA_TEST_LLM_API_KEY", "")


def pytest_collection_modifyitems(config, items):
    if BASE_URL:
        return
    skip = pytest.mark.skip(reason="set KURA_TEST_LLM_BASE_URL to run the real-LLM tests")
    for item in items:
        if "real_llm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_model() -> str:
    if MODEL:
        return MODEL
    import openai

    models = openai.OpenAI(base_url=BASE_URL, api_key=API_KEY or "not-needed").models.list()
    return models.data[0].id


def report(name: str, **figures) -> None:
    """One JSON line per test: the figures the note quotes."""
    print(json.dumps({"test": name, **figures}, ensure_ascii=False))
