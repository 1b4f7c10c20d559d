"""Installed charging profiles and the bookkeeping rules both sides apply (notes section 6).

- A SetChargingProfile replaces the installed profiles with the same chargingProfileId (on any
  connector), or with the same stackLevel and purpose on the same connector; otherwise the new
  profile is added.
- A ClearChargingProfile with no fields clears all; with `id` only that profile (the other
  fields are ignored); otherwise the profiles matching all the given fields, an absent
  connectorId meaning any connector.
- A TxProfile ends with its transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from msgspec import UNSET

from ocppd.protocol.datatypes import ChargingProfile
from ocppd.protocol.enums import ChargingProfilePurposeType
from ocppd.protocol.messages import ClearChargingProfileRequest


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile a charge point holds for a connector (0 = the station / every connector)."""

    connector_id: int
    profile: ChargingProfile
    received_at: datetime
    """When the charge point accepted it: an absent validFrom, and the start of an Absolute
    or Recurring schedule without startSchedule, count from here."""
    transaction_id: int | None = None
    """The transaction a TxProfile belongs to (deleted when that one ends)."""


def replaces(connector_id: int, new: ChargingProfile, old: InstalledProfile) -> bool:
    """Whether installing `new` on `connector_id` replaces `old`."""
    if old.profile.charging_profile_id == new.charging_profile_id:
        return True
    return (
        old.connector_id == connector_id
        and old.profile.stack_level == new.stack_level
        and old.profile.charging_profile_purpose == new.charging_profile_purpose
    )


def install(
    installed: Iterable[InstalledProfile], new: InstalledProfile
) -> tuple[InstalledProfile, ...]:
    """The installed profiles after `new` is accepted: what it replaces goes, it is added last."""
    kept = tuple(old for old in installed if not replaces(new.connector_id, new.profile, old))
    return (*kept, new)


def clear_matches(request: ClearChargingProfileRequest, item: InstalledProfile) -> bool:
    """Whether a ClearChargingProfile with these fields removes `item`."""
    if request.id is not UNSET:
        return item.profile.charging_profile_id == request.id
    return (
        (request.connector_id is UNSET or request.connector_id == item.connector_id)
        and (
            request.charging_profile_purpose is UNSET
            or request.charging_profile_purpose == item.profile.charging_profile_purpose
        )
        and (request.stack_level is UNSET or request.stack_level == item.profile.stack_level)
    )


def clear(
    installed: Iterable[InstalledProfile], request: ClearChargingProfileRequest
) -> tuple[tuple[InstalledProfile, ...], tuple[InstalledProfile, ...]]:
    """(kept, removed). Nothing removed = the answer is Unknown, else Accepted."""
    kept: list[InstalledProfile] = []
    removed: list[InstalledProfile] = []
    for item in installed:
        (removed if clear_matches(request, item) else kept).append(item)
    return tuple(kept), tuple(removed)


def end_transaction(
    installed: Iterable[InstalledProfile], connector_id: int
) -> tuple[InstalledProfile, ...]:
    """The installed profiles once the transaction on `connector_id` ends (its TxProfiles go)."""
    return tuple(
        item
        for item in installed
        if not (
            item.connector_id == connector_id
            and item.profile.charging_profile_purpose == ChargingProfilePurposeType.TX_PROFILE
        )
    )
