"""The live event stream: server-sent events at /api/v1/events (viewer role).

Each event is `event: <type>` with `data: {"type", "chargePointId", "at", ...}`: Connected,
Disconnected, BootNotification, StatusNotification, TransactionStarted, TransactionStopped,
TransactionReconciled (a transaction the charger forgot, closed by ocppd: transactionId,
connectorId, reason "reconciled", stoppedAt, evidence), MeterValues, CommandResult (the
action and the charge point's response), CommandFailed (the action and why),
CompositeScheduleChecked (a GetCompositeSchedule answer against ocppd's prediction:
connectorId, matches, the mismatch), SiteProfileFailed (site load management: a charger
refused its share). `?chargePointId=` keeps one charge point's events. A comment line
every KEEPALIVE seconds keeps idle proxies from closing the stream. A client too slow to keep
up is disconnected (the bus ends its subscription) and may reconnect; events in between are
lost.

In a cluster the stream carries the events of every node (per charge point in order); it
starts once every node forwards its events here (at most about a second), and answers 503
with the reason while Redis cannot be reached. An open stream ends when Redis is lost (a
comment line says why): events of other nodes would be missed.
"""

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.csms.cluster import ClusterUnavailable
from ocppd.csms.events import Event, Subscription
from ocppd.csms.metrics import Metrics

KEEPALIVE = 15.0


def _message(event: Event) -> ServerSentEventMessage:
    data = {"type": event.type, "chargePointId": event.charge_point_id, "at": event.at}
    return ServerSentEventMessage(
        data=msgspec.json.encode({**data, **event.data}).decode(), event=event.type
    )


async def _stream(
    subscription: Subscription, charge_point_id: str | None, metrics: Metrics
) -> AsyncGenerator[Any, None]:
    """The events of `subscription`; counted as an event stream open while it runs."""
    metrics.event_stream_opened()
    try:
        # Sent at once, so a client knows the subscription is in place.
        yield ServerSentEventMessage(comment="subscribed", data=None)
        while True:
            try:
                event = await subscription.next(KEEPALIVE)
            except StopAsyncIteration:
                if subscription.ended_because is not None:
                    yield ServerSentEventMessage(
                        comment=f"ended: {subscription.ended_because}", data=None
                    )
                return
            if event is None:
                yield ServerSentEventMessage(comment="keepalive", data=None)
            elif charge_point_id is None or event.charge_point_id == charge_point_id:
                yield _message(event)
    finally:
        subscription.close()
        metrics.event_stream_closed()


@get("/events", tags=["events"], media_type="text/event-stream", responses=documented(503))
async def events(
    system: System,
    charge_point_id: Annotated[str | None, QueryParameter(name="chargePointId")] = None,
) -> ServerSentEvent:
    """Server-sent events (text/event-stream) of what happens in the central system."""
    subscription = system.events.subscribe()
    try:
        await system.cluster.receive_events()
    except ClusterUnavailable as error:
        subscription.close()
        raise ProblemException(
            Problem(status=503, error=f"events of other nodes cannot reach this node: {error}")
        ) from None
    return ServerSentEvent(_stream(subscription, charge_point_id, system.metrics))


ROUTES = [events]
