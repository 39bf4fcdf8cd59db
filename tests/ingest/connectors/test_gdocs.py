"""Google Docs connector against the fake Drive/Directory/token server, through google-api-python-client."""

from __future__ import annotations

import pytest

from core.errors import ConnectorAuthError
from ingest.connectors.gdocs import GoogleDocsConnector
from tests.fakes.fake_google import DriveFile
from tests.fakes.http_fake import Response
from tests.fakes.seeds import google_settings_for
from tests.ingest.connectors.helpers import deleted_of, docs_of, drain, failures_of, stores

IN_SCOPE = {"gdocs:doc-handbook", "gdocs:doc-plan", "gdocs:doc-ja"}


@pytest.fixture
def setup(google, tmp_path):
    settings = google_settings_for(google, tmp_path)
    checkpoints, identity = stores(settings)
    return GoogleDocsConnector(settings, checkpoints, identity), checkpoints, identity


def exports(fake) -> list[str]:
    return sorted(r.path.split("/")[4] for r in fake.requests if r.path.endswith("/export"))


def test_full_sync_reads_folders_recursively_with_structure_and_sharing(setup):
    connector, checkpoints, identity = setup
    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == IN_SCOPE
    handbook = docs["gdocs:doc-handbook"]
    assert handbook.title == "Employee handbook"
    assert handbook.author == "Aiko Tanaka"
    assert handbook.principals == ("domain:example.com",)
    leave = next(s for s in handbook.sections if s.heading_path == ("Leave policy",))
    assert leave.text == "Everyone gets 25 days of paid leave per year."
    sick = next(s for s in handbook.sections if s.kind == "list")
    assert sick.text == "- Tell your manager\n  - Before 10:00"
    assert sick.heading_path == ("Leave policy", "Sick leave")
    assert next(s for s in handbook.sections if s.kind == "table").text == "Region | Days\nJapan | 20"
    assert handbook.metadata["heading_urls"]["Sick leave"].endswith("/edit#heading=h.sick2")
    assert docs["gdocs:doc-plan"].principals == ("group:execs@example.com", "user:aiko@example.com")
    assert docs["gdocs:doc-ja"].principals == ("public",)
    assert "週三日" in docs["gdocs:doc-ja"].text
    assert "group:execs@example.com" in identity.principals_for("ben@example.com")
    assert "group:execs@example.com" not in identity.principals_for("chen@example.com")


