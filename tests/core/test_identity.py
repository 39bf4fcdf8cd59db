from core.identity import IdentityStore


def test_principals_combine_sources_and_replace_per_source(tmp_path):
    ids = IdentityStore(tmp_path / "identity.sqlite")
    ids.replace_grants("confluence", {"Alice@Example.com": ["group:eng"]})
    ids.replace_grants("slack", {"alice@example.com": ["slack:C1"], "bob@example.com": ["slack:C2"]})
    assert ids.principals_for("alice@example.com") == (
        "domain:example.com", "group:eng", "public", "slack:C1", "user:alice@example.com",
    )
    # Slack revokes alice's private channel: only slack's grants change.
    ids.replace_grants("slack", {"bob@example.com": ["slack:C2"]})
    assert "slack:C1" not in ids.principals_for("alice@example.com")
    assert "group:eng" in ids.principals_for("alice@example.com")
    assert ids.principals_for(None) == ("public",)


def test_aliases_map_to_email(tmp_path):
    ids = IdentityStore(tmp_path / "identity.sqlite")
    ids.add_alias("slack:U123", "Carol@example.com")
    assert ids.email_for("slack:U123") == "carol@example.com"
    assert ids.email_for("slack:U999") is None
