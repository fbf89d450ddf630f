"""Robot unit models: one module per unit type, one shared contract and its checker."""

from fctwin.robots.contract import RobotUnit, UnitSpec, register, registered_types

__all__ = ["RobotUnit", "UnitSpec", "register", "registered_types"]
