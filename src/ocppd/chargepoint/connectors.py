"""Connectors and their state machine (behaviour notes section 7).

A connector's status is not set by hand: it follows from the facts of the connector (is it
operative, faulted, is an EV plugged, a transaction running, the EV or the EVSE suspended,
a reservation held). Each time a fact changes the station calls `update`, which derives
the status anew and returns it when it changed, so that every transition is reported and
none is invented. A transition outside the table of section 7 is logged: it would be a bug
of the simulator, since the table is what a central system expects.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from ocppd.chargepoint.meter import Meter
from ocppd.chargepoint.transactions import Transaction
from ocppd.protocol.enums import ChargePointErrorCode
from ocppd.protocol.enums import ChargePointStatus as S

log = logging.getLogger("ocppd.chargepoint")

ALLOWED: dict[S, frozenset[S]] = {
    S.AVAILABLE: frozenset(
        {S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.RESERVED}
        | {S.UNAVAILABLE, S.FAULTED}
    ),
    S.PREPARING: frozenset(
        {S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.FAULTED}
    ),
    S.CHARGING: frozenset(
        {S.AVAILABLE, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}
    ),
    S.SUSPENDED_EV: frozenset(
        {S.AVAILABLE, S.CHARGING, S.SUSPENDED_EVSE, S.FINISHING, S.UNAVAILABLE, S.FAULTED}
    ),
    S.SUSPENDED_EVSE: frozenset(
        {S.AVAILABLE, S.CHARGING, S.SUSPENDED_EV, S.FINISHING, S.UNAVAILABLE, S.FAULTED}
    ),
    S.FINISHING: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.RESERVED: frozenset({S.AVAILABLE, S.PREPARING, S.UNAVAILABLE, S.FAULTED}),
    S.UNAVAILABLE: frozenset(
        {S.AVAILABLE, S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FAULTED}
    ),
    S.FAULTED: frozenset(set(S) - {S.FAULTED}),
}


@dataclass
class Reservation:
    reservation_id: int
    connector_id: int
    """0 = any connector of the station is kept for the tag."""
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None

    def admits(self, id_tag: str, parent_id_tag: str | None = None) -> bool:
        """Only the reserved tag, or a tag of the same group, may use the reservation."""
        tags = {id_tag.lower()} | ({parent_id_tag.lower()} if parent_id_tag else set())
        return self.id_tag.lower() in tags or (
            self.parent_id_tag is not None and self.parent_id_tag.lower() in tags
        )


@dataclass
class Connector:
    connector_id: int
    meter: Meter = field(default_factory=Meter)
    operative: bool = True
    """ChangeAvailability: inoperative takes effect when no transaction runs."""
    fault: ChargePointErrorCode | None = None
    plugged: bool = False
    """An EV is connected."""
    plugged_at: datetime | None = None
    """When it was last plugged in (ConnectionTimeOut runs from there)."""
    waiting_tag: str | None = None
    """A tag authorized before the EV was plugged in: the transaction starts on plug-in."""
    finishing: bool = False
    """The transaction ended with the EV still plugged in."""
    ev_suspended: bool = False
    installing: bool = False
    """A firmware update waits to install: no new transaction here until the reboot."""
    info: str | None = None
    reservation: Reservation | None = None
    transaction: Transaction | None = None
    status: S = S.AVAILABLE

    @property
    def evse_suspended(self) -> bool:
        """The EVSE offers no energy: a charging limit of 0, or the tag was refused."""
        cut = self.transaction is not None and self.transaction.energy_cut
        return cut or self.meter.offered_w <= 0

    def derive(self) -> S:
        if self.fault is not None:
            return S.FAULTED
        if self.transaction is not None:
            if self.evse_suspended:  # when both suspend, SuspendedEVSE is reported
                return S.SUSPENDED_EVSE
            return S.SUSPENDED_EV if self.ev_suspended else S.CHARGING
        if not self.operative or self.installing:
            return S.UNAVAILABLE
        if self.plugged and self.finishing:
            return S.FINISHING
        if self.plugged or self.waiting_tag is not None:
            return S.PREPARING
        if self.reservation is not None:
            return S.RESERVED
        return S.AVAILABLE

    def update(self) -> S | None:
        """Derive the status; the new status when it changed, else None."""
        status = self.derive()
        if status == self.status:
            return None
        if status not in ALLOWED[self.status]:
            log.warning(
                "connector %d: %s -> %s is not in the state machine",
                self.connector_id,
                self.status,
                status,
            )
        self.status = status
        return status

    @property
    def available_for(self) -> bool:
        """Could a new transaction start here."""
        return (
            self.fault is None
            and self.operative
            and not self.installing
            and self.transaction is None
        )


@dataclass
class StationConnector:
    """Connector 0, the charge point as a whole: only Available, Unavailable or Faulted."""

    operative: bool = True
    fault: ChargePointErrorCode | None = None
    status: S = S.AVAILABLE
    connector_id: int = 0
    info: str | None = None

    def derive(self) -> S:
        if self.fault is not None:
            return S.FAULTED
        return S.AVAILABLE if self.operative else S.UNAVAILABLE

    def update(self) -> S | None:
        status = self.derive()
        if status == self.status:
            return None
        self.status = status
        return status
