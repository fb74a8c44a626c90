"""Fixtures of the notifications use-case tests (helpers are in ``given``)."""

from __future__ import annotations

import pytest

from services.runtime.testing import FakeStore
from tests.fakes.notifications import FakeNotificationsRepository

from .given import Store


@pytest.fixture
def store() -> Store:
    return FakeStore(FakeNotificationsRepository())