def test_second_sync_without_changes_reads_only_listings(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.clear_requests()

    assert drain(connector.poll(), checkpoints) == []
    assert exports(google) == []
    assert not google.requests_to("/permissions")


def test_changes_api_drives_incremental_sync(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.edit("doc-handbook", "<h1>Leave policy</h1><p>Everyone gets 27 days now.</p>")
    google.clear_requests()

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert list(docs) == ["gdocs:doc-handbook"]
    assert "27 days" in docs["gdocs:doc-handbook"].text
    assert exports(google) == ["doc-handbook"]
    assert google.requests_to("/drive/v3/changes")
    assert checkpoints.cursor("gdocs")["page_token"] == str(len(google.changes))


def test_trash_delete_and_move_out_of_scope_are_deletions(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.trash("doc-handbook")
    google.delete("doc-ja")
    google.move("doc-plan", ["other-folder"])

    batches = drain(connector.poll(), checkpoints)

    assert sorted(deleted_of(batches)) == sorted(IN_SCOPE)
    assert checkpoints.ledger("gdocs") == {}


def test_doc_moved_into_scope_is_added(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.move("doc-elsewhere", ["sub"])

    assert list(docs_of(drain(connector.poll(), checkpoints))) == ["gdocs:doc-elsewhere"]


def test_sharing_change_re_emits_doc_with_new_principals(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.share("doc-plan", [{"id": "p3", "type": "user", "emailAddress": "aiko@example.com", "role": "owner"}])

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert docs["gdocs:doc-plan"].principals == ("user:aiko@example.com",)


def test_expired_access_token_is_refreshed_and_the_sync_goes_on(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.expire_tokens()
    google.edit("doc-ja", "<p>在宅勤務は週四日まで認められます。</p>")

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert list(docs) == ["gdocs:doc-ja"]
    assert len(google.tokens_issued) == 2


def test_refused_credentials_stop_at_once_with_a_hint(setup, google):
    connector, checkpoints, _ = setup
    google.revoke()

    with pytest.raises(ConnectorAuthError, match="KURA_GOOGLE_CREDENTIALS_FILE"):
        drain(connector.poll(), checkpoints)
    assert not google.requests_to("/drive/")


def test_unknown_folder_is_a_configuration_error(google, tmp_path):
    settings = google_settings_for(google, tmp_path, google_folder_ids=["no-such-folder"])
    checkpoints, identity = stores(settings)

    with pytest.raises(ConnectorAuthError, match="no-such-folder"):
        drain(GoogleDocsConnector(settings, checkpoints, identity).poll(), checkpoints)


def test_rate_limit_honours_retry_after(setup, google):
    connector, checkpoints, _ = setup
    google.inject("/drive/v3/files", Response(429, {"error": {"code": 429, "message": "Rate Limit Exceeded"}},
                                              {"Retry-After": "1"}))

    assert set(docs_of(drain(connector.poll(), checkpoints))) == IN_SCOPE
    first, second = google.requests_to("/drive/v3/files")[:2]
    assert second.at - first.at >= 1.0


def test_server_errors_are_retried_with_backoff(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.edit("doc-ja", "<p>更新</p>")
    google.inject("/drive/v3/changes", Response(503, {"error": {"code": 503, "message": "Backend Error"}}), times=2)
    google.clear_requests()

    assert list(docs_of(drain(connector.poll(), checkpoints))) == ["gdocs:doc-ja"]
    assert len(google.requests_to("/drive/v3/changes")) == 3


def test_broken_export_is_a_failure_and_the_rest_syncs(setup, google):
    connector, checkpoints, _ = setup
    google.files["doc-plan"].broken = True

    batches = drain(connector.poll(), checkpoints)

    assert [f.source_id for f in failures_of(batches)] == ["doc-plan"]
    assert set(docs_of(batches)) == IN_SCOPE - {"gdocs:doc-plan"}
    google.files["doc-plan"].broken = False
    assert list(docs_of(drain(connector.poll(), checkpoints))) == ["gdocs:doc-plan"]


def test_interrupted_first_sync_resumes_without_refetching(setup, google):
    connector, checkpoints, _ = setup
    google.add(DriveFile("doc-4", "Fourth", ["team"], html="<p>four</p>", permissions=[{"type": "anyone"}]))
    first = docs_of(drain(connector.poll(), checkpoints, stop_after=1))
    assert len(first) == 2
    google.clear_requests()

    rest = docs_of(drain(connector.poll(), checkpoints))

    assert set(rest) | set(first) == IN_SCOPE | {"gdocs:doc-4"}
    assert not set(rest) & set(first)
    assert len(exports(google)) == 2


def test_directory_unavailable_keeps_direct_shares_working(setup, google):
    connector, checkpoints, identity = setup
    google.directory_enabled = False

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == IN_SCOPE
    assert "group:execs@example.com" not in identity.principals_for("ben@example.com")


def test_expired_changes_token_falls_back_to_comparing_versions(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.edit("doc-plan", "<p>We acquire Tanuki Corp in Q1 instead.</p>")
    google.oldest_valid_token = len(google.changes)  # the stored token is now too old

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert list(docs) == ["gdocs:doc-plan"]
    assert checkpoints.cursor("gdocs")["page_token"] == str(len(google.changes))
    assert drain(connector.poll(), checkpoints) == []


def test_full_reload_reads_every_doc_again(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.clear_requests()

    docs = docs_of(drain(connector.load(), checkpoints))

    assert set(docs) == IN_SCOPE
    assert exports(google) == sorted(d.split(":")[1] for d in IN_SCOPE)


def test_incomplete_search_never_deletes_docs_missing_from_the_listing(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.unsearched = {"doc-ja", "doc-handbook"}  # Drive could not search every corpus this time
    google.edit("doc-ja", "<p>在宅勤務は週四日まで認められます。</p>")  # missing from the listing, still in scope
    google.trash("doc-handbook")  # missing from the listing, and the change stream says trashed

    batches = drain(connector.poll(), checkpoints)

    # Scope now rests on the change stream's own fields (parents, trashed): both must have been asked for.
    assert deleted_of(batches) == ["gdocs:doc-handbook"]
    assert list(docs_of(batches)) == ["gdocs:doc-ja"]
    assert set(checkpoints.ledger("gdocs")) == {"gdocs:doc-ja", "gdocs:doc-plan"}
    assert any(r.arg("fields", "").startswith("nextPageToken,incompleteSearch") for r in google.requests_to("/files"))
    google.unsearched = set()
    assert drain(connector.poll(), checkpoints) == []


def test_doc_over_the_export_limit_is_skipped_with_its_reason_not_retried_forever(setup, google):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    google.edit("doc-plan", "<p>" + "x" * (10 * 1024 * 1024) + "</p>")  # just over Drive's 10 MB export limit

    batches = drain(connector.poll(), checkpoints)

    assert [(s.source_id, "10 MB" in s.reason) for b in batches for s in b.skipped] == [("doc-plan", True)]
    assert deleted_of(batches) == ["gdocs:doc-plan"]  # the old, smaller version does not keep answering
    assert failures_of(batches) == [] and checkpoints.failures("gdocs") == {}
    assert "gdocs:doc-plan" in checkpoints.skipped("gdocs")
    google.clear_requests()
    assert drain(connector.poll(), checkpoints) == []  # not fetched again while unchanged
    assert exports(google) == []

    google.edit("doc-plan", "<p>Short again.</p>")  # once it changes it is read again
    assert list(docs_of(drain(connector.poll(), checkpoints))) == ["gdocs:doc-plan"]
    assert checkpoints.skipped("gdocs") == {}


def test_one_unreadable_group_does_not_stop_the_other_groups_grants(setup, google):
    connector, checkpoints, identity = setup
    google.share("doc-handbook", [{"id": "p9", "type": "group", "emailAddress": "staff@example.com", "role": "reader"}])
    google.groups["staff@example.com"] = ["chen@example.com"]
    google.unreadable_groups = {"execs@example.com"}

    drain(connector.poll(), checkpoints)

    assert "group:staff@example.com" in identity.principals_for("chen@example.com")
    google.unreadable_groups = {"staff@example.com"}  # now the other way round: staff keeps its last members
    google.edit("doc-ja", "<p>更新</p>")
    drain(connector.poll(), checkpoints)
    assert "group:execs@example.com" in identity.principals_for("ben@example.com")
    assert "group:staff@example.com" in identity.principals_for("chen@example.com")
