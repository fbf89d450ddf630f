"""A station worked by a person: service times from the scene's distributions."""

from __future__ import annotations

from collections.abc import Mapping

from fctwin.robots.contract import register
from fctwin.robots.distributions import make_sampler
from fctwin.robots.floor import FloorView
from fctwin.robots.messages import Serve
from fctwin.robots.station import LineOutcome, Staffed, StationUnit

Cell = tuple[int, int]

DEFAULT_PER_POD = {"dist": "constant", "value": 2.0}
DEFAULT_PER_UNIT = {"dist": "lognormal", "mean": 10.0, "cv": 0.3}  # RAWSim-O: 10 s per item


@register
class HumanStation(Staffed, StationUnit):
    """Per pod visit ``per_pod_s``; per unit ``per_unit_s`` (each a distribution mapping).

    The distributions are one associate's times. A `Staff` command sets how many associates work
    the station and how much faster than one they are together (``speed_factor``): every line's
    drawn duration is divided by it (the draws themselves do not change, so a station's random
    stream is the same whatever its staffing). With 0 associates the station starts no line.
    """

    unit_type = "human"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        kind: str = "pick",
        per_pod_s: Mapping = DEFAULT_PER_POD,
        per_unit_s: Mapping = DEFAULT_PER_UNIT,
    ):
        self._per_pod = make_sampler(per_pod_s)
        self._per_unit = make_sampler(per_unit_s)
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, kind=kind)
        self.accept_staff()

    def line_outcome(self, command: Serve, *, new_pod: bool) -> LineOutcome:
        duration = self._per_pod(self.rng) if new_pod else 0.0
        duration += sum(self._per_unit(self.rng) for _ in range(command.units))
        if self.speed_factor != 1.0:
            duration /= self.speed_factor
        return LineOutcome(duration_s=duration, units_done=command.units, units_to_person=0)

    @classmethod
    def for_checker(cls, floor) -> HumanStation:
        floor.carried[(2, 0)] = ("T-CHK", 0)  # a drive unit presents pod 0 at the station
        return cls(unit_id="P-CHK", floor=floor, cell=(2, 0), kind="pick")

    def script(self) -> list[Serve]:
        return [Serve(1, self.unit_id, 11, "pick", 0, 5, 2), Serve(2, self.unit_id, 12, "pick", 0, 6, 1)]
