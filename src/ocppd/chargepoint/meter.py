"""The energy meter of one connector, and the EV behind it: energy rises at the power drawn.

Power is piecewise constant: whoever changes it (a transaction starts, a charging limit
changes, the EV suspends) calls `set_power`, which first books the energy drawn so far.
`sample` reads the meter as a MeterValue with the measurands asked for.
"""

from dataclasses import dataclass, field
from datetime import datetime

from msgspec import UNSET

from ocppd.protocol.datatypes import MeterValue, SampledValue
from ocppd.protocol.enums import Location, Measurand, Phase, ReadingContext, UnitOfMeasure

PHASES = (Phase.L1, Phase.L2, Phase.L3)
VOLTAGE_PHASES = (Phase.L1_N, Phase.L2_N, Phase.L3_N)


@dataclass
class Meter:
    max_power_w: float = 22_080.0
    """What the connector can deliver: 32 A on three phases at 230 V."""
    voltage: float = 230.0
    phases: int = 3
    battery_wh: float = 60_000.0
    soc_percent: float = 30.0
    """The EV's state of charge, rising with the energy it takes."""
    ev_max_power_w: float | None = None
    """What the EV takes at most (its on-board charger); None = whatever is offered."""
    register_wh: float = 0.0
    power_w: float = 0.0
    offered_w: float = 0.0
    cut_off_wh: float | None = None
    """The register at which the EV's supply is cut (MaxEnergyOnInvalidId): energy past it is
    never booked, however late the timer that cuts the power wakes up."""
    _since: datetime | None = None
    _interval_start_wh: dict[ReadingContext, float] = field(default_factory=dict)

    def advance(self, now: datetime) -> None:
        """Book the energy drawn at the current power since the last change."""
        if self._since is not None and now <= self._since:
            return  # a reading stamped a moment ago (a clock-aligned one): nothing to book
        if self._since is not None:
            hours = (now - self._since).total_seconds() / 3600
            energy = self.power_w * hours
            if self.cut_off_wh is not None:
                energy = max(0.0, min(energy, self.cut_off_wh - self.register_wh))
            self.register_wh += energy
            self.soc_percent = min(100.0, self.soc_percent + 100 * energy / self.battery_wh)
        self._since = now

    def set_power(self, now: datetime, drawn_w: float, offered_w: float) -> None:
        self.advance(now)
        self.power_w = max(0.0, min(drawn_w, self.max_power_w))
        self.offered_w = max(0.0, min(offered_w, self.max_power_w))

    @property
    def energy_wh(self) -> int:
        """The register as a meter shows it: whole watt-hours, never decreasing."""
        return int(self.register_wh)

    def current_per_phase(self, watts: float) -> float:
        return watts / (self.voltage * self.phases)

    def sample(
        self, now: datetime, measurands: list[str], context: ReadingContext
    ) -> MeterValue | None:
        """The meter read now, one SampledValue per measurand (and per phase where it has
        phases); None when nothing is asked for."""
        self.advance(now)
        values = [value for name in measurands for value in self._read(Measurand(name), context)]
        return MeterValue(timestamp=now, sampled_value=values) if values else None

    def _read(self, measurand: Measurand, context: ReadingContext) -> list[SampledValue]:
        def value(
            number: float,
            unit: UnitOfMeasure,
            phase: Phase | None = None,
            location: Location = Location.OUTLET,
        ) -> SampledValue:
            return SampledValue(
                value=f"{number:.1f}" if unit is not UnitOfMeasure.WH else str(int(number)),
                context=context,
                measurand=measurand,
                phase=UNSET if phase is None else phase,
                location=location,
                unit=unit,
            )

        amps = self.current_per_phase(self.power_w)
        match measurand:
            case Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
                return [value(self.energy_wh, UnitOfMeasure.WH)]
            case Measurand.ENERGY_ACTIVE_IMPORT_INTERVAL:
                return [value(self._interval_energy(context), UnitOfMeasure.WH)]
            case Measurand.POWER_ACTIVE_IMPORT:
                return [value(self.power_w, UnitOfMeasure.W)]
            case Measurand.POWER_OFFERED:
                return [value(self.offered_w, UnitOfMeasure.W)]
            case Measurand.CURRENT_IMPORT:
                return [value(amps, UnitOfMeasure.A, phase) for phase in PHASES[: self.phases]]
            case Measurand.CURRENT_OFFERED:
                return [value(self.current_per_phase(self.offered_w), UnitOfMeasure.A)]
            case Measurand.VOLTAGE:
                phases = VOLTAGE_PHASES[: self.phases]
                return [value(self.voltage, UnitOfMeasure.V, phase) for phase in phases]
            case Measurand.SOC:
                return [value(self.soc_percent, UnitOfMeasure.PERCENT, location=Location.EV)]
            case _:
                return []  # the configuration refuses measurands the meter cannot read

    def _interval_energy(self, context: ReadingContext) -> float:
        """Energy since the previous sample of the same context (`.Interval` measurands)."""
        start = self._interval_start_wh.get(context, self.register_wh)
        self._interval_start_wh[context] = self.register_wh
        return self.register_wh - start
