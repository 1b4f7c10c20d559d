"""Profile bookkeeping and the capability checks (behaviour notes section 6)."""

from msgspec import UNSET

from ocppd.protocol.messages import ClearChargingProfileRequest
from ocppd.protocol.smart_charging import (
    Capabilities,
    check_capabilities,
    check_profile,
    clear,
    end_transaction,
    install,
    replaces,
)
from tests.protocol.smart_charging_cases import (
    DAILY,
    DEFAULT,
    MAX,
    RECURRING,
    RELATIVE,
    T0,
    TX,
    A,
    W,
    on,
    profile,
)


def test_the_same_id_replaces_on_any_connector() -> None:
    old = on(1, profile(DEFAULT, [(0, 8)], profile_id=5, level=1))
    new = profile(DEFAULT, [(0, 10)], profile_id=5, level=2)
    assert replaces(2, new, old)
    assert install([old], on(2, new)) == (on(2, new),)


def test_the_same_level_and_purpose_on_the_connector_replaces() -> None:
    old = on(1, profile(DEFAULT, [(0, 8)], level=1))
    assert replaces(1, profile(DEFAULT, [(0, 10)], level=1), old)
    assert not replaces(2, profile(DEFAULT, [(0, 10)], level=1), old)  # another connector
    assert not replaces(1, profile(DEFAULT, [(0, 10)], level=2), old)  # another level
    assert not replaces(1, profile(TX, [(0, 10)], level=1), old)  # another purpose


def test_otherwise_the_new_profile_is_added_last() -> None:
    old = on(1, profile(DEFAULT, [(0, 8)]))
    new = on(1, profile(DEFAULT, [(0, 10)], level=1))
    assert install([old], new) == (old, new)


ITEMS = [
    on(0, profile(MAX, [(0, 32)], profile_id=1)),
    on(0, profile(DEFAULT, [(0, 16)], profile_id=2, level=1)),
    on(1, profile(DEFAULT, [(0, 10)], profile_id=3, level=1)),
    on(1, profile(TX, [(0, 6)], profile_id=4, level=2)),
    on(2, profile(TX, [(0, 6)], profile_id=5, level=1)),
]


def cleared(**fields: object) -> list[int]:
    kept, removed = clear(ITEMS, ClearChargingProfileRequest(**fields))  # type: ignore[arg-type]
    assert len(kept) + len(removed) == len(ITEMS)
    return [item.profile.charging_profile_id for item in removed]


def test_clear_without_fields_clears_all() -> None:
    assert cleared() == [1, 2, 3, 4, 5]


def test_clear_by_id_ignores_the_other_fields() -> None:
    assert cleared(id=3, connector_id=2, charging_profile_purpose=MAX) == [3]
    assert cleared(id=99) == []  # Unknown


def test_clear_matches_all_the_given_fields() -> None:
    assert cleared(connector_id=1) == [3, 4]
    assert cleared(charging_profile_purpose=TX) == [4, 5]  # any connector
    assert cleared(stack_level=1) == [2, 3, 5]
    assert cleared(connector_id=1, stack_level=1) == [3]
    assert cleared(charging_profile_purpose=DEFAULT, stack_level=1) == [2, 3]
    assert cleared(connector_id=0, charging_profile_purpose=TX) == []


def test_a_tx_profile_ends_with_its_transaction() -> None:
    kept = end_transaction(ITEMS, 1)
    assert [item.profile.charging_profile_id for item in kept] == [1, 2, 3, 5]


CAPS = Capabilities.from_configuration(
    {
        "ChargeProfileMaxStackLevel": "3",
        "ChargingScheduleAllowedChargingRateUnit": "Current",
        "ChargingScheduleMaxPeriods": "2",
        "MaxChargingProfilesInstalled": "3",
    }
)


