"""ocppd: an OCPP 1.6J protocol library, central system and charge point simulator."""

__version__ = "0.1.0"
