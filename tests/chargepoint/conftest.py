from collections.abc import AsyncIterator, Iterator

import pytest

from tests.chargepoint.central import CentralSystem


@pytest.fixture
async def central() -> AsyncIterator[CentralSystem]:
    async with CentralSystem() as running:
        yield running


@pytest.fixture(autouse=True)
def transitions_follow_the_state_machine(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No test may drive a connector through a transition outside section 7's table."""
    yield
    messages = [record.getMessage() for record in caplog.get_records("call")]
    assert not [text for text in messages if "is not in the state machine" in text]
