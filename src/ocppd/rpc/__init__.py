"""OCPP-J RPC: a sans-I/O connection state machine and an asyncio session around it."""

from ocppd.rpc.connection import Options, RpcConnection, UniqueIds
from ocppd.rpc.session import CallTimeout, Direction, Session, SessionClosed, Traffic

__all__ = [
    "CallTimeout",
    "Direction",
    "Options",
    "RpcConnection",
    "Session",
    "SessionClosed",
    "Traffic",
    "UniqueIds",
]
