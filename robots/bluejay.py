"""Blue Jay: several arms over one shared work area doing pick, stow and consolidation in one place.

Fast fidelity samples per-unit cycle times from the calibrated table (for the default 3-arm cell) and
scales them by the cell's arm count with the throughput curve ``bluejay_arms_units_per_h`` measured in
physics. Physics fidelity runs `fctwin.robots.physics.bluejay_cell.BlueJayCell` (all arms on one table,
workspace reservation) and times each unit as the simulated time until the cell finishes one more.
"""

from __future__ import annotations

from fctwin.robots.contract import register
from fctwin.robots.data import load_station_models
from fctwin.robots.floor import FloorView
from fctwin.robots.messages import Serve
from fctwin.robots.station import LineOutcome
from fctwin.robots.vulcan import ArmStation

Cell = tuple[int, int]

DEFAULT_ARMS = 3


@register
class BlueJayStation(ArmStation):
    """A Blue Jay cell with ``arms`` arms (1-4)."""

    unit_type = "bluejay"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        kind: str = "pick",
        arms: int = DEFAULT_ARMS,
        **kw,
    ):
        if not 1 <= arms <= 4:
            raise ValueError(f"a Blue Jay cell has 1-4 arms, not {arms}")
        self.arms = arms
        curve = load_station_models(kw.get("models_path")).get("bluejay_arms_units_per_h", {})
        base = curve.get(str(DEFAULT_ARMS))
        self._time_scale = base / curve[str(arms)] if base and str(arms) in curve else DEFAULT_ARMS / arms
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, kind=kind, **kw)

    def reset(self, *, seed: int | None = None):
        self._finished: list[bool] = []  # outcomes of units the cell finished in the same step as another
        return super().reset(seed=seed)

    def line_outcome(self, command: Serve, *, new_pod: bool, runner=None) -> LineOutcome:
        if self.fidelity == "physics":  # the cell's own arm count is in the physics already
            return ArmStation.line_outcome(self, command, new_pod=new_pod, runner=runner)
        out = super().line_outcome(command, new_pod=new_pod)
        return LineOutcome(out.duration_s * self._time_scale, out.units_done, out.units_to_person)

    def physics_unit(self, command: Serve, *, new_pod: bool) -> tuple[float, bool]:
        """Simulated seconds until the cell's arms finish one more unit (the cell keeps all arms busy)."""
        if self._finished:  # finished in the same physics step as the previous unit
            return 0.0, self._finished.pop(0)
        dt_s, done, failed = self._physics_cell().run_units(1)
        outcomes = [True] * done + [False] * failed
        if not outcomes:
            return dt_s, False
        self._finished.extend(outcomes[1:])
        return dt_s, outcomes[0]

    def _physics_cell(self):
        if self._cell is None:
            from fctwin.robots.physics.bluejay_cell import (
                BlueJayCell,
            )  # pybullet only when physics is asked for

            seed = int(self.rng.integers(2**31))
            self._cell = BlueJayCell(
                arms=self.arms, seed=seed, client_id=self.client_id, origin_world=self.origin_world
            )
        return self._cell

    @classmethod
    def for_checker(cls, floor) -> BlueJayStation:
        floor.carried[(2, 0)] = ("T-CHK", 0)
        return cls(unit_id="B-CHK", floor=floor, cell=(2, 0), kind="pick")

    def script(self) -> list[Serve]:
        return [Serve(1, self.unit_id, 11, "pick", 0, 5, 2), Serve(2, self.unit_id, 12, "pick", 0, 6, 1)]
