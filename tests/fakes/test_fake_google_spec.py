"""The fake Drive answers what real Drive would: 400 for requests its discovery document does not allow,
401 without a token, invalid_grant for a JWT not signed by the test's key, and only the fields asked for."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.fake_google import DriveFile, FakeGoogle, service_account_file


@pytest.fixture
def drive():
    fake = FakeGoogle()
    fake.add(DriveFile("doc-1", "One", ["team"], html="<p>one</p>"))
    with fake:
        fake.valid_tokens.add("good-token")
        yield fake


def get(fake, path, token="good-token", **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(fake.url + path, params=params, headers=headers)


def test_missing_auth_is_401(drive):
    response = get(drive, "/drive/v3/files", token=None, q="trashed = false")
    assert response.status_code == 401 and response.json()["error"]["errors"][0]["reason"] == "authError"


def test_unknown_parameter_and_oversize_page_are_400(drive):
    unknown = get(drive, "/drive/v3/files", includeTrash="true")
    assert unknown.status_code == 400 and 'Unknown name "includeTrash"' in unknown.json()["error"]["message"]
    assert get(drive, "/drive/v3/files/doc-1/permissions", pageSize=101).status_code == 400  # at most 100
    assert get(drive, "/admin/directory/v1/groups/g@example.com/members", maxResults=500).status_code == 400


def test_fields_mask_is_applied_and_checked(drive):
    body = get(drive, "/drive/v3/files", fields="files(id,name)").json()
    assert body == {"files": [{"id": "doc-1", "name": "One"}]}
    default = get(drive, "/drive/v3/files/doc-1").json()
    assert set(default) == {"kind", "id", "name", "mimeType"}  # Drive's defaults: no parents, no version
    bad = get(drive, "/drive/v3/files", fields="files(id,colour)")
    assert bad.status_code == 400 and "Invalid field selection colour" in bad.json()["error"]["message"]


def test_token_endpoint_verifies_the_jwt_against_the_key_the_test_wrote(drive, tmp_path):
    import google.auth.transport.requests
    from google.auth.exceptions import RefreshError
    from google.oauth2 import service_account

    key = tmp_path / "sa.json"
    service_account_file(key, f"{drive.url}/token")  # written, but not trusted by this fake
    scopes = ["https://www.googleapis.com/auth/drive.readonly"]
    credentials = service_account.Credentials.from_service_account_info(json.loads(key.read_text()), scopes=scopes)
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(google.auth.transport.requests.Request())

    drive.trust_key_file(key)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token in drive.valid_tokens
