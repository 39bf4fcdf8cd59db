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

from bots.local_socket import held_index_error

# Each test runs several CLI processes; on a loaded 2-core machine one takes 10-20 s.
pytestmark = pytest.mark.timeout(900)
from tests.bots.test_cli import FINANCE, OUTSIDER, REPO, kura, restricted_documents


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
    """--as resolves to the same principals through the server as in-process (tests/bots/test_cli.py's cases)."""
    data, _ = served
    question = "給与バンド表の改定コードは何ですか？"
    member = kura("ask", question, "--json", "--as", FINANCE, data_dir=data)
    outsider = kura("ask", question, "--json", "--as", OUTSIDER, data_dir=data)
    public = kura("ask", question, "--json", data_dir=data)
    assert member.returncode == outsider.returncode == public.returncode == 0, member.stderr + outsider.stderr
    assert "KIRIN-26" in json.loads(member.stdout)["answer"]
    restricted = set(restricted_documents())
    for out in (json.loads(outsider.stdout), json.loads(public.stdout)):
        assert "KIRIN-26" not in out["answer"]
        assert not {s["document_id"] for s in out["sources"]} & restricted
    plain = kura("ask", "How do I set up the VPN?", data_dir=data)
    assert plain.returncode == 0 and "Sources:" in plain.stdout, plain.stderr


def test_stats_and_ingest_beside_the_server(served, tmp_path):
    data, server = served
    before = kura("stats", data_dir=data)
    assert before.returncode == 0, before.stderr
    assert "documents: 37" in before.stdout and "confluence: 15 documents" in before.stdout
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


def test_reindex_beside_the_server(served):
    data, server = served
    reindexed = kura("reindex", "--json", data_dir=data)
    assert reindexed.returncode == 0, reindexed.stdout + reindexed.stderr
    assert kura("ask", "How do I set up the VPN?", data_dir=data).returncode == 0
    assert server.poll() is None  # the server kept running through all of it


def test_what_cannot_be_handed_over_names_the_holder(served):
    """Opening the served index directly (as `kura sync` does) fails; the error names `kura serve` and its pid."""
    data, server = served
    from core.errors import StoreError
    from core.store_factory import current_index_dir
    from core.store_edge import EdgeStore

    with pytest.raises(StoreError) as failure:
        EdgeStore(current_index_dir(data / "index")).count()
    message = str(held_index_error(failure.value, data, "kura sync"))
    assert f"held by `kura serve` (pid {server.pid})" in message and "kura sync cannot run beside it" in message
    assert "\n" not in message


def test_without_a_server_the_cli_opens_the_index_itself(tmp_path):
    data = tmp_path / "data"
    assert kura("ingest", "--path", str(REPO / "ingest" / "chunking"), data_dir=data).returncode == 0
    (data / "kura.sock").write_text("")  # left behind by a server that died: nobody answers
    result = kura("stats", data_dir=data)
    assert result.returncode == 0 and "files:" in result.stdout, result.stderr
