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
    connector, checkpoints, identity = setup
    drain(connector.poll(), checkpoints)
    confluence.add_user("u-dana", "dana@example.com", "Dana Sato")
    confluence.spaces["ENG"]["users"] = ["u-dana"]  # a user grant (v2: principal type user, by account id)

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert set(docs) == {"confluence:100", "confluence:101", "confluence:102"}
    assert all(d.principals == ("confluence-account:u-dana", "group:staff") for d in docs.values())
    assert "confluence-account:u-dana" in identity.principals_for("dana@example.com")
    assert "group:staff" not in identity.principals_for("dana@example.com")


def test_anonymous_access_on_cloud_reaches_no_one_but_the_named_readers(setup, confluence, caplog):
    # v2 lists anonymous access as a "role" principal whose ids the spec does not define: Kura fails closed.
    connector, checkpoints, _ = setup
    confluence.spaces["ENG"]["anonymous"] = True

    docs = docs_of(drain(connector.poll(), checkpoints))

    assert docs["confluence:100"].principals == ("group:staff",)
    assert not [d for d in docs.values() if "public" in d.principals]
    assert "read granted to role 'anonymous' is not mapped" in caplog.text


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
    eng = confluence.spaces["ENG"]["id"]
    confluence.inject(f"/spaces/{eng}/permissions", Response(200, {"too": "late"}, delay_s=1.5))

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6
    first_pages = [r for r in confluence.requests_to(f"/spaces/{eng}/permissions") if "cursor" not in r.query]
    assert len(first_pages) == 2  # timed out, then again


def test_data_center_personal_access_token(confluence, tmp_path):
    confluence.cloud = False  # no v2: every read is v1, space permissions from space/{key}?expand=permissions
    confluence.spaces["ENG"]["anonymous"] = True  # v1 says anonymousAccess: true, which Kura reads as public
    settings = confluence_settings_for(confluence, tmp_path, confluence_cloud=False, confluence_username=None)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6
    assert {r.headers["authorization"] for r in confluence.requests} == {f"Bearer {confluence.token}"}
    assert confluence.requests_to("/group/staff/member")  # the Data Center form of the member list
    assert confluence.requests_to("/wiki/rest/api/space/ENG") and not confluence.requests_to("/wiki/api/v2/")
    assert "group:hr-team" in identity.principals_for("aiko@example.com")
    assert "public" in docs["confluence:100"].principals


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
    # The fake Cloud site answers deprecated v1 resources with 410, and none was asked for.
    assert confluence.deprecated_calls == []
    assert confluence.requests_to("/wiki/api/v2/spaces/") and not confluence.requests_to("/wiki/rest/api/space")


def test_every_global_space_is_listed_through_v2_when_none_are_configured(confluence, tmp_path):
    settings = confluence_settings_for(confluence, tmp_path, confluence_spaces=[],
                                       confluence_exclude_spaces=["OLD"])
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert len(docs) == 6  # ENG and HR, listed over two v2 pages; OLD excluded
    assert len([r for r in confluence.requests if r.path == "/wiki/api/v2/spaces"]) == 2
    assert "/wiki/rest/api/space" not in confluence.deprecated_calls


def test_space_permissions_are_read_through_every_v2_page(confluence, tmp_path):
    # HR's read grants spread over five pages of two (other operations in between): the last one is a user.
    for name in ("g1", "g2", "g3"):
        confluence.groups[name] = []
    confluence.spaces["HR"]["groups"] = ["g1", "staff", "g2", "g3"]
    confluence.spaces["HR"]["users"] = ["u-chen"]
    settings = confluence_settings_for(confluence, tmp_path)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    hr = confluence.spaces["HR"]["id"]
    reads = confluence.requests_to(f"/wiki/api/v2/spaces/{hr}/permissions")
    assert len(reads) == 6 and all("cursor" in r.query for r in reads[1:])  # 11 assignments, 2 per page
    # 202 has no restriction of its own: it is readable by every reader of the space, the last page's user too.
    assert docs["confluence:202"].principals == ("confluence-account:u-chen", "group:g1", "group:g2", "group:g3",
                                                 "group:staff")
    assert "confluence-account:u-chen" in identity.principals_for("chen@example.com")


def test_a_space_group_grant_by_id_is_the_same_group_as_in_page_restrictions(confluence, tmp_path):
    # v2 names the group by id only; page 200's restriction names it hr-team (with the same id).
    confluence.spaces["HR"]["groups"] = ["hr-team"]
    settings = confluence_settings_for(confluence, tmp_path)
    checkpoints, identity = stores(settings)

    docs = docs_of(drain(ConfluenceConnector(settings, checkpoints, identity).poll(), checkpoints))

    assert docs["confluence:200"].principals == ("group:hr-team",)  # space and restriction agree: still the group
    assert docs["confluence:202"].principals == ("group:hr-team",)
    # 201 (Aiko and Ben, under hr-team): only Aiko is in hr-team, so the group covers exactly who may read it.
    assert docs["confluence:201"].principals == ("group:hr-team",)
    assert "group:hr-team" in identity.principals_for("aiko@example.com")
    assert "group:hr-team" not in identity.principals_for("ben@example.com")
    assert confluence.requests_to("/wiki/rest/api/group/by-id")
    assert confluence.requests_to("/group/gid-hr-team/membersByGroupId")  # members by id, not the deprecated name


def test_fake_confluence_holds_v2_space_permissions_to_the_spec(confluence):
    import httpx

    from tests.fakes.openapi_shape import shape_errors
    from tests.fakes.fake_confluence import _spec_operation

    auth = (confluence.username, confluence.token)
    eng = confluence.spaces["ENG"]["id"]
    get = lambda path, **params: httpx.get(f"{confluence.url}/wiki{path}", params=params, auth=auth)  # noqa: E731
    assert get("/rest/api/space/ENG", expand="permissions").status_code == 410  # deprecated: gone on this Cloud
    assert get("/api/v2/spaces/ENG/permissions").status_code == 400  # the id is an integer, not the key
    assert get(f"/api/v2/spaces/{eng}/permissions", limit=251).status_code == 400  # at most 250
    assert get(f"/api/v2/spaces/{eng}/permissions", expand="subjects").status_code == 400
    first = get(f"/api/v2/spaces/{eng}/permissions")
    assert first.status_code == 200 and first.json()["_links"]["next"] in first.headers["link"]
    # The shape check itself: a principal type the spec does not list is caught.
    schema = _spec_operation(f"/wiki/api/v2/spaces/{eng}/permissions")[1]["response"]
    bad = {"results": [{"id": "1", "principal": {"type": "everyone", "id": "x"},
                        "operation": {"key": "read", "targetType": "space"}}], "_links": {}}
    assert shape_errors(schema, bad) == ["$.results[0].principal.type: 'everyone' is not one of "
                                         "['user', 'group', 'role']"]
    assert shape_errors(schema, first.json()) == [] and confluence.spec_violations == []
