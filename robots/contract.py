"""The robot-unit contract every unit type implements, and its registry.

In the spirit of Gymnasium's `Env`: a unit declares its limits (`UnitSpec`), the commands it
accepts, resets with a keyword-only seed, takes commands, advances by a time step and reports its
state and events. A simulated unit and a hardware unit behind the network speak the same contract,
so the dispatcher cannot tell them apart. `fctwin.robots.checker.check_unit` verifies any implementation.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

from fctwin.robots.messages import Command, UnitEvent, UnitState


@dataclass(frozen=True, kw_only=True)
class UnitSpec:
    """Static limits of one unit type.

    Footprint is the unit's extent on the floor in metres (length along its heading, width).
    """

    unit_type: str
    footprint_m: tuple[float, float]
    max_speed_mps: float = 0.0
    accel_mps2: float = 0.0
    turn_90_s: float = 0.0
    payload_kg: float = 0.0
    accepted_commands: frozenset[str] = field(default_factory=frozenset)
    reported_modes: frozenset[int] = field(default_factory=frozenset)


class RobotUnit(abc.ABC):
    """One robot unit (simulated or a proxy for hardware).

    Life cycle: construct, ``reset(seed=...)``, then repeatedly ``handle(command)`` for the
    commands addressed to it and ``step(t_s, dt_s)`` to advance time; read ``state()`` at any time.
    ``handle`` and ``step`` return the events they produced (possibly empty). A command the unit
    cannot execute yields a ``refused`` event naming the reason, never an exception.
    """

    unit_type: ClassVar[str]
    spec: UnitSpec
    unit_id: str

    @abc.abstractmethod
    def reset(self, *, seed: int | None = None) -> UnitState:
        """Return the unit to its initial state; seed its private random stream."""

    @abc.abstractmethod
    def handle(self, command: Command, t_s: float) -> list[UnitEvent]:
        """Accept (or refuse) one command at simulated time ``t_s``."""

    @abc.abstractmethod
    def step(self, t_s: float, dt_s: float) -> list[UnitEvent]:
        """Advance the unit from ``t_s - dt_s`` to ``t_s``."""

    @abc.abstractmethod
    def state(self) -> UnitState:
        """Current telemetry of the unit."""

    @classmethod
    def for_checker(cls, floor) -> RobotUnit:
        """A default instance on ``floor`` (a `fctwin.robots.checker.CheckerFloor`) for the contract checker.

        ``floor`` has a pod (id 0) standing on (2, 2), a pick station cell at (2, 0) and a charging pad
        at (0, 2); the unit should be placed where it can act (drive units on (2, 1)).
        """
        raise NotImplementedError(f"{cls.__name__} does not provide for_checker()")

    def script(self) -> list[Command]:
        """Commands that exercise this unit for the checker (accepted ones)."""
        return []


_REGISTRY: dict[str, type[RobotUnit]] = {}


def register(cls: type[RobotUnit]) -> type[RobotUnit]:
    """Class decorator: make a unit type known to the registry (and so to the checker tests)."""
    name = cls.unit_type
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"unit type {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def registered_types() -> dict[str, type[RobotUnit]]:
    """All registered unit types, importing the built-in ones first."""
    import fctwin.robots.builtin  # noqa: F401  (imports register the built-in unit types)

    return dict(_REGISTRY)
