"""Commands: POST /charge-points/{id}/commands/{Action}, one route per action a central
system sends, with that action's request as the body and the charge point's response as
the answer.

The body is decoded by the protocol's own codec (the one that checks what a charger sends),
so an invalid request is refused with 400, naming the field, before anything is sent (a date
without a UTC time too: `fields.check_utc_time`). Then:
unknown charge point 404 (an unknown action too, naming the valid ones), not connected 409,
not sent because of the charge point's boot status 409 (Pending: RemoteStart/
RemoteStopTransaction; Rejected: any command unless `?force=true`), a CALLERROR 502, no answer
in time 504 (see `sending`). An answer is stored by the action's follow-up, if it has one
(reservations, configuration, local lists), before the route returns it.
"""

import difflib
from typing import Annotated, Any

from litestar import post, route
from litestar.dto import MsgspecDTO
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter

from ocppd.api import configuration, local_lists, reservations
from ocppd.api.auth import needs
from ocppd.api.charge_points import ChargePointId
from ocppd.api.operator_input import NOT_A_URI, OCPP_PAYLOAD, URI, invalid
from ocppd.api.problems import Problem, ProblemException, documented
from ocppd.api.sending import FollowUp, Force, send
from ocppd.api.system import System
from ocppd.api.tokens import Role
from ocppd.csms.authorization_key import hidden_in_answer
from ocppd.protocol.actions import CORE, SECURITY, ActionSpec
from ocppd.protocol.actions import Role as Sender

# What the central system keeps of a command's answer (the flows behind the commands).
FOLLOW_UPS: dict[str, FollowUp] = {
    **reservations.FOLLOW_UPS,
    **configuration.FOLLOW_UPS,
    **local_lists.FOLLOW_UPS,
}

ACTIONS: list[ActionSpec] = [
    spec for spec in (*CORE.values(), *SECURITY.values()) if spec.sent_by(Sender.CENTRAL_SYSTEM)
]
"""The core actions a central system sends, then the security extension's (a charger whose
`securityExtension` is false is not sent those: `CentralSystem.call`)."""

Timeout = Annotated[
    float | None,
    QueryParameter(
        ge=1,
        le=600,
        description="Seconds to wait for the answer (1 to 600); default: the server's "
        "response timeout.",
    ),
]


def _body(spec: ActionSpec) -> type[MsgspecDTO[Any]]:
    """A DTO that decodes with the protocol codec and documents the request type as-is
    (camelCase names, as on the wire)."""

    def decode_bytes(self: Any, value: bytes) -> Any:
        request = spec.request_codec.decode(value)
        location = getattr(request, "location", None)
        if isinstance(location, str) and not URI.fullmatch(location):
            raise invalid("$.location", NOT_A_URI)
        return request

    def create_openapi_schema(
        cls: Any, field_definition: Any, handler_id: str, schema_creator: Any
    ) -> Any:
        return schema_creator.for_field_definition(field_definition)

    dto: Any = MsgspecDTO
    return type(
        f"{spec.name}Body",
        (dto[spec.request],),
        {"decode_bytes": decode_bytes, "create_openapi_schema": classmethod(create_openapi_schema)},
    )


def _route(spec: ActionSpec) -> HTTPRouteHandler:
    async def command(
        system: System,
        charge_point_id: ChargePointId,
        data: Any,
        timeout: Timeout = None,
        force: Force = False,
    ) -> Any:
        response = await send(system, charge_point_id, data, timeout, force)
        follow_up = FOLLOW_UPS.get(spec.name)
        if follow_up is not None:
            await follow_up(system, charge_point_id, data, response)
        return hidden_in_answer(spec.name, response)

    # The types are known at run time only; Litestar reads them from the annotations.
    body: Any = JSONBody
    command.__annotations__ = {
        **command.__annotations__,
        "data": body[spec.request],
        "return": spec.response,
    }
    command.__name__ = command.__qualname__ = spec.name
    return post(
        f"/charge-points/{{chargePointId:str}}/commands/{spec.name}",
        dto=_body(spec),
        return_dto=None,
        status_code=200,
        opt={**needs(Role.OPERATOR), OCPP_PAYLOAD: True},
        tags=["commands"],
        operation_id=spec.name,
        summary=spec.name,
        description=f"Send {spec.name} to a connected charge point; the answer is its "
        f"{spec.name}.conf payload.",
        responses=documented(404, 409, 502, 503, 504),
    )(command)


def _unknown_action() -> HTTPRouteHandler:
    """Any other action: 404 naming it and the actions there are (Litestar's own 404 said
    only "Not Found"). Static segments win over a parameter, so the routes above still match."""

    async def unknown_action(
        charge_point_id: ChargePointId, action: Annotated[str, PathParameter(name="action")]
    ) -> None:
        valid = [spec.name for spec in ACTIONS]
        close = difflib.get_close_matches(action, valid, n=1, cutoff=0.6) or [
            name for name in valid if name.lower() == action.lower()
        ]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ProblemException(
            Problem(
                status=404,
                error=f"unknown action {action!r}{hint}; valid actions: {', '.join(valid)}",
                field="action",
                reason="not an action a central system sends in OCPP 1.6 or its security extension",
            )
        )

    return route(
        "/charge-points/{chargePointId:str}/commands/{action:str}",
        http_method=["GET", "POST"],  # GET too: a 404 for the unknown action, not a 405
        status_code=200,
        opt=needs(Role.OPERATOR),
        include_in_schema=False,
    )(unknown_action)


ROUTES: list[HTTPRouteHandler] = [*(_route(spec) for spec in ACTIONS), _unknown_action()]
