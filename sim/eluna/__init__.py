"""The simulation side of Eluna: the run's floor manager and the what-if lookahead on a fork.

`fctwin.controller.eluna` holds the agent, its models and the shift lead; this package runs them
inside a run (docs/eluna.md).
"""

from fctwin.sim.eluna.lookahead import ForkLookahead, fresh_generator
from fctwin.sim.eluna.manager import MODES, FloorManager, labour_config, service_seconds

__all__ = ["MODES", "FloorManager", "ForkLookahead", "fresh_generator", "labour_config", "service_seconds"]