def test_capabilities_from_the_configuration() -> None:
    assert Capabilities(3, frozenset({A}), 2, 3) == CAPS
    both = {
        "ChargeProfileMaxStackLevel": "3",
        "ChargingScheduleAllowedChargingRateUnit": "Current, power,Watts",
        "ChargingScheduleMaxPeriods": "2",
        "MaxChargingProfilesInstalled": "3",
    }
    assert Capabilities.from_configuration(both).allowed_units == {A, W}


def test_a_key_never_read_or_unreadable_is_not_checked() -> None:
    partial = Capabilities.from_configuration(
        {"chargeprofilemaxstacklevel": " 2 ", "ChargingScheduleMaxPeriods": "many"}
    )
    assert partial == Capabilities(2, None, None, None)
    many = [profile(TX, [(0, 8)], level=2, profile_id=n) for n in range(10, 40)]
    huge = profile(DEFAULT, [(n * 60, 6) for n in range(100)], level=2, unit=W)
    assert check_capabilities(partial, 1, huge, [on(1, p) for p in many]) is None
    assert check_capabilities(partial, 1, profile(DEFAULT, [(0, 8)], level=3), []) == (
        "stackLevel 3 exceeds ChargeProfileMaxStackLevel 2"
    )
    nothing = Capabilities.from_configuration({})
    assert nothing == Capabilities(None, None, None, None)


def reason(connector_id: int, item: object, running: int | None = None) -> str | None:
    installed = ITEMS[:2]
    return check_profile(CAPS, connector_id, item, installed, running)  # type: ignore[arg-type]


def test_an_acceptable_profile() -> None:
    assert reason(1, profile(DEFAULT, [(0, 8), (60, 6)], level=3)) is None
    assert reason(1, profile(TX, [(0, 8)]), running=12) is None


def test_the_capability_keys() -> None:
    assert "ChargeProfileMaxStackLevel" in str(reason(1, profile(DEFAULT, [(0, 8)], level=4)))
    assert "AllowedChargingRateUnit" in str(reason(1, profile(DEFAULT, [(0, 8)], unit=W)))
    three = profile(DEFAULT, [(0, 8), (60, 6), (120, 4)])
    assert "ChargingScheduleMaxPeriods" in str(reason(1, three))


def test_max_charging_profiles_installed_counts_after_replacement() -> None:
    installed = ITEMS[:3]
    assert "MaxChargingProfilesInstalled" in str(
        check_profile(CAPS, 2, profile(DEFAULT, [(0, 8)]), installed, None)
    )
    replacing = profile(DEFAULT, [(0, 8)], profile_id=3)
    assert check_profile(CAPS, 2, replacing, installed, None) is None


def test_purposes_and_connectors() -> None:
    assert "connector 0 only" in str(reason(1, profile(MAX, [(0, 8)])))
    assert "connector > 0" in str(reason(0, profile(TX, [(0, 8)]), running=1))
    assert "no transaction" in str(reason(1, profile(TX, [(0, 8)])))
    other = profile(TX, [(0, 8)])
    other.transaction_id = 11
    assert "transactionId 11" in str(reason(1, other, running=12))
    assert "no connector" in str(reason(-1, profile(DEFAULT, [(0, 8)])))


def test_the_structure() -> None:
    assert "start at 0" in str(reason(1, profile(DEFAULT, [(10, 8)])))
    assert "strictly increase" in str(reason(1, profile(DEFAULT, [(0, 8), (0, 6)])))
    assert "negative" in str(reason(1, profile(DEFAULT, [(0, 8)], level=-1)))
    recurring = profile(DEFAULT, [(0, 8)], kind=RECURRING)
    assert "needs recurrencyKind" in str(reason(1, recurring))
    assert reason(1, profile(DEFAULT, [(0, 8)], kind=RECURRING, recurrency=DAILY)) is None
    assert "only allowed with Recurring" in str(
        reason(1, profile(DEFAULT, [(0, 8)], recurrency=DAILY))
    )
    relative = profile(DEFAULT, [(0, 8)], kind=RELATIVE, start=T0)
    assert "no startSchedule" in str(reason(1, relative))
    assert relative.charging_schedule.start_schedule is not UNSET
