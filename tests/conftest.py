"""Hooks of the whole test session."""

import pytest

from tests.databases import TEMPLATES


def pytest_sessionfinish(session: pytest.Session) -> None:
    TEMPLATES.drop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first: with two workers, a test of 20 s started last kept one
    worker busy alone for as long."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
