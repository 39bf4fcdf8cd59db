"""The sync runner over the three fake sources into a real index: checkpoints commit only after indexing."""

from __future__ import annotations

import pytest

from bots.app import KuraApp
from ingest.connectors.checkpoints import CheckpointStore
from ingest.connectors.registry import build_connectors
from ingest.sync import SyncRunner
from tests.fakes.fake_confluence import FakeConfluence
from tests.fakes.fake_google import FakeGoogle
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.seeds import (confluence_settings_for, fast_settings, google_settings_for, seed_confluence,
                               seed_google, seed_slack, slack_settings_for)

EXPECTED_DOCUMENTS = 6 + 3 + 4  # confluence pages in scope, Google Docs in the folder, Slack threads


class Killed(BaseException):
    """Stands in for SIGKILL: nothing catches it, nothing after it runs."""


@pytest.fixture
def fakes():
    confluence, google, slack = FakeConfluence(), FakeGoogle(), FakeSlack()
    seed_confluence(confluence)
    seed_google(google)
    slack.threads = seed_slack(slack)
    with confluence, google, slack:
        yield confluence, google, slack


def all_sources_settings(fakes, tmp_path, name="data", batch_size=25):
    confluence, google, slack = fakes
    values = {}
    for part in (confluence_settings_for(confluence, tmp_path), google_settings_for(google, tmp_path),
                 slack_settings_for(slack, tmp_path)):
        values.update(part.model_dump(exclude_unset=True))
    return fast_settings(tmp_path, **{**values, "data_dir": tmp_path / name, "connector_batch_size": batch_size})


def run_sync(settings, embedder, checkpoints_cls=CheckpointStore, full=False):
    with KuraApp(settings, embedder=embedder) as kura:
        checkpoints = checkpoints_cls.in_state_dir(settings.state_dir)
        runner = SyncRunner(kura.pipeline(), checkpoints, build_connectors(settings, checkpoints, kura.identity))
        summary = runner.run(full=full)
        return summary, kura.store.document_hashes(), kura.store.count()


def test_second_run_embeds_nothing_and_an_edit_re_embeds_one_document(fakes, tmp_path, embedder):
    confluence, _, _ = fakes
    settings = all_sources_settings(fakes, tmp_path)

    summary, hashes, chunks = run_sync(settings, embedder)

    assert summary.ok
    assert {r.source: r.stats.documents_added for r in summary.results} == {"confluence": 6, "gdocs": 3, "slack": 4}
    assert len(hashes) == EXPECTED_DOCUMENTS and chunks >= EXPECTED_DOCUMENTS
    calls, texts = embedder.calls, embedder.texts_embedded

    again, hashes_again, chunks_again = run_sync(settings, embedder)

    assert (embedder.calls, embedder.texts_embedded) == (calls, texts)
    assert sum(r.stats.chunks_embedded for r in again.results) == 0
    assert sum(r.stats.documents_added + r.stats.documents_updated for r in again.results) == 0
    assert (hashes_again, chunks_again) == (hashes, chunks)

    confluence.edit_page("102", body="<p>Kura 1.3 adds Japanese search with Sudachi.</p>")
    edited, _, _ = run_sync(settings, embedder)

    by_source = {r.source: r.stats for r in edited.results}
    assert by_source["confluence"].documents_updated == 1
    assert by_source["confluence"].chunks_embedded == 1
    assert by_source["gdocs"].chunks_embedded == by_source["slack"].chunks_embedded == 0
    assert embedder.texts_embedded == texts + 1


class KilledBeforeCommit(CheckpointStore):
    """Killed after the pipeline indexed batch N but before its checkpoint was written."""

    kill_at = 0
    commits = 0

    def commit(self, batch):
        type(self).commits += 1
        if type(self).commits == type(self).kill_at:
            raise Killed()
        super().commit(batch)


def dying_embedder(embedder, die_on_call: int):
    """The real embedder, killed on its n-th batch."""

    class DyingEmbedder:
        dimension = embedder.dimension
        max_seq_length = embedder.max_seq_length
        count_word_pieces = staticmethod(embedder.count_word_pieces)
        calls = 0

        def embed_documents(self, texts):
            self.calls += 1
            if self.calls == die_on_call:
                raise Killed()
            return embedder.embed_documents(texts)

        def embed_query(self, text):
            return embedder.embed_query(text)

    return DyingEmbedder()


def test_killed_syncs_rerun_lose_and_duplicate_nothing(fakes, tmp_path, embedder):
    reference = run_sync(all_sources_settings(fakes, tmp_path, "reference"), embedder)
    settings = all_sources_settings(fakes, tmp_path, batch_size=3)

    with pytest.raises(Killed):  # killed while embedding the third batch
        run_sync(settings, dying_embedder(embedder, 3))
    KilledBeforeCommit.kill_at, KilledBeforeCommit.commits = 3, 0
    with pytest.raises(Killed):  # killed between indexing a batch and recording its checkpoint
        run_sync(settings, embedder, KilledBeforeCommit)
    summary, hashes, chunks = run_sync(settings, embedder)

    assert summary.ok
    assert hashes == reference[1]  # every document, with the same content
    assert chunks == reference[2]  # and not one chunk more
    assert sum(r.stats.documents_unchanged for r in summary.results) >= 1  # indexed before the kill: not re-embedded
    assert run_sync(settings, embedder)[0].results[0].stats.chunks_embedded == 0


def test_auth_error_stops_that_source_only_and_says_what_to_fix(fakes, tmp_path, embedder):
    _, _, slack = fakes
    slack.expired = True

    summary, hashes, _ = run_sync(all_sources_settings(fakes, tmp_path), embedder)

    errors = {r.source: r.error for r in summary.results}
    assert errors["confluence"] is None and errors["gdocs"] is None
    assert "token_expired" in errors["slack"] and "KURA_SLACK_BOT_TOKEN" in errors["slack"]
    assert not summary.ok
    assert len(hashes) == 6 + 3


@pytest.mark.parametrize("source", ["confluence", "gdocs", "slack"])
def test_a_document_deleted_at_the_source_leaves_the_index(fakes, tmp_path, embedder, source):
    confluence, google, slack = fakes
    settings = all_sources_settings(fakes, tmp_path)
    _, hashes, _ = run_sync(settings, embedder)
    gone = {"confluence": "confluence:102", "gdocs": "gdocs:doc-ja", "slack": f"slack:C1:{slack.threads['vpn']}"}[source]
    assert gone in hashes
    if source == "confluence":
        del confluence.pages["102"]
    elif source == "gdocs":
        google.delete("doc-ja")
    else:
        slack.delete("C1", slack.threads["vpn"])

    summary, hashes_after, _ = run_sync(settings, embedder)  # the only change is a deletion: a deletion-only batch

    assert summary.ok
    by_source = {r.source: r.stats for r in summary.results}
    assert by_source[source].documents_deleted == 1
    assert set(hashes) - set(hashes_after) == {gone}
    assert gone not in CheckpointStore.in_state_dir(settings.state_dir).ledger(source)
