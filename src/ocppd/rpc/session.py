"""An OCPP-J session over any transport: the asyncio layer around `RpcConnection`.

The transport feeds received text to `receive` and gives `send`, a coroutine that writes
text. Calls we make go out one at a time (`call` waits its turn); calls we receive are
handled one at a time, in order, in a task of their own, so the two directions never wait
for each other: a handler may itself `call` the peer.

Except the actions named `answered_in_reader`: their handlers never wait for the peer (they
make no call to it, and wait for nothing that only its next frame would bring), so
`receive` answers them itself when no other call is being answered and no call of ours
waits for the peer's answer. Until it returns the transport reads nothing more from the
peer, which OCPP's one call outstanding allows: the peer has nothing to send meanwhile but
pings and pongs, which the transport handles below the session. (Were the peer to send a
frame anyway, the transport would stop reading until the handler is done, pongs included.)
A task and its hand-over less per call (decision 0002, "Applied (12)").
"""

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ocppd.protocol.actions import Registry, Role, spec_for_request
from ocppd.protocol.errors import CallErrorReceived, InternalError, OCPPError, PayloadError
from ocppd.protocol.fields import Payload
from ocppd.protocol.leniency import Repair
from ocppd.rpc.connection import (
    Dropped,
    IncomingCall,
    IncomingError,
    IncomingResult,
    Options,
    Reply,
    RpcConnection,
    UniqueIds,
)
from ocppd.rpc.log_budget import offences

log = logging.getLogger("ocppd.rpc")

Handler = Callable[[Any], Awaitable[Any] | Any]
Send = Callable[[bytes], Awaitable[None]]


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class Traffic:
    """One frame in or out, with what the session knows of it (for logs and counters)."""

    direction: Direction
    data: bytes | str
    message_type: int | None
    unique_id: str | None
    action: str | None


FrameObserver = Callable[[Traffic], None]


class BoundHandlers(Mapping[str, Handler]):
    """The handlers of one object by action, from a table of method names shared by its class:
    one small object per connection instead of a dict of bound methods (decision 0002)."""

    __slots__ = ("_names", "_owner")

    def __init__(self, owner: object, names: Mapping[str, str]) -> None:
        self._owner = owner
        self._names = names

    def __getitem__(self, action: str) -> Handler:
        handler: Handler = getattr(self._owner, self._names[action])
        return handler

    def __contains__(self, action: object) -> bool:
        return action in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class CallTimeout(TimeoutError):
    """The peer did not answer our call in time."""


class SessionClosed(ConnectionError):
    """The session was closed while a call waited for its answer."""


