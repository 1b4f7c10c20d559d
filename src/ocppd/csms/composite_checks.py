"""GetCompositeSchedule answers compared with ocppd's prediction, stored and published.

Whoever asks (the API's command, any other sender through `CentralSystem.call`), the
charger's answer goes back unchanged; when it is Accepted with a schedule, the composite ocppd
predicts from the profiles the charger holds (`ChargingProfiles.composite`, in the answer's
unit, over scheduleStart .. + duration; without scheduleStart, from when the request was
sent) is compared with it (`protocol.smart_charging.comparison`). The result is a row of
`composite_checks` and a `CompositeScheduleChecked` event; a mismatch names its first instant
and both limits.

At most `MAX_COMPARED` of a window is compared (a hostile duration must not cost hours of
CPU); an answer whose window cannot be placed on a calendar is not compared (logged).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import UNSET

from ocppd.csms.charging_profiles import ChargingProfiles
from ocppd.csms.clock import as_utc
from ocppd.csms.models import MAX_CONNECTOR_ID, composite_checks
from ocppd.csms.system_services import SystemServices
from ocppd.protocol import messages as m
from ocppd.protocol.datatypes import ChargingSchedule
from ocppd.protocol.enums import GetCompositeScheduleStatus
from ocppd.protocol.smart_charging import Composite
from ocppd.protocol.smart_charging.comparison import Mismatch, compare

log = logging.getLogger("ocppd.csms.smart_charging")

MAX_COMPARED = 31 * 24 * 3600
"""Seconds."""


class CompositeChecks:
    def __init__(self, system: SystemServices, profiles: ChargingProfiles) -> None:
        self.system = system
        self.profiles = profiles
        system.recorders.setdefault("GetCompositeSchedule", []).append(self.compared)

    async def compared(
        self,
        charge_point_id: str,
        request: m.GetCompositeScheduleRequest,
        response: m.GetCompositeScheduleResponse,
        sent_at: datetime,
    ) -> None:
        schedule = response.charging_schedule
        if response.status != GetCompositeScheduleStatus.ACCEPTED or schedule is UNSET:
            return
        start = sent_at if response.schedule_start is UNSET else as_utc(response.schedule_start)
        connector = request.connector_id
        try:
            end = start + timedelta(seconds=min(max(request.duration, 1), MAX_COMPARED))
        except OverflowError:
            log.warning("%s: a composite schedule from %s is not compared", charge_point_id, start)
            return
        if not 0 <= connector <= MAX_CONNECTOR_ID:
            return
        unit = schedule.charging_rate_unit
        predicted = await self.profiles.composite(charge_point_id, connector, start, end, unit)
        mismatch = compare(predicted, schedule, start)
        now = self.system.clock()
        row = _row(charge_point_id, connector, predicted, schedule, mismatch, now)
        await self.system.writer.commit([(composite_checks, row)])
        self.system.events.publish(
            "CompositeScheduleChecked",
            charge_point_id,
            now,
            connectorId=connector,
            matches=mismatch is None,
            mismatch=None if mismatch is None else mismatch_json(mismatch),
        )


def mismatch_json(mismatch: Mismatch) -> dict[str, Any]:
    return {
        "at": mismatch.at.isoformat(),
        "predictedLimit": mismatch.predicted,
        "reportedLimit": mismatch.reported,
    }


def intervals_json(composite: Composite) -> list[dict[str, Any]]:
    return [
        {
            "start": interval.start,
            "end": interval.end,
            "limit": interval.limit,
            "numberPhases": interval.number_phases,
        }
        for interval in composite.intervals
    ]


def _row(
    charge_point_id: str,
    connector_id: int,
    predicted: Composite,
    schedule: ChargingSchedule,
    mismatch: Mismatch | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "checked_at": now,
        "schedule_start": predicted.start,
        # What was compared (at most MAX_COMPARED of the window asked for).
        "duration": int((predicted.end - predicted.start).total_seconds()),
        "unit": str(predicted.unit),
        "matches": mismatch is None,
        "mismatch_at": None if mismatch is None else mismatch.at,
        "predicted_limit": None if mismatch is None else mismatch.predicted,
        "reported_limit": None if mismatch is None else mismatch.reported,
        "reported": msgspec.json.encode(schedule).decode(),
        "predicted": msgspec.json.encode(intervals_json(predicted)).decode(),
    }
