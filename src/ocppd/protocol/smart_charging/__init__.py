"""Smart charging, pure and shared by the central system and the simulator (notes section 6).

- `profiles`: installed profiles; what a SetChargingProfile replaces, what a
  ClearChargingProfile removes, TxProfiles ending with their transaction.
- `capabilities`: the checks behind a Rejected, each giving its reason.
- `schedules`: one profile's periods on an absolute timeline (kinds, recurrence, duration,
  validity).
- `composite`: the limit in force on a connector over a window, and its
  GetCompositeSchedule form.

No I/O and no clock: every instant is passed in. The choices where the notes leave room are
written in each module's docstring.
"""

from ocppd.protocol.smart_charging.capabilities import (
    Capabilities,
    check_capabilities,
    check_profile,
    check_structure,
    check_transaction,
)
from ocppd.protocol.smart_charging.composite import (
    Composite,
    Electrical,
    Interval,
    compose,
    composite_response,
    composite_schedule,
    limit_at,
    round_down,
    to_charging_schedule,
)
from ocppd.protocol.smart_charging.profiles import (
    InstalledProfile,
    clear,
    clear_matches,
    end_transaction,
    install,
    replaces,
)
from ocppd.protocol.smart_charging.schedules import Segment, segments

__all__ = [
    "Capabilities",
    "Composite",
    "Electrical",
    "InstalledProfile",
    "Interval",
    "Segment",
    "check_capabilities",
    "check_profile",
    "check_structure",
    "check_transaction",
    "clear",
    "clear_matches",
    "compose",
    "composite_response",
    "composite_schedule",
    "end_transaction",
    "install",
    "limit_at",
    "replaces",
    "round_down",
    "segments",
    "to_charging_schedule",
]
