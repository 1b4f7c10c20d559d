"""Sending one request to a connected charge point, with every way it can fail mapped to a
Problem: unknown charge point 404, not connected 409, not sent because of its boot status 409
(Pending: no remote start or stop; Rejected: nothing unless `force`), refused by a check before
sending (a charging profile the charger would refuse, a local list beyond its limits, a
reservation ocppd could not keep) 400, a CALLERROR or an invalid answer 502, no answer in time
504; the node holding it (in a cluster) unreachable 503, or failing otherwise 500."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar.params import QueryParameter

from ocppd.api.problems import Problem, ProblemException
from ocppd.api.system import System
from ocppd.csms import registration
from ocppd.csms.central_system import CentralSystem, NotConnected
from ocppd.csms.certificate_requests import ChainTooLong
from ocppd.csms.charging_profiles import ProfileRefused
from ocppd.csms.cluster import ClusterUnavailable, RemoteFailure, StaleFence
from ocppd.csms.local_list_limits import LocalListTooLong
from ocppd.csms.reservations import ReservationRefused
from ocppd.protocol.actions import spec_for_request
from ocppd.protocol.errors import CallErrorReceived, PayloadError
from ocppd.rpc.session import CallTimeout, SessionClosed

Force = Annotated[
    bool,
    QueryParameter(
        description="Send even though the charge point's boot was Rejected (OCPP 1.6: commands "
        "SHOULD NOT be sent to it; without force that is a 409). Never lifts the ban on "
        "RemoteStart/RemoteStopTransaction while its boot is Pending."
    ),
]

FollowUp = Callable[[CentralSystem, str, Any, Any], Awaitable[None]]
"""What the central system keeps of an answer: (system, charge point, request, response)."""


async def send(
    system: System,
    charge_point_id: str,
    request: Any,
    timeout: float | None,
    force: bool = False,
) -> Any:
    """The charge point's response to `request` (sent by whichever node holds it), or a
    ProblemException saying why not; either way counted by action and outcome
    (`ocppd_commands_total`)."""
    action = spec_for_request(request).name
    try:
        response = await system.call(charge_point_id, request, timeout, force)
    except NotConnected:
        async with system.engine.connect() as db:
            known = await registration.load(db, charge_point_id) is not None
        if not known:
            system.metrics.command(action, "unknown_charge_point")
            raise _problem(404, f"unknown charge point {charge_point_id!r}") from None
        system.metrics.command(action, "not_connected")
        raise _problem(409, f"charge point {charge_point_id!r} is not connected") from None
    except Exception as error:
        outcome, problem = _failure(charge_point_id, error)
        system.metrics.command(action, outcome)
        if problem is None:
            raise
        raise problem from None
    system.metrics.command(action, "answered")
    return response


def _failure(charge_point_id: str, error: Exception) -> tuple[str, ProblemException | None]:
    """Why `CentralSystem.call` failed: the outcome (`ocppd_commands_total`'s label, beside
    answered, unknown_charge_point and not_connected) and the Problem that answers it; an
    error none answers is `failed` and goes on as it is."""
    if isinstance(error, registration.CommandRefused):
        return "refused", _problem(409, f"not sent: {error}")
    if isinstance(error, ProfileRefused | LocalListTooLong | ReservationRefused | ChainTooLong):
        return "not_sent", _problem(400, f"not sent: {error}")
    if isinstance(error, SessionClosed):
        return "not_connected", _problem(409, f"charge point {charge_point_id!r} disconnected")
    if isinstance(error, StaleFence):
        return "stale_fence", _problem(409, f"not sent: {error}")
    if isinstance(error, ClusterUnavailable):
        return "unavailable", _problem(503, f"not sent: {error}")
    if isinstance(error, RemoteFailure):
        return "failed", _problem(500, f"the node holding {charge_point_id!r} failed: {error}")
    if isinstance(error, CallErrorReceived):
        return "call_error", ProblemException(
            Problem(
                status=502,
                error=f"the charge point answered {error.wire_code}",
                code=error.wire_code,
                description=error.description,
                details=error.details,
            )
        )
    if isinstance(error, PayloadError):
        # Our request was checked before it left: this is the charge point's answer.
        return "invalid_answer", ProblemException(
            Problem(
                status=502,
                error=f"invalid response from the charge point: {error.description}",
                field=error.path,
                reason=error.reason,
                code=error.code.value,
            )
        )
    if isinstance(error, CallTimeout):
        return "timeout", _problem(504, str(error))
    return "failed", None


def _problem(status: int, error: str) -> ProblemException:
    return ProblemException(Problem(status=status, error=error))
