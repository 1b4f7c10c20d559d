from collections.abc import AsyncIterator

import pytest

from tests.chargepoint.central import CentralSystem


@pytest.fixture
async def central() -> AsyncIterator[CentralSystem]:
    async with CentralSystem() as running:
        yield running
