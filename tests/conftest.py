"""Hooks of the whole test session."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocppd.rpc.log_budget import offences
from tests.cluster_nodes import cluster, cluster_database  # noqa: F401 (fixtures for every test)
from tests.databases import TEMPLATES, empty_postgres_database  # noqa: F401 (a fixture too)
from tests.redis_server import redis_client, redis_server  # noqa: F401 (fixtures too)


def pytest_sessionfinish(session: pytest.Session) -> None:
    TEMPLATES.drop()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker takes one test at a time from the shared queue (unless
    `--maxschedchunk` is given). Its default hands each worker a quarter of its share at once,
    in collection order: the first worker got all the `slow` tests (sorted first, 86 of 2,108,
    more than half of the suite's time) and ran them alone for minutes after the other had
    finished everything else."""
    if config.pluginmanager.has_plugin("xdist") and config.getoption("maxschedchunk") is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first: with two workers, a test of 20 s started last kept one
    worker busy alone for as long. With one test at a time per worker (`pytest_configure`),
    the two workers share them and then the quick ones, and end together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def fresh_log_budget() -> Iterator[None]:
    """Each test starts with every charger's log budget whole (it is per process)."""
    offences.clear()
    yield


@pytest.fixture(autouse=True)
def own_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's default data dir (`Settings()`, a started `ocppd`) is under its own
    temporary directory, never the user's `~/.local/share/ocppd`: where `make serve` keeps
    its database and files (a test's firmware upload once landed there)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("OCPPD_DATA_DIR", raising=False)
