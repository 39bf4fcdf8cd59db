"""`kura ask / stats / ingest --path / reindex` from a second process while `kura serve` holds the embedded index."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bots.test_cli import FINANCE, OUTSIDER, REPO, kura

RESTRICTED_QUESTION = "What is the KESTREL salary band?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The sample corpus indexed, then `kura serve` running on it in a subprocess."""
    data = tmp_path_factory.mktemp("served") / "data"
    ingested = kura("ingest", "--json", data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURA_")}
    env.update({"KURA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
                "KURA_WEB_PORT": str(_free_port())})
    server = subprocess.Popen([sys.executable, "-m", "bots.cli", "serve"], env=env, cwd=data.parent,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sock = data / "kura.sock"
    deadline = time.monotonic() + 240
    while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not sock.exists():
        server.kill()
        pytest.fail(f"kura serve did not open its socket: {server.communicate()[0][-2000:]}")
    yield data, server
    server.terminate()
    server.wait(timeout=30)


def test_socket_is_private_to_its_owner(served):
    data, server = served
    mode = stat.S_IMODE((data / "kura.sock").stat().st_mode)
    assert mode == 0o600
    holder = json.loads((data / "index-holder.json").read_text())
    assert holder == {"command": "kura serve", "pid": server.pid, "socket": str((data / "kura.sock").resolve())}


def test_ask_beside_the_server_keeps_the_askers_permissions(served):
    data, _ = served
    public = kura("ask", RESTRICTED_QUESTION, "--json", data_dir=data)
    assert public.returncode == 0, public.stderr
    member = kura("ask", RESTRICTED_QUESTION, "--json", "--as", FINANCE, data_dir=data)
    outsider = kura("ask", RESTRICTED_QUESTION, "--json", "--as", OUTSIDER, data_dir=data)
    assert member.returncode == 0 and outsider.returncode == 0, member.stderr + outsider.stderr
    restricted = {s["document_id"] for s in json.loads(member.stdout)["sources"]}
    seen_by_outsider = {s["document_id"] for s in json.loads(outsider.stdout)["sources"]}
    seen_by_public = {s["document_id"] for s in json.loads(public.stdout)["sources"]}
    secret = {d for d in restricted if "kestrel" in d.lower() or "salary" in d.lower()} or restricted
    assert secret - seen_by_outsider and secret - seen_by_public  # the member sees what the others do not
    plain = kura("ask", "How do I set up the VPN?", data_dir=data)
    assert plain.returncode == 0 and "Sources:" in plain.stdout, plain.stderr


def test_stats_ingest_and_reindex_beside_the_server(served, tmp_path):
    data, server = served
    before = kura("stats", data_dir=data)
    assert before.returncode == 0, before.stderr
    assert "documents:" in before.stdout and "sample:" in before.stdout
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "zebra.md").write_text("# Zebra crossing policy\n\nThe zebra crossing outside the Osaka office is "
                                     "repainted every March by the facilities team, who book it in Hoshi Desk.\n")
    ingested = kura("ingest", "--path", str(folder), "--json", data_dir=data)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["documents_added"] == 1
    after = kura("stats", data_dir=data)
    assert "files: 1 documents" in after.stdout, after.stdout
    found = kura("ask", "When is the zebra crossing repainted?", "--json", data_dir=data)
    assert found.returncode == 0, found.stderr
    assert any("zebra" in s["title"].lower() for s in json.loads(found.stdout)["sources"])
    reindexed = kura("reindex", "--json", data_dir=data)
    assert reindexed.returncode == 0, reindexed.stdout + reindexed.stderr
    assert kura("ask", "How do I set up the VPN?", data_dir=data).returncode == 0
    assert server.poll() is None  # the server kept running through all of it


def test_without_a_server_the_cli_opens_the_index_itself(tmp_path):
    data = tmp_path / "data"
    assert kura("ingest", "--path", str(REPO / "ingest" / "chunking"), data_dir=data).returncode == 0
    (data / "kura.sock").write_text("")  # left behind by a server that died: nobody answers
    result = kura("stats", data_dir=data)
    assert result.returncode == 0 and "files:" in result.stdout, result.stderr
