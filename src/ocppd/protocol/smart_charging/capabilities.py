"""Whether a charge point can take a SetChargingProfile: the checks behind a Rejected.

Each check returns None when the profile is acceptable, else the reason it is refused (for
the central system's 400 before sending, and the simulator's Rejected).

Choices:
- `ChargeProfileMaxStackLevel` bounds stackLevel (0..max). The notes add that it is "also the
  number of profiles per purpose": since a profile of the same stack level and purpose on the
  same connector replaces the old one, a connector holds at most max + 1 of a purpose, and no
  separate count is checked.
- `MaxChargingProfilesInstalled` counts the profiles installed after the replacement.
- Structure: the periods start at 0 and strictly increase; recurrencyKind is required by and
  only allowed with Recurring; a Relative profile has no startSchedule; stackLevel >= 0; a
  ChargePointMaxProfile is on connector 0; a TxProfile is on a connector with a running
  transaction (and its transactionId, when given, is that one).
- An Absolute or Recurring profile without startSchedule is accepted: it starts on receipt.
- A key that is absent or does not parse (a central system that never read it, a charger
  reporting garbage) is None: that limit is not checked. Keys are matched case-insensitively
  (CiString50).
"""

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingProfile
from ocppd.protocol.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
)
from ocppd.protocol.smart_charging.profiles import InstalledProfile, replaces

UNIT_NAMES = {"current": ChargingRateUnitType.A, "power": ChargingRateUnitType.W}
"""ChargingScheduleAllowedChargingRateUnit names its units Current and Power (= A and W)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The SmartCharging configuration keys of a charge point."""

    max_stack_level: int | None
    allowed_units: frozenset[ChargingRateUnitType] | None
    max_periods: int | None
    max_installed: int | None
    """None: not known, not checked."""

    @classmethod
    def from_configuration(cls, values: Mapping[str, str | None]) -> "Capabilities":
        """From the keys' values as GetConfiguration reports them (unknown unit names ignored)."""
        folded = {key.lower(): value for key, value in values.items()}
        units = folded.get("chargingscheduleallowedchargingrateunit")
        return cls(
            max_stack_level=_integer(folded.get("chargeprofilemaxstacklevel")),
            allowed_units=None
            if units is None
            else frozenset(
                UNIT_NAMES[name.strip().lower()]
                for name in units.split(",")
                if name.strip().lower() in UNIT_NAMES
            ),
            max_periods=_integer(folded.get("chargingschedulemaxperiods")),
            max_installed=_integer(folded.get("maxchargingprofilesinstalled")),
        )


def _integer(value: str | None) -> int | None:
    try:
        return None if value is None else int(value.strip())
    except ValueError:
        return None


def check_structure(connector_id: int, profile: ChargingProfile) -> str | None:
    """The rules of a well-formed profile for that connector, whatever the charger."""
    purpose = profile.charging_profile_purpose
    kind = profile.charging_profile_kind
    schedule = profile.charging_schedule
    starts = [period.start_period for period in schedule.charging_schedule_period]
    if connector_id < 0:
        return f"no connector {connector_id}"
    if profile.stack_level < 0:
        return "stackLevel is negative"
    if purpose == ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE and connector_id != 0:
        return "a ChargePointMaxProfile is set on connector 0 only"
    if purpose == ChargingProfilePurposeType.TX_PROFILE and connector_id == 0:
        return "a TxProfile is set on a connector > 0"
    if not starts or starts[0] != 0:
        return "the first period does not start at 0"
    if any(later <= earlier for earlier, later in itertools.pairwise(starts)):
        return "the periods' startPeriod do not strictly increase"
    if kind == ChargingProfileKindType.RECURRING and profile.recurrency_kind is UNSET:
        return "a Recurring profile needs recurrencyKind"
    if kind != ChargingProfileKindType.RECURRING and profile.recurrency_kind is not UNSET:
        return "recurrencyKind is only allowed with Recurring"
    if kind == ChargingProfileKindType.RELATIVE and schedule.start_schedule is not UNSET:
        return "a Relative profile has no startSchedule"
    if schedule.duration is not UNSET and schedule.duration < 0:
        return "duration is negative"
    return None


def check_transaction(
    connector_id: int, profile: ChargingProfile, running_transaction: int | None
) -> str | None:
    """A TxProfile needs a transaction on its connector (`running_transaction`, None = idle)."""
    if profile.charging_profile_purpose != ChargingProfilePurposeType.TX_PROFILE:
        return None
    if running_transaction is None:
        return f"no transaction on connector {connector_id}"
    if profile.transaction_id is not UNSET and profile.transaction_id != running_transaction:
        return (
            f"transactionId {profile.transaction_id} is not the transaction on connector "
            f"{connector_id} ({running_transaction})"
        )
    return None


def check_capabilities(
    capabilities: Capabilities,
    connector_id: int,
    profile: ChargingProfile,
    installed: Iterable[InstalledProfile],
) -> str | None:
    """The configuration keys: stack level, unit, number of periods, installed profiles."""
    schedule = profile.charging_schedule
    max_level, units = capabilities.max_stack_level, capabilities.allowed_units
    if max_level is not None and profile.stack_level > max_level:
        return f"stackLevel {profile.stack_level} exceeds ChargeProfileMaxStackLevel {max_level}"
    if units is not None and schedule.charging_rate_unit not in units:
        return f"unit {schedule.charging_rate_unit} not in ChargingScheduleAllowedChargingRateUnit"
    periods, max_periods = len(schedule.charging_schedule_period), capabilities.max_periods
    if max_periods is not None and periods > max_periods:
        return f"{periods} periods exceed ChargingScheduleMaxPeriods {max_periods}"
    if capabilities.max_installed is None:
        return None
    kept = sum(1 for old in installed if not replaces(connector_id, profile, old))
    if kept + 1 > capabilities.max_installed:
        return (
            f"{kept + 1} profiles would exceed MaxChargingProfilesInstalled "
            f"{capabilities.max_installed}"
        )
    return None


def check_profile(
    capabilities: Capabilities,
    connector_id: int,
    profile: ChargingProfile,
    installed: Iterable[InstalledProfile],
    running_transaction: int | None,
) -> str | None:
    """Every check in turn: the first reason to refuse, or None (Accepted)."""
    return (
        check_structure(connector_id, profile)
        or check_transaction(connector_id, profile, running_transaction)
        or check_capabilities(capabilities, connector_id, profile, installed)
    )
