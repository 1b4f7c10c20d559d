"""Hooks of the whole test session."""

import pytest

from tests.databases import TEMPLATES


def pytest_sessionfinish(session: pytest.Session) -> None:
    TEMPLATES.drop()
