"""Fixtures for connector tests: the fake servers, seeded (see tests/fakes/seeds.py) and running on loopback."""

from __future__ import annotations

import pytest

from tests.fakes.fake_confluence import FakeConfluence
from tests.fakes.fake_google import FakeGoogle
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.seeds import seed_confluence, seed_google, seed_slack


@pytest.fixture
def confluence():
    fake = FakeConfluence()
    seed_confluence(fake)
    with fake:
        yield fake


@pytest.fixture
def google():
    fake = FakeGoogle()
    seed_google(fake)
    with fake:
        yield fake


@pytest.fixture
def slack():
    fake = FakeSlack()
    fake.threads = seed_slack(fake)
    with fake:
        yield fake
