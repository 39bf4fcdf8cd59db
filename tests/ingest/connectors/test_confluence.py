"""Confluence connector against the fake Confluence Cloud site, through the real atlassian-python-api client."""

from __future__ import annotations

import pytest

from core.errors import ConnectorAuthError
from ingest.connectors.confluence import ConfluenceConnector
from tests.fakes.fake_confluence import Page
from tests.fakes.http_fake import Response
from tests.fakes.seeds import confluence_settings_for
from tests.ingest.connectors.helpers import deleted_of, docs_of, drain, failures_of, stores


@pytest.fixture
def setup(confluence, tmp_path):
    settings = confluence_settings_for(confluence, tmp_path)
    checkpoints, identity = stores(settings)
    return ConfluenceConnector(settings, checkpoints, identity), checkpoints, identity


def content_fetches(fake) -> list[str]:
    return sorted(r.path.rsplit("/", 1)[1] for r in fake.requests
                  if r.path.startswith(("/wiki/rest/api/content/", "/wiki/api/v2/pages/", "/wiki/api/v2/blogposts/"))
                  and r.path.rsplit("/", 1)[1].isdigit())


def test_full_sync_emits_pages_and_blog_posts_with_structure_and_metadata(setup, confluence):
    connector, checkpoints, _ = setup
    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == {f"confluence:{i}" for i in ("100", "101", "102", "200", "201", "202")}  # OLD not in scope
    guide = docs["confluence:100"]
    assert guide.title == "Onboarding guide"
    assert guide.url == f"{confluence.url}/wiki/spaces/ENG/pages/100"
    assert guide.author == "Aiko Tanaka"
    assert guide.metadata["labels"] == ["onboarding", "howto"]
    assert guide.metadata["version"] == 1
    kinds = {s.kind: s for s in guide.sections}
    assert kinds["list"].text == "1. Get your laptop\n  - Mac\n  - Linux\n2. Meet your buddy"
    assert kinds["list"].heading_path == ("Onboarding", "First week")
    assert kinds["table"].text == "System: VPN | Owner: IT desk\nSystem: Payroll | Owner: HR"
    assert kinds["code"].text == "git clone git@example.com:kura.git && make setup"
    assert docs["confluence:101"].metadata["breadcrumb"] == ["Engineering", "Onboarding guide"]
    assert docs["confluence:102"].metadata["type"] == "blogpost"
    assert docs["confluence:202"].sections[0].text.startswith("経費精算は毎月25日までに申請してください")
    assert docs["confluence:202"].sections[0].heading_path == ("経費精算",)


def test_principals_combine_space_permission_with_inherited_restrictions(setup):
    connector, checkpoints, identity = setup
    docs = docs_of(drain(connector.poll(), checkpoints))

    assert docs["confluence:100"].principals == ("group:staff",)
    assert docs["confluence:200"].principals == ("group:hr-team",)
    # 201 is restricted to Aiko and Ben, under 200 restricted to hr-team (Aiko only): Ben must not read it.
    assert docs["confluence:201"].principals == ("group:hr-team",)
    assert "group:hr-team" in identity.principals_for("aiko@example.com")
    assert "group:hr-team" not in identity.principals_for("ben@example.com")
    assert "group:staff" in identity.principals_for("chen@example.com")


