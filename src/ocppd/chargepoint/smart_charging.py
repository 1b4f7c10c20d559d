"""The station's charging profiles (behaviour notes section 6), on the shared smart charging code.

The rules (what is accepted, what replaces or clears what, which limit prevails when) are
those of `ocppd.protocol.smart_charging`; this keeps the station's installed profiles and
binds them to its configuration, its voltage and its hardware maximum.

`limit_w` is what the station applies to the simulated power at an instant: the minimum of
the ChargePointMaxProfile, shared evenly by the connectors that charge, and the connector's
own limit (TxProfile, else TxDefaultProfile). `composite` answers GetCompositeSchedule.
"""

from datetime import datetime

from ocppd.chargepoint.configuration import Configuration
from ocppd.protocol.datatypes import ChargingProfile
from ocppd.protocol.enums import (
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    ChargingRateUnitType,
    ClearChargingProfileStatus,
)
from ocppd.protocol.messages import ClearChargingProfileRequest, GetCompositeScheduleResponse
from ocppd.protocol.smart_charging import (
    Capabilities,
    Electrical,
    InstalledProfile,
    check_profile,
    clear,
    composite_response,
    composite_schedule,
    end_transaction,
    install,
    limit_at,
)


class ChargingProfiles:
    def __init__(self, configuration: Configuration, voltage: float = 230.0) -> None:
        self.configuration = configuration
        self.electrical = Electrical(voltage)
        self.installed: tuple[InstalledProfile, ...] = ()

    # SetChargingProfile / ClearChargingProfile

    def install(
        self,
        connector_id: int,
        profile: ChargingProfile,
        now: datetime,
        transaction_id: int | None = None,
    ) -> ChargingProfileStatus:
        """Store `profile` if the charger can apply it; `transaction_id` is the transaction
        running on the connector, required for a TxProfile."""
        capabilities = Capabilities.from_configuration(self.configuration.values())
        reason = check_profile(capabilities, connector_id, profile, self.installed, transaction_id)
        if reason is not None:
            return ChargingProfileStatus.REJECTED
        tx_profile = profile.charging_profile_purpose == ChargingProfilePurposeType.TX_PROFILE
        new = InstalledProfile(connector_id, profile, now, transaction_id if tx_profile else None)
        self.installed = install(self.installed, new)
        return ChargingProfileStatus.ACCEPTED

    def clear(self, request: ClearChargingProfileRequest) -> ClearChargingProfileStatus:
        kept, removed = clear(self.installed, request)
        if not removed:
            return ClearChargingProfileStatus.UNKNOWN
        self.installed = kept
        return ClearChargingProfileStatus.ACCEPTED

    def transaction_ended(self, connector_id: int) -> None:
        """A TxProfile lives as long as its transaction."""
        self.installed = end_transaction(self.installed, connector_id)

    # Limits

    def limit_w(
        self, connector_id: int, at: datetime, tx_start: datetime | None, sharing: int = 1
    ) -> float | None:
        """The limit on connector `connector_id` at `at`, in watts; None = unconstrained.

        The ChargePointMaxProfile covers the whole station: it is shared evenly by the
        `sharing` connectors that charge.
        """
        watts = ChargingRateUnitType.W
        station = limit_at(
            self.installed, 0, at, watts, tx_start=tx_start, electrical=self.electrical
        ).limit
        if connector_id == 0:
            return station  # the station as a whole: only its own maximum
        if station is not None:
            station /= max(sharing, 1)
        tx = limit_at(
            self.installed,
            connector_id,
            at,
            watts,
            tx_start=tx_start,
            electrical=self.electrical,
            with_station_max=False,
        ).limit
        limits = [limit for limit in (station, tx) if limit is not None]
        return min(limits) if limits else None

    def composite(
        self,
        connector_id: int,
        start: datetime,
        duration: int,
        unit: ChargingRateUnitType,
        tx_start: datetime | None,
        unconstrained_w: float,
    ) -> GetCompositeScheduleResponse:
        """GetCompositeSchedule's answer: the limits from `start` for `duration` seconds;
        `unconstrained_w` (the hardware maximum) stands where no profile limits."""
        composite = composite_schedule(
            self.installed,
            connector_id,
            start,
            duration,
            unit,
            tx_start=tx_start,
            electrical=self.electrical,
        )
        unconstrained = unconstrained_w
        if unit == ChargingRateUnitType.A:
            unconstrained /= self.electrical.voltage * self.electrical.phases
        return composite_response(composite, unconstrained=unconstrained)
