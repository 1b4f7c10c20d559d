"""What a station keeps across a restart of the simulator: a small JSON file per station.

A charger keeps in flash what its operator and its central system gave it: the
configuration, the local list and the cache, the charging profiles (errata: they persist
across reboots), the availability of its connectors (it persists too), the meter register,
and the queue of transaction messages (section 5: an unconfirmed StopTransaction stays
queued across a reset). `StationState` is that file; `load` and `save` read and write it.

Writes are atomic (a temporary file in the same directory, then a rename), so a simulator
killed in the middle of a write leaves the previous state whole. A transaction message is
written before `TransactionMessages.put` returns: once queued, it survives a kill. Other
changes are written a moment later (see `Station.dirty`). Running transactions are saved
with the queue; a restarted station stops them as a charger does after a power cut
(reason PowerLoss, the last saved meter reading and time).
"""

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET

from ocppd.chargepoint.security import SavedSecurity
from ocppd.chargepoint.transactions import QueuedMessage, Transaction
from ocppd.protocol import messages as m
from ocppd.protocol.actions import Registry, spec_for_request
from ocppd.protocol.datatypes import ChargingProfile, IdTagInfo, MeterValue
from ocppd.protocol.enums import Reason

FORMAT = 1


class SavedTransaction(msgspec.Struct, omit_defaults=True):
    local_id: int
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: datetime
    reservation_id: int | None = None
    transaction_id: int | None = None
    parent_id_tag: str | None = None
    energy_cut: bool = False
    samples: list[MeterValue] = []


class SavedMessage(msgspec.Struct, omit_defaults=True):
    action: str
    payload: msgspec.Raw
    """The request as it travels on the wire (the transactionId is put in when sent)."""
    transaction: int | None = None
    """The local id of the transaction whose transactionId the message carries."""
    attempts: int = 0


class SavedConnector(msgspec.Struct, omit_defaults=True):
    operative: bool = True
    register_wh: float = 0.0
    transaction: int | None = None
    """The local id of the transaction running on it when saved."""


class SavedProfile(msgspec.Struct, omit_defaults=True):
    connector_id: int
    profile: ChargingProfile
    received_at: datetime
    transaction_id: int | None = None


class StationState(msgspec.Struct, omit_defaults=True):
    identity: str
    saved_at: datetime
    format: int = FORMAT
    firmware_version: str | None = None
    configuration: dict[str, str] = {}
    local_list_version: int = 0
    local_list: dict[str, IdTagInfo] = {}
    cache: dict[str, IdTagInfo] = {}
    profiles: list[SavedProfile] = []
    station_operative: bool = True
    connectors: dict[int, SavedConnector] = {}
    transactions: list[SavedTransaction] = []
    """Those the queue refers to, and those running."""
    queue: list[SavedMessage] = []
    next_local_id: int = 1
    security: SavedSecurity | None = None
    """Installed roots, the charge point's key and certificate, a pending CSR's key, the
    security log and the events not yet delivered (`security.py`)."""


_REGISTRY = Registry()
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(StationState)


def state_path(directory: Path, identity: str) -> Path:
    """The file of station `identity` in `directory` (the identity made safe as a name)."""
    safe = "".join(c if c.isalnum() or c in "-_." else f"%{ord(c):02X}" for c in identity)
    return directory / f"{safe}.json"


def load(path: Path) -> StationState | None:
    """The state saved at `path`, or None when there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{path}: not a station state file ({exc})") from None


def save(path: Path, state: StationState) -> None:
    """Write `state` to `path` atomically: the old file or the new one, never half."""
    data = _encoder.encode(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def saved_transaction(t: Transaction) -> SavedTransaction:
    """What the state file keeps of a transaction: the fields SavedTransaction declares."""
    return SavedTransaction(**_copied(t, SavedTransaction.__struct_fields__))


def restored_transaction(t: SavedTransaction) -> Transaction:
    return Transaction(**_copied(t, SavedTransaction.__struct_fields__))


def _copied(source: object, names: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(source, name) for name in names}
    values["samples"] = list(values["samples"])  # the saved and the live list stay apart
    return values


def saved_message(message: QueuedMessage) -> SavedMessage:
    return SavedMessage(
        action=spec_for_request(message.request).name,
        payload=msgspec.Raw(msgspec.json.encode(message.request)),
        transaction=None if message.transaction is None else message.transaction.local_id,
        attempts=message.attempts,
    )


def restored_message(saved: SavedMessage, transactions: dict[int, Transaction]) -> QueuedMessage:
    spec = _REGISTRY.get(saved.action)
    if spec is None:
        raise ValueError(f"Unknown action {saved.action!r} in a state file")
    request = spec.request_codec.decode(bytes(saved.payload))
    transaction = None if saved.transaction is None else transactions.get(saved.transaction)
    return QueuedMessage(request, transaction, saved.attempts)


def power_loss_stop(transaction: Transaction, meter_stop: int, at: datetime) -> QueuedMessage:
    """The stop of a transaction that was running when the simulator went down."""
    request = m.StopTransactionRequest(
        meter_stop=max(meter_stop, transaction.meter_start),
        timestamp=at,
        transaction_id=transaction.wire_id,
        reason=Reason.POWER_LOSS,
        transaction_data=list(transaction.samples) or UNSET,
    )
    return QueuedMessage(request, transaction)