def test_second_sync_without_changes_fetches_no_content(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.clear_requests()

    batches = drain(connector.poll(), checkpoints)

    assert batches == []
    assert content_fetches(confluence) == []


def test_incremental_sync_fetches_only_the_edited_page(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.edit_page("101", body="<p>Install the VPN client and the password manager.</p>")
    confluence.clear_requests()

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert list(docs) == ["confluence:101"]
    assert "password manager" in docs["confluence:101"].text
    assert docs["confluence:101"].metadata["version"] == 2
    assert content_fetches(confluence) == ["101"]
    cql = [r.arg("cql") for r in confluence.requests_to("content/search") if "lastmodified" in (r.arg("cql") or "")]
    assert cql, "the change listing must be a CQL lastmodified query"


def test_deleted_and_out_of_scope_pages_are_reported_as_deletions(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    del confluence.pages["102"]
    confluence.pages["101"].space = "OLD"  # moved to a space outside the scope

    batches = drain(connector.poll(), checkpoints)

    assert sorted(deleted_of(batches)) == ["confluence:101", "confluence:102"]
    assert "confluence:101" not in checkpoints.ledger("confluence")
    assert drain(connector.poll(), checkpoints) == []  # reported once


def test_restriction_change_re_emits_page_with_new_principals(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.pages["100"].read_groups = ["hr-team"]  # restrictions do not change the page version

    docs = docs_of(drain(connector.poll(), checkpoints))

    # The child inherits the new restriction as well.
    assert docs["confluence:100"].principals == ("group:hr-team",)
    assert docs["confluence:101"].principals == ("group:hr-team",)
    assert set(docs) == {"confluence:100", "confluence:101"}


def test_space_permission_change_reaches_every_page_of_the_space(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.spaces["ENG"]["anonymous"] = True

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == {"confluence:100", "confluence:101", "confluence:102"}
    assert all("public" in d.principals for d in docs.values())


def test_rate_limit_honours_retry_after(setup, confluence):
    connector, checkpoints, _ = setup
    confluence.inject("content/search", Response(429, {"message": "Rate limit exceeded"}, {"Retry-After": "1"}))

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert len(docs) == 6
    first, second = confluence.requests_to("content/search")[:2]
    assert second.at - first.at >= 1.0


def test_broken_page_is_a_failure_and_the_rest_syncs_then_it_is_retried(setup, confluence):
    connector, checkpoints, _ = setup
    confluence.pages["101"].broken = True

    batches = drain(connector.poll(), checkpoints)

    assert [f.source_id for f in failures_of(batches)] == ["101"]
    assert "500" in failures_of(batches)[0].reason
    assert len(docs_of(batches)) == 5
    assert list(checkpoints.failures("confluence")) == ["confluence:101"]

    confluence.pages["101"].broken = False  # fixed at the source: the next sync picks it up although unchanged
    docs = docs_of(drain(connector.poll(), checkpoints))
    assert list(docs) == ["confluence:101"]
    assert checkpoints.failures("confluence") == {}


def test_rejected_credentials_stop_at_once_with_a_hint(setup, confluence):
    connector, checkpoints, _ = setup
    confluence.token = "rotated"

    with pytest.raises(ConnectorAuthError, match="KURA_CONFLUENCE_TOKEN"):
        drain(connector.poll(), checkpoints)
    assert len(confluence.requests) == 1  # no retries, no further calls


def test_space_without_visible_permissions_is_refused(setup, confluence):
    connector, checkpoints, _ = setup
    confluence.show_space_permissions = False

    with pytest.raises(ConnectorAuthError, match="permissions of space"):
        drain(connector.poll(), checkpoints)


def test_interrupted_sync_resumes_without_refetching_committed_pages(setup, confluence):
    connector, checkpoints, _ = setup
    first = drain(connector.poll(), checkpoints, stop_after=2)  # killed after two batches (four pages)
    done = set(docs_of(first))
    assert len(done) == 4
    confluence.clear_requests()

    rest = docs_of(drain(connector.poll(), checkpoints))

    assert set(rest) | done == {f"confluence:{i}" for i in ("100", "101", "102", "200", "201", "202")}
    assert not set(rest) & done
    assert len(content_fetches(confluence)) == 2


def test_new_page_in_a_quiet_space_is_found_by_the_change_listing(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.add_page(Page("103", "ENG", "Coffee machine", "<p>Descale it every Friday.</p>", parent="100"))

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert list(docs) == ["confluence:103"]
    assert docs["confluence:103"].metadata["breadcrumb"] == ["Engineering", "Onboarding guide"]


def test_comments_are_included_when_configured(confluence, tmp_path):
    confluence.pages["101"].comments = [("u-ben", "<p>Does this work on Linux too?</p>"),
                                        ("u-aiko", "<p>Yes, use the <code>.deb</code> package.</p>")]
    settings = confluence_settings_for(confluence, tmp_path, confluence_include_comments=True)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    comments = [s for s in docs["confluence:101"].sections if s.heading_path == ("Comments",)]
    assert [s.text for s in comments] == ["Ben Ito: Does this work on Linux too?",
                                          "Aiko Tanaka: Yes, use the .deb package."]


def test_a_timed_out_request_is_retried(confluence, tmp_path):
    settings = confluence_settings_for(confluence, tmp_path, connector_timeout_s=1)
    checkpoints, identity = stores(settings)
    confluence.inject("/space/ENG", Response(200, {"too": "late"}, delay_s=1.5))

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6
    assert len(confluence.requests_to("/space/ENG")) == 2


def test_data_center_personal_access_token(confluence, tmp_path):
    settings = confluence_settings_for(confluence, tmp_path, confluence_cloud=False, confluence_username=None)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6
    assert {r.headers["authorization"] for r in confluence.requests} == {f"Bearer {confluence.token}"}
    assert confluence.requests_to("/group/staff/member")  # the Data Center form of the member list
    assert "group:hr-team" in identity.principals_for("aiko@example.com")


def test_full_reload_reads_every_page_again(setup, confluence):
    connector, checkpoints, _ = setup
    drain(connector.poll(), checkpoints)
    confluence.pages["100"].comments = [("u-ben", "<p>Comments do not bump the page version.</p>")]
    confluence.clear_requests()

    docs = docs_of(drain(connector.load(), checkpoints))

    assert len(docs) == 6
    assert content_fetches(confluence) == ["100", "101", "102", "200", "201", "202"]


def test_users_with_hidden_emails_keep_access_through_their_account_id(confluence, tmp_path):
    confluence.hidden_emails = {"u-aiko"}  # Aiko's profile hides her email: User.email is ""
    confluence.pages["202"].read_users = ["u-aiko"]
    settings = confluence_settings_for(confluence, tmp_path)
    checkpoints, identity = stores(settings)
    identity.add_alias("confluence:u-aiko", "aiko@example.com")  # the identity map joins the account to Aiko

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert docs["confluence:202"].principals == ("confluence-account:u-aiko",)
    assert "confluence-account:u-aiko" in identity.principals_for("aiko@example.com")
    assert "group:hr-team" in identity.principals_for("aiko@example.com")  # her group grants too
    assert "confluence-account:u-aiko" not in identity.principals_for("ben@example.com")


def test_long_restriction_lists_are_read_to_the_end(confluence, tmp_path):
    for i in range(7):
        confluence.add_user(f"u-x{i}", f"x{i}@example.com", f"X {i}")
    confluence.groups["staff"] += [f"u-x{i}" for i in range(7)]
    confluence.expansion_limit = 3  # the expansion carries 3 of the 8 users; the rest come from the paged resource
    confluence.pages["202"].read_users = [f"u-x{i}" for i in range(7)] + ["u-chen"]
    settings = confluence_settings_for(confluence, tmp_path)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    readers = {p for p in docs["confluence:202"].principals}
    assert readers == {f"confluence-account:u-x{i}" for i in range(7)} | {"confluence-account:u-chen"}
    assert "confluence-account:u-chen" in identity.principals_for("chen@example.com")


def test_replies_to_comments_are_indexed_through_the_v2_api(confluence, tmp_path):
    confluence.pages["101"].comments = [
        ("u-ben", "<p>Does this work on Linux too?</p>", [
            ("u-aiko", "<p>Yes, use the .deb package.</p>", [("u-ben", "<p>Thanks, that worked.</p>")])]),
        ("u-chen", "<p>And on Windows?</p>"),
    ]
    settings = confluence_settings_for(confluence, tmp_path, confluence_include_comments=True)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    comments = [s.text for s in docs["confluence:101"].sections if s.heading_path == ("Comments",)]
    assert comments == ["Ben Ito: Does this work on Linux too?", "Aiko Tanaka: Yes, use the .deb package.",
                        "Ben Ito: Thanks, that worked.", "Chen Wu: And on Windows?"]
    assert not [c for c in confluence.deprecated_calls if "comment" in c]  # v1 child/comment is deprecated


def test_fake_confluence_rejects_what_the_spec_does_not_allow(confluence):
    import httpx

    auth = (confluence.username, confluence.token)
    unknown = httpx.get(f"{confluence.url}/wiki/api/v2/pages/100/footer-comments", params={"depth": "all"}, auth=auth)
    assert unknown.status_code == 400
    assert httpx.get(f"{confluence.url}/wiki/api/v2/pages/100/footer-comments").status_code == 401
    assert httpx.get(f"{confluence.url}/wiki/rest/api/nowhere", auth=auth).status_code == 404


def test_cloud_reads_pages_comments_and_groups_without_deprecated_v1_resources(confluence, tmp_path):
    confluence.pages["100"].comments = [("u-ben", "<p>Thanks!</p>")]
    settings = confluence_settings_for(confluence, tmp_path, confluence_include_comments=True)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6 and docs["confluence:100"].metadata["labels"] == ["onboarding", "howto"]
    assert docs["confluence:100"].author == "Aiko Tanaka"
    # Only the space permission read is left on v1: v2's space permissions name groups by id only (see README).
    assert set(confluence.deprecated_calls) == {"/wiki/rest/api/space/{spaceKey}"}


def test_every_global_space_is_listed_through_v2_when_none_are_configured(confluence, tmp_path):
    settings = confluence_settings_for(confluence, tmp_path, confluence_spaces=[],
                                       confluence_exclude_spaces=["OLD"])
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6  # ENG and HR, listed over two v2 pages; OLD excluded
    assert len(confluence.requests_to("/wiki/api/v2/spaces")) == 2
    assert "/wiki/rest/api/space" not in confluence.deprecated_calls
