"""The central system, injected into every handler: its database and live connections."""

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from ocppd.csms.central_system import CentralSystem

System = NamedDependency[CentralSystem]


def _from_state(state: State) -> CentralSystem:
    system: CentralSystem = state.system
    return system


PROVIDE = {"system": Provide(_from_state, sync_to_thread=False)}
