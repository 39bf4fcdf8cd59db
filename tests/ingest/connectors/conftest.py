"""Shared fixtures for connector tests: seeded fake servers, fast-retry settings, a batch drain helper."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from core.identity import IdentityStore
from core.settings import Settings
from ingest.connectors.checkpoints import CheckpointedBatch, CheckpointStore
from tests.fakes.fake_confluence import FakeConfluence, Page

ONBOARDING = """
<h1>Onboarding</h1><p>Welcome to the <strong>engineering</strong> team.</p>
<h2>First week</h2><ol><li>Get your laptop<ul><li>Mac</li><li>Linux</li></ul></li><li>Meet your buddy</li></ol>
<table><tbody><tr><th>System</th><th>Owner</th></tr><tr><td>VPN</td><td>IT desk</td></tr>
<tr><td>Payroll</td><td>HR</td></tr></tbody></table>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[git clone git@example.com:kura.git && make setup]]></ac:plain-text-body></ac:structured-macro>
"""


def fast_settings(tmp_path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path / "data", connector_max_attempts=3, connector_backoff_base_s=0.01,
                  connector_backoff_max_s=5.0, connector_timeout_s=5, connector_batch_size=2)
    values.update(overrides)
    return Settings(**values)


def drain(batches: Iterable[CheckpointedBatch], store: CheckpointStore, stop_after: int | None = None):
    """Consume a connector's batches as the sync does: 'index' (collect) then commit. Optionally crash early."""
    taken = []
    for batch in batches:
        if stop_after is not None and len(taken) == stop_after:
            break  # a crash before this batch was indexed: nothing of it is committed
        taken.append(batch)
        store.commit(batch)
    return taken


def docs_of(batches) -> dict:
    return {d.id: d for b in batches for d in b.documents}


def deleted_of(batches) -> list[str]:
    return [i for b in batches for i in b.deleted_ids]


def seed_confluence(fake: FakeConfluence) -> None:
    fake.add_user("u-aiko", "aiko@example.com", "Aiko Tanaka")
    fake.add_user("u-ben", "ben@example.com", "Ben Ito")
    fake.add_user("u-chen", "chen@example.com", "Chen Wu")
    fake.groups = {"staff": ["u-aiko", "u-ben", "u-chen"], "hr-team": ["u-aiko"]}
    fake.add_space("ENG", "Engineering", read_groups=["staff"])
    fake.add_space("HR", "People", read_groups=["staff"])
    fake.add_space("OLD", "Archive", read_groups=["staff"])
    fake.add_page(Page("100", "ENG", "Onboarding guide", ONBOARDING, labels=["onboarding", "howto"]))
    fake.add_page(Page("101", "ENG", "Laptop setup", "<p>Install the VPN client before day one.</p>", parent="100"))
    fake.add_page(Page("102", "ENG", "Release notes May", "<p>Kura 1.2 ships hybrid search.</p>", type="blogpost"))
    fake.add_page(Page("200", "HR", "Salary bands", "<p>Band L3 pays 70k to 90k.</p>", read_groups=["hr-team"]))
    fake.add_page(Page("201", "HR", "Bonus policy", "<p>Bonus is paid in March.</p>", parent="200",
                       read_users=["u-aiko", "u-ben"]))
    fake.add_page(Page("202", "HR", "経費精算ガイド",
                       "<h1>経費精算</h1><p>経費精算は毎月25日までに申請してください。領収書の原本は経理部へ提出します。</p>"))
    fake.add_page(Page("300", "OLD", "Old stuff", "<p>Nobody reads this.</p>"))


@pytest.fixture
def confluence():
    fake = FakeConfluence()
    seed_confluence(fake)
    with fake:
        yield fake


@pytest.fixture
def confluence_settings(tmp_path, confluence):
    return fast_settings(tmp_path, confluence_url=f"{confluence.url}/wiki", confluence_username=confluence.username,
                         confluence_token=confluence.token, confluence_spaces=["ENG", "HR"])


@pytest.fixture
def state(confluence_settings):
    """(checkpoint store, identity store) under the test's state dir."""
    s = confluence_settings
    return CheckpointStore.in_state_dir(s.state_dir), IdentityStore(s.state_dir / "identity.sqlite")
