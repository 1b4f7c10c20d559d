"""What the central system's parts (handlers, checks, recorders, the site controller) use of it.

They depend on this Protocol, not on `CentralSystem`, which satisfies it structurally: the
arrows point one way (central_system imports its parts, never the reverse;
tests/test_layers.py). Members are read-only here: a part uses them, it never replaces them.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from ocppd.csms.clock import Clock
from ocppd.csms.events import EventBus
from ocppd.csms.group_commit import GroupCommit
from ocppd.csms.settings import Settings

Check = Callable[[str, Any], Awaitable[None]]
"""Before a request goes out: (charge point, request); raises (e.g. ProfileRefused) when the
charge point would refuse it, and then nothing is sent."""
Recorder = Callable[[str, Any, Any, datetime], Awaitable[None]]
"""What the central system keeps of an answer: (charge point, request, response, sent at)."""


class SystemServices(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def writer(self) -> GroupCommit: ...
    @property
    def events(self) -> EventBus: ...
    @property
    def checks(self) -> dict[str, list[Check]]:
        """Per action, run by `CentralSystem.call` before sending; a part appends its own."""

    @property
    def recorders(self) -> dict[str, list[Recorder]]:
        """Per action, run by `CentralSystem.call` with the answer; a part appends its own."""
