"""Fixtures for the models tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def model_sessions(sessions):
    """A migrated database's session factory (the registry's tables come with migration 0003)."""
    return sessions
