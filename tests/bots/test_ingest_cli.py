"""`kura ingest --path` and `kura stats` tell the truth: what was skipped or failed, unfinished indexes."""

from __future__ import annotations

import json
import os

import pytest
import qdrant_edge as qe
from typer.testing import CliRunner

from bots.cli import main as cli
from core.errors import StoreNotFoundError


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nConnect with Hoshi Connect before opening the intranet.", encoding="utf-8")
    (docs / "empty.md").write_text("", encoding="utf-8")
    (docs / "huge.txt").write_text("word " * 400, encoding="utf-8")  # 2 kB, over a 0.001 MB limit
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (docs / "passwd.md").symlink_to(tmp_path / "passwd")
    return docs


def invoke(*args: str, data_dir, **env):
    return CliRunner().invoke(cli.app, list(args), env={"KURA_DATA_DIR": str(data_dir), **env})


def test_ingest_reports_skipped_and_failed_files_and_exits_non_zero(folder, tmp_path):
    data = tmp_path / "data"
    result = invoke("ingest", "--path", str(folder), data_dir=data, KURA_MAX_DOCUMENT_MB="0.001")
    assert result.exit_code == 4, result.output  # documents failed: not a silent success for cron or scripts
    assert f"skipped: files {folder}/passwd.md: symbolic link, not followed" in result.output
    assert f"skipped: files {folder}/empty.md: no text to index" in result.output
    assert f"failed: files {folder}/huge.txt" in result.output and "KURA_MAX_DOCUMENT_MB" in result.output
    assert "1 added, 0 updated, 0 deleted, 0 unchanged, 1 failed, 2 skipped" in result.output
    as_json = invoke("ingest", "--path", str(folder), "--json", data_dir=data, KURA_MAX_DOCUMENT_MB="0.001")
    summary = json.loads(as_json.stdout)
    assert as_json.exit_code == 4 and summary["documents_added"] == 0 and summary["documents_unchanged"] == 1
    assert summary["documents_skipped"] == 2 and summary["documents_failed"] == 1
    assert invoke("ingest", "--path", str(folder), data_dir=data).exit_code == 0  # default limit: all is well


def test_stats_and_ingest_after_a_first_ingest_died_creating_the_index(folder, tmp_path):
    data = tmp_path / "data"
    os.remove(folder / "passwd.md")
    config = qe.EdgeConfig(vectors={"dense": qe.EdgeVectorParams(size=384, distance=qe.Distance.Cosine)})
    qe.EdgeShard.create(str(data / "index" / "main" / "shard"), config).close()  # killed before meta.json
    stats = invoke("stats", data_dir=data)
    assert isinstance(stats.exception, StoreNotFoundError) and "unfinished" in str(stats.exception)
    ingest = invoke("ingest", "--path", str(folder), data_dir=data)  # before: "already contains segment data"
    assert ingest.exit_code == 0, ingest.output
    stats = invoke("stats", data_dir=data)
    assert stats.exit_code == 0 and "documents: 2" in stats.output, stats.output


def test_reindex_lists_what_it_skipped(folder, tmp_path):
    result = invoke("reindex", data_dir=tmp_path / "data", KURA_INGEST_PATHS=json.dumps([str(folder)]))
    assert result.exit_code == 0, result.output  # skipped items are reported, they are not failures
    assert f"skipped: files {folder}/passwd.md: symbolic link, not followed" in result.output
