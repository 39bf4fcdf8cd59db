"""Seed data and settings for the fake Confluence, Google and Slack servers, shared by connector, sync and CLI tests."""

from __future__ import annotations

from core.settings import Settings
from tests.fakes.fake_confluence import FakeConfluence, Page
from tests.fakes.fake_google import FOLDER, DriveFile, FakeGoogle, service_account_file
from tests.fakes.fake_slack import Channel, FakeSlack

ONBOARDING = """
<h1>Onboarding</h1><p>Welcome to the <strong>engineering</strong> team.</p>
<h2>First week</h2><ol><li>Get your laptop<ul><li>Mac</li><li>Linux</li></ul></li><li>Meet your buddy</li></ol>
<table><tbody><tr><th>System</th><th>Owner</th></tr><tr><td>VPN</td><td>IT desk</td></tr>
<tr><td>Payroll</td><td>HR</td></tr></tbody></table>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[git clone git@example.com:kura.git && make setup]]></ac:plain-text-body></ac:structured-macro>
"""

HANDBOOK = """<html><head><style>.c1{font-weight:700}</style></head><body>
<p class="title"><span>Employee handbook</span></p>
<h1 id="h.leave1"><span>Leave policy</span></h1><p><span>Everyone gets 25 days of paid leave per year.</span></p>
<h2 id="h.sick2"><span>Sick leave</span></h2><ul class="lst-kix_a-0"><li><span>Tell your manager</span></li></ul>
<ul class="lst-kix_a-1"><li><span>Before 10:00</span></li></ul>
<table><tr><td><p>Region</p></td><td><p>Days</p></td></tr><tr><td><p>Japan</p></td><td><p>20</p></td></tr></table>
</body></html>"""


def fast_settings(tmp_path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path / "data", connector_max_attempts=3, connector_backoff_base_s=0.01,
                  connector_backoff_max_s=5.0, connector_timeout_s=5, connector_batch_size=2)
    values.update(overrides)
    return Settings(**values)


# --- Confluence -------------------------------------------------------------------------------
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


def confluence_settings_for(fake: FakeConfluence, tmp_path, **overrides) -> Settings:
    values = dict(confluence_url=f"{fake.url}/wiki", confluence_username=fake.username, confluence_token=fake.token,
                  confluence_spaces=["ENG", "HR"])
    return fast_settings(tmp_path, **{**values, **overrides})



# --- Google ----------------------------------------------------------------------------------
def seed_google(fake: FakeGoogle) -> None:
    fake.add(DriveFile("team", "Team folder", [], mime=FOLDER))
    fake.add(DriveFile("sub", "Plans", ["team"], mime=FOLDER))
    fake.add(DriveFile("doc-handbook", "Employee handbook", ["team"], html=HANDBOOK,
                       permissions=[{"id": "p1", "type": "domain", "domain": "example.com", "role": "reader"}]))
    fake.add(DriveFile("doc-plan", "Acquisition plan", ["sub"],
                       html='<h1 id="h.p">Plan</h1><p>We acquire Tanuki Corp in Q4.</p>',
                       permissions=[{"id": "p2", "type": "group", "emailAddress": "execs@example.com", "role": "reader"},
                                    {"id": "p3", "type": "user", "emailAddress": "Aiko@example.com", "role": "owner"}]))
    fake.add(DriveFile("doc-ja", "在宅勤務規程", ["team"],
                       html="<h1 id='h.j'>在宅勤務</h1><p>在宅勤務は週三日まで認められます。事前に上長の承認が必要です。</p>",
                       permissions=[{"id": "p4", "type": "anyone", "role": "reader"}]))
    fake.add(DriveFile("doc-elsewhere", "Not in scope", ["other-folder"], html="<p>private notes</p>",
                       permissions=[{"id": "p5", "type": "anyone", "role": "reader"}]))
    fake.groups = {"execs@example.com": ["ben@example.com", "aiko@example.com"]}


def google_settings_for(fake: FakeGoogle, tmp_path, **overrides) -> Settings:
    key = tmp_path / "service-account.json"
    if not key.exists():
        service_account_file(key, f"{fake.url}/token")
    fake.trust_key_file(key)
    values = dict(google_credentials_file=key, google_folder_ids=["team"], google_api_base_url=f"{fake.url}/")
    return fast_settings(tmp_path, **{**values, **overrides})



# --- Slack -----------------------------------------------------------------------------------
def seed_slack(fake: FakeSlack) -> dict[str, str]:
    """Returns the ts of the seeded threads by a short name."""
    fake.add_user("U1", "Aiko Tanaka", "aiko@example.com")
    fake.add_user("U2", "Ben Ito", "ben@example.com")
    fake.add_user("U3", "Chen Wu", "chen@example.com")
    fake.channels["C1"] = Channel("C1", "general", members=["U1", "U2", "U3"])
    fake.channels["C2"] = Channel("C2", "random", members=["U1"], bot_member=False)
    fake.channels["G1"] = Channel("G1", "leadership", private=True, members=["U1", "U2"])
    ts = {}
    ts["vpn"] = fake.post("C1", "U1", "Where is the <https://wiki.example.com/vpn|VPN guide>? cc <@U2>")
    fake.reply("C1", ts["vpn"], "U2", "See <#C1|general> pinned: run `vpn-setup.sh` &amp; reboot")
    ts["lunch"] = fake.post("C1", "U3", "Lunch at noon?")
    ts["ja"] = fake.post("C1", "U1", "来週の全社会議は木曜日の午後3時から大会議室で開催します。")
    ts["layoffs"] = fake.post("G1", "U1", "The reorg is planned for Q3; keep this confidential.")
    fake.post("C2", "U1", "cat pictures")
    return ts


def slack_settings_for(fake: FakeSlack, tmp_path, **overrides) -> Settings:
    values = dict(slack_bot_token=fake.token, slack_api_url=f"{fake.url}/api/")
    return fast_settings(tmp_path, **{**values, **overrides})
