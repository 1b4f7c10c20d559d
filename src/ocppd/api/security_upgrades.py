"""Raising a charger's security profile step by step (`csms/security_upgrade.py`).

`POST /charge-points/{id}/security-upgrade` {"profile": 2|3} starts it (202, operator: it only
ever raises the profile), once its preconditions hold (409 with the reason otherwise,
nothing sent); `GET` the same path shows the latest upgrade of that charger, step by step
(each step: name, status, time, detail), as stored by the node that runs it (any node answers;
one lost with its node shows failed once past its deadline). Each change is also published as
the event `SecurityUpgrade`.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Response, get, post
from litestar.params import JSONBody
from msgspec import UNSET, UnsetType

from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms.cluster import ClusterUnavailable
from ocppd.csms.security_upgrade import (
    Timeouts,
    UnknownChargePoint,
    Upgrade,
    UpgradeRefused,
)

CommandTimeout = Annotated[float, msgspec.Meta(ge=1, le=600)]
CertificateTimeout = Annotated[float, msgspec.Meta(ge=1, le=86_400)]
ReconnectionTimeout = Annotated[float, msgspec.Meta(ge=1, le=3_600)]
DEFAULT_CERTIFICATE_TIMEOUT = 600.0
DEFAULT_RECONNECTION_TIMEOUT = 300.0


class UpgradeRequest(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    profile: Literal[2, 3]
    """The security profile to raise the charger to."""
    root_certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=5500)] | UnsetType = (
        UNSET
    )
    """PEM: the root of ocppd's TLS server certificate, when it is not ocppd's own CA (an
    operator's CA, a public one). Default: ocppd's CA certificate (--ca-cert, else
    <data-dir>/ca/ca.pem)."""
    command_timeout: CommandTimeout | UnsetType = UNSET
    """Seconds for each command's answer (1 to 600); default: the server's response timeout."""
    certificate_timeout: CertificateTimeout = DEFAULT_CERTIFICATE_TIMEOUT
    """Profile 3: seconds from the trigger to the charger's acceptance of its signed
    certificate, an operator's approval included (1 to 86400)."""
    reconnection_timeout: ReconnectionTimeout = DEFAULT_RECONNECTION_TIMEOUT
    """Seconds from the profile's change to the connection on the new profile (1 to 3600)."""


class UpgradeStep(msgspec.Struct, rename="camel", kw_only=True):
    name: Literal[
        "InstallRootCertificate",
        "SignChargePointCertificate",
        "ChangeSecurityProfile",
        "ReconnectOnNewProfile",
    ]
    status: Literal["pending", "running", "done", "failed", "skipped"]
    at: datetime | None
    detail: str | None


class SecurityUpgrade(msgspec.Struct, rename="camel", kw_only=True):
    charge_point_id: str
    profile: int
    previous: int
    """Its stored profile when the upgrade started."""
    status: Literal["running", "succeeded", "failed"]
    started_at: datetime
    ended_at: datetime | None
    steps: list[UpgradeStep]


def _view(upgrade: Upgrade) -> SecurityUpgrade:
    return msgspec.convert(upgrade.shown(), SecurityUpgrade, from_attributes=False)


@post(
    "/charge-points/{chargePointId:str}/security-upgrade",
    status_code=202,
    opt=needs(Role.OPERATOR),
    tags=["charge points"],
    responses=documented(404, 409, 503),
)
async def start_upgrade(
    system: System, charge_point_id: ChargePointId, data: JSONBody[UpgradeRequest]
) -> Response[SecurityUpgrade]:
    """Start raising the charger's security profile; follow it with GET (or the event
    `SecurityUpgrade`)."""
    timeouts = Timeouts(
        command=system.settings.response_timeout
        if data.command_timeout is UNSET
        else data.command_timeout,
        certificate=data.certificate_timeout,
        reconnection=data.reconnection_timeout,
    )
    root = None if data.root_certificate is UNSET else data.root_certificate
    try:
        upgrade = await system.security_upgrades.start(
            charge_point_id, data.profile, timeouts, root
        )
    except UnknownChargePoint as error:
        raise ProblemException(Problem(status=404, error=str(error))) from None
    except UpgradeRefused as error:
        raise ProblemException(Problem(status=409, error=f"not started: {error}")) from None
    except ClusterUnavailable as error:
        raise ProblemException(Problem(status=503, error=str(error))) from None
    return Response(_view(upgrade), status_code=202)


@get(
    "/charge-points/{chargePointId:str}/security-upgrade",
    tags=["charge points"],
    responses=documented(404),
)
async def get_upgrade(system: System, charge_point_id: ChargePointId) -> SecurityUpgrade:
    """The latest security upgrade of the charger, step by step, whichever node runs it."""
    shown = await system.security_upgrades.shown(charge_point_id)
    if shown is None:
        raise ProblemException(
            Problem(status=404, error=f"no security upgrade of {charge_point_id!r}")
        )
    return msgspec.convert(shown, SecurityUpgrade, from_attributes=False)


ROUTES = [start_upgrade, get_upgrade]