class Session:
    def __init__(
        self,
        role: Role,
        send: Send,
        *,
        handlers: Mapping[str, Handler] | None = None,
        registry: Registry | None = None,
        options: Options | None = None,
        response_timeout: float = 30.0,
        name: str = "",
        ids: UniqueIds | None = None,
        observer: FrameObserver | None = None,
        max_queued_calls: int = 100,
        answered_in_reader: Collection[str] = frozenset(),
    ) -> None:
        # Kept as given (a `BoundHandlers` is one small object per connection); `on` adds to a
        # dict of the session's own.
        self.handlers: Mapping[str, Handler] = handlers if handlers is not None else {}
        self._own_handlers: dict[str, Handler] | None = None
        self.connection = RpcConnection(role, self.handlers.keys(), registry, options, ids)
        self.response_timeout = response_timeout
        self.name = name
        self._send = send
        self._observer = observer
        self._call_lock = asyncio.Lock()
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        # Calls received and not answered yet: one or two at a time, so a list (56 bytes
        # empty; a deque is 624 and so is an Event's, per idle connection).
        self._calls: list[IncomingCall] = []
        # A peer may send calls faster than they are answered (OCPP allows one at a time):
        # past this many, `receive` waits, which stops reading from the socket.
        self.max_queued_calls = max_queued_calls
        self._room: asyncio.Future[None] | None = None  # only while `receive` waits
        self._worker: asyncio.Task[None] | None = None
        self._closed: BaseException | None = None
        self.answered_in_reader = answered_in_reader

    def on(self, action: str) -> Callable[[Handler], Handler]:
        """Register a handler for incoming calls of `action` (a decorator)."""

        def register(handler: Handler) -> Handler:
            own = self._own_handlers
            if own is None:
                own = self._own_handlers = dict(self.handlers)
                self.handlers = own
                self.connection.handled = own.keys()
            own[action] = handler
            return handler

        return register

    # Our calls

    async def call(self, request: Payload, timeout: float | None = None) -> Any:
        """Send `request` and return the peer's validated response payload.

        `timeout` (default: the session's response timeout) counts from this call, including
        the wait for earlier calls to be answered (one outstanding call at a time).

        Raises CallErrorReceived (the peer's CALLERROR), PayloadError (our request, or the
        peer's response, is invalid), CallTimeout or SessionClosed.
        """
        name = spec_for_request(request).name
        wait = self.response_timeout if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + wait
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that arrives together with the answer.
            async with asyncio.timeout_at(deadline):
                await self._call_lock.acquire()
        except TimeoutError:
            raise CallTimeout(
                f"{name} not sent: earlier calls were still unanswered after {wait} s"
            ) from None
        try:
            return await self._send_call(request, name, deadline, wait)
        finally:
            self._call_lock.release()

    async def _send_call(self, request: Payload, name: str, deadline: float, wait: float) -> Any:
        if self._closed is not None:
            raise SessionClosed(f"Session {self.name} is closed") from self._closed
        unique_id, data = self.connection.start_call(request)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[unique_id] = future
        try:
            await self._write(data, 2, unique_id, name)
            async with asyncio.timeout_at(deadline):
                return await future
        except TimeoutError:
            raise CallTimeout(f"No answer to {name} {unique_id} within {wait} s") from None
        finally:
            self._waiting.pop(unique_id, None)
            self.connection.forget_call(unique_id)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" at exit

    # What the peer sends

    async def receive(self, data: bytes | str) -> None:
        """Feed one received text frame. A call of an action `answered_in_reader` is answered
        before this returns, unless earlier calls are still being answered (it then waits its
        turn behind them, in the task that answers them) or a call of ours waits for the
        peer's answer (which must not wait behind the handler)."""
        event = self.connection.receive(data)
        if self._observer is not None:
            self._observe_received(data, event)
        if isinstance(event, IncomingCall):
            if event.repairs:
                self._log_repairs(event.spec.name, event.repairs, data)
            if (
                self._worker is None
                and not self._calls
                and not self._waiting
                and event.spec.name in self.answered_in_reader
            ):
                await self._answer(event)
                return
            self._calls.append(event)
            if self._worker is None:
                self._worker = asyncio.create_task(self._answer_calls())
            if len(self._calls) >= self.max_queued_calls:
                self._room = asyncio.get_running_loop().create_future()
                await self._room
        elif isinstance(event, IncomingResult | IncomingError):
            self._settle(event)
        elif isinstance(event, Reply):
            offences.log(
                log,
                logging.WARNING,
                self.name,
                "%s: answered %s: %s in %r",
                self.name,
                event.error.code.value,
                event.error.description,
                _preview(data),
            )
            await self._write(event.data, 4, event.unique_id, event.action)
        elif isinstance(event, Dropped):
            offences.log(
                log, logging.WARNING, self.name, "%s: dropped: %s", self.name, event.reason
            )

    def _settle(self, event: IncomingResult | IncomingError) -> None:
        future = self._waiting.get(event.unique_id)
        if future is None or future.done():
            log.warning("%s: late answer to %s dropped", self.name, event.unique_id)
            return
        if isinstance(event, IncomingResult):
            if event.repairs:
                self._log_repairs(event.spec.name, event.repairs, "")
            future.set_result(event.payload)
        else:
            future.set_exception(event.error)

    async def settled(self) -> None:
        """Return once the calls received so far are answered (the answers written) and the
        call of ours in flight has its answer or failed: a charger that hangs up after a
        command, to reconnect, answers it first, and leaves a peer that reads one frame at
        a time no answer of its own still to write."""
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task():
            await asyncio.wait({worker})
        waiting = [future for future in self._waiting.values() if not future.done()]
        if waiting:
            await asyncio.wait(waiting)

    async def _answer_calls(self) -> None:
        try:
            while self._calls:
                call = self._calls.pop(0)
                if len(self._calls) < self.max_queued_calls:
                    self._make_room()
                await self._answer(call)
        finally:
            self._worker = None
            self._make_room()

    def _make_room(self) -> None:
        if self._room is not None and not self._room.done():
            self._room.set_result(None)
        self._room = None

    async def _answer(self, call: IncomingCall) -> None:
        handler = self.handlers[call.spec.name]
        message_type = 3
        try:
            response = handler(call.payload)
            if inspect.isawaitable(response):
                response = await response
        except OCPPError as exc:
            data = self.connection.error(call.unique_id, exc)
            message_type = 4
        except Exception:
            log.exception("%s: handler for %s failed", self.name, call.spec.name)
            error = InternalError(f"Processing {call.spec.name} failed")
            data = self.connection.error(call.unique_id, error)
            message_type = 4
        else:
            try:
                data = self.connection.result(call.unique_id, response)
            except (PayloadError, TypeError) as exc:
                log.error(
                    "%s: invalid %s response not sent (%s): %r",
                    self.name,
                    call.spec.name,
                    exc,
                    response,
                )
                error = InternalError(f"Processing {call.spec.name} failed")
                data = self.connection.error(call.unique_id, error)
                message_type = 4
        if self._closed is None:  # closed while the handler ran: the answer has nowhere to go
            await self._write(data, message_type, call.unique_id, call.spec.name)

    async def _write(
        self, data: bytes, message_type: int, unique_id: str | None, action: str | None
    ) -> None:
        if self._observer is not None:
            self._observer(Traffic(Direction.OUT, data, message_type, unique_id, action))
        await self._send(data)

    def _observe_received(self, data: bytes | str, event: object) -> None:
        assert self._observer is not None
        known: tuple[int | None, str | None, str | None]
        if isinstance(event, IncomingCall):
            known = (2, event.unique_id, event.spec.name)
        elif isinstance(event, IncomingResult):
            known = (3, event.unique_id, event.spec.name)
        elif isinstance(event, IncomingError):
            kind = 4 if isinstance(event.error, CallErrorReceived) else 3
            known = (kind, event.unique_id, event.spec.name)
        elif isinstance(event, Reply):
            known = (2, event.unique_id, event.action)
        else:
            known = (None, None, None)
        self._observer(Traffic(Direction.IN, data, *known))

    def _log_repairs(self, action: str, repairs: list[Repair], data: bytes | str) -> None:
        rules = ", ".join(f"{r.rule.value} at {r.path}" for r in repairs)
        log.warning("%s: tolerated in %s: %s; frame %r", self.name, action, rules, _preview(data))

    # Lifetime

    async def close(self, reason: BaseException | None = None) -> None:
        """Fail the calls that wait for an answer and stop answering."""
        self._closed = reason or SessionClosed(f"Session {self.name} closed")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SessionClosed(f"Session {self.name} closed"))
        self._calls.clear()
        self._make_room()
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task():
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    @property
    def closed(self) -> bool:
        return self._closed is not None


def _preview(data: bytes | str, limit: int = 300) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + "..."
