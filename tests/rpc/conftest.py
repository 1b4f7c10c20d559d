from collections.abc import AsyncIterator

import pytest

from tests.rpc.memory import Link


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    joined = Link()
    yield joined
    await joined.close()
