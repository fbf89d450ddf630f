"""The Eluna layer: levers, state digest, forecasts, what-if lookahead, recommendations, actions.

docs/eluna.md describes the whole; each module says what it does. The parts that drive
simulations (the lookahead on a fork of the twin, the run loop's hooks) live in `fctwin.sim.eluna`,
behind the `Lookahead` protocol here.
"""

from fctwin.controller.eluna.actions import (
    POOL,
    Action,
    Levers,
    MoveAssociates,
    SetChargeThreshold,
    SetDriveSplit,
    open_work_units,
)
from fctwin.controller.eluna.agent import ElunaAgent, Lookahead, Recommendation, objective
from fctwin.controller.eluna.digest import DigestBuilder
from fctwin.controller.eluna.forecast import HORIZONS_MIN, Forecaster
from fctwin.controller.eluna.labour import BreakPlan, LabourBoard, LabourConfig, Outage, RateModel
from fctwin.controller.eluna.shiftlead import FROZEN, ShiftLead, ShiftLeadRules

__all__ = [
    "FROZEN",
    "HORIZONS_MIN",
    "POOL",
    "Action",
    "BreakPlan",
    "DigestBuilder",
    "ElunaAgent",
    "Forecaster",
    "LabourBoard",
    "LabourConfig",
    "Levers",
    "Lookahead",
    "MoveAssociates",
    "Outage",
    "RateModel",
    "Recommendation",
    "SetChargeThreshold",
    "SetDriveSplit",
    "ShiftLead",
    "ShiftLeadRules",
    "objective",
    "open_work_units",
]
