"""The peer for `bench/server.py`: a minimal central system on the mobilityhouse `ocpp` package.

`ocpp` 2.1.0 (`ocpp.v16.ChargePoint`, JSON-schema validation of every request and response as
the package does by default), served by `websockets` (asyncio server, uvloop). It answers the
actions of the bench mix and stores nothing.
"""

import argparse
import itertools
import logging
from datetime import UTC, datetime
from typing import Any

import uvloop
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve

transaction_ids = itertools.count(1)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Peer(ChargePoint):  # type: ignore[misc]  # `ocpp` ships no type hints
    @on(Action.boot_notification)  # type: ignore[untyped-decorator]
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=now(), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)  # type: ignore[untyped-decorator]
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)  # type: ignore[untyped-decorator]
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.meter_values)  # type: ignore[untyped-decorator]
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.start_transaction)  # type: ignore[untyped-decorator]
    def on_start(self, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(transaction_ids),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action.stop_transaction)  # type: ignore[untyped-decorator]
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


async def on_connect(connection: ServerConnection) -> None:
    identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1] if connection.request else ""
    try:
        await Peer(identity, connection).start()
    except Exception:  # ConnectionClosed: the charge point went away
        return


async def serve_forever(port: int) -> None:
    async with serve(
        on_connect,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        max_size=1024 * 1024,
        ping_interval=60,
        ping_timeout=60,
    ) as server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(serve_forever(args.port))


if __name__ == "__main__":
    main()
