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
from ocppd.csms.charging_profiles import ProfileRefused
from ocppd.csms.cluster import ClusterUnavailable, RemoteFailure, StaleFence
from ocppd.csms.local_list_limits import LocalListTooLong
from ocppd.csms.reservations import ReservationRefused
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
    ProblemException saying why not."""
    try:
        return await system.call(charge_point_id, request, timeout, force)
    except NotConnected:
        async with system.engine.connect() as db:
            known = await registration.load(db, charge_point_id) is not None
        if not known:
            raise _problem(404, f"unknown charge point {charge_point_id!r}") from None
        raise _problem(409, f"charge point {charge_point_id!r} is not connected") from None
    except registration.CommandRefused as error:
        raise _problem(409, f"not sent: {error}") from None
    except (ProfileRefused, LocalListTooLong, ReservationRefused) as error:
        raise _problem(400, f"not sent: {error}") from None
    except SessionClosed:
        raise _problem(409, f"charge point {charge_point_id!r} disconnected") from None
    except StaleFence as error:
        raise _problem(409, f"not sent: {error}") from None
    except ClusterUnavailable as error:
        raise _problem(503, f"not sent: {error}") from None
    except RemoteFailure as error:
        raise _problem(500, f"the node holding {charge_point_id!r} failed: {error}") from None
    except CallErrorReceived as error:
        raise ProblemException(
            Problem(
                status=502,
                error=f"the charge point answered {error.wire_code}",
                code=error.wire_code,
                description=error.description,
                details=error.details,
            )
        ) from None
    except PayloadError as error:
        # Our request was checked before it left: this is the charge point's answer.
        raise ProblemException(
            Problem(
                status=502,
                error=f"invalid response from the charge point: {error.description}",
                field=error.path,
                reason=error.reason,
                code=error.code.value,
            )
        ) from None
    except CallTimeout as error:
        raise _problem(504, str(error)) from None


def _problem(status: int, error: str) -> ProblemException:
    return ProblemException(Problem(status=status, error=error))
