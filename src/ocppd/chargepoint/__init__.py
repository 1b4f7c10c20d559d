"""The charge point simulator: stations that behave as OCPP 1.6J chargers do."""

from ocppd.chargepoint.clock import Clock
from ocppd.chargepoint.configuration import Configuration
from ocppd.chargepoint.station import ChargerModel, Station
from ocppd.chargepoint.stats import Stats

__all__ = ["ChargerModel", "Clock", "Configuration", "Station", "Stats"]
