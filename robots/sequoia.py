"""Sequoia: containerized storage with a workstation port; fast (calibrated) or physics (gantry rack).

A stow line decants the units of an inbound carton into a tote and the gantry stores the tote (nearest
free slot by default); a pick line retrieves the tote to the port, units are picked, the tote goes back.

The decant (stow) and pick work at the port is a person's: a `Staff` command sets how many associates
work the port (the floor manager's "Sequoia decant" role) and how much faster than one they are
together (``speed_factor``). Each line's time is divided by it (the draws do not change, so the
station's random stream is the same whatever its staffing); with 0 associates the port starts no
line. Without a `Staff` command the port has its one person, as before.
Physics fidelity times the tote moves in `fctwin.robots.physics.sequoia_rack.SequoiaRack` at 240 Hz.
"""

from __future__ import annotations

import numpy as np

from fctwin.robots.contract import register
from fctwin.robots.distributions import make_sampler
from fctwin.robots.floor import FloorView
from fctwin.robots.messages import Serve
from fctwin.robots.station import LineOutcome, Staffed
from fctwin.robots.vulcan import ArmStation

Cell = tuple[int, int]

DECANT_PER_UNIT_S = 3.5  # a person moves one unit from carton to tote: no bin search (assumed)
PICK_PER_UNIT_S = 4.0  # a person picks one unit from a presented tote (assumed)
# How full a stow port's rack is when the run starts: the scene's storage fill (``pods.initial_fill_frac``,
# passed by the fleet host); this default is the scene schema's.
RACK_FILL_FRAC = 0.6


def stock_rack(rack, fill_frac: float, rng: np.random.Generator) -> None:
    """Put totes into ``round(fill_frac x slots)`` slots of an empty ``rack``, drawn at random: storage
    as the scene declares it when the run starts, not an empty rack whose nearest slots are all free."""
    slots = [(int(r), int(c)) for r, c in zip(*np.nonzero(rack.free), strict=True)]
    n = min(len(slots) - 1, int(round(fill_frac * rack.free.size)))  # one slot stays free for a store
    for k in sorted(rng.permutation(len(slots))[: max(0, n)].tolist()):
        rack.add_tote(slots[k])


@register
class SequoiaStation(Staffed, ArmStation):
    """A Sequoia workstation port (``kind`` stow: decant and store; pick: present totes)."""

    unit_type = "sequoia"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        kind: str = "stow",
        rack_fill_frac: float = RACK_FILL_FRAC,
        **kw,
    ):
        if not 0.0 <= rack_fill_frac <= 1.0:
            raise ValueError(f"rack_fill_frac must be in [0, 1], not {rack_fill_frac!r}")
        self.rack_fill_frac = float(rack_fill_frac)
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, kind=kind, **kw)
        self.accept_staff()

    def line_outcome(self, command: Serve, *, new_pod: bool, runner=None) -> LineOutcome:
        move = self._tote_move_sampler()
        if self.fidelity == "fast" and move is not None:
            # One tote move per line (stow: store the decanted tote; pick: bring the tote to the
            # port), as the physics does, plus the person's time per unit, which more people
            # shorten (the gantry does not get faster). The table used to carry the move in every
            # unit's time: a 4-unit pick line paid for four retrievals in fast runs, one in physics.
            duration = self._per_pod(self.rng) if new_pod else 0.0
            people_s = 0.0
            done = to_person = 0
            for _ in range(command.units):
                dt, ok = self._fast.sample(self.rng, self.class_of(command.sku))
                people_s += dt
                done, to_person = done + ok, to_person + (not ok)
            duration += people_s / self.speed_factor + move(self.rng)
            return LineOutcome(duration_s=duration, units_done=done, units_to_person=to_person)
        out = super().line_outcome(command, new_pod=new_pod, runner=runner)
        if self.speed_factor == 1.0 or self.fidelity == "physics":
            # Physics lines run on the floor's clock and divide the people's share per unit in
            # `physics_unit` (the gantry's moves do not get faster with more people).
            return out
        return LineOutcome(out.duration_s / self.speed_factor, out.units_done, out.units_to_person)

    def _tote_move_sampler(self):
        """The per-line tote move (s) of a table that has one (``tote_move_s``), else None: older
        tables folded the move into each unit's time and are sampled per unit as before."""
        if not hasattr(self, "_tote_move"):
            entry = next(iter(self._line_entry.values()), {})
            spec = self._line_entry.get("medium", entry).get("tote_move_s")
            self._tote_move = None if spec is None else make_sampler(spec)
        return self._tote_move

    def reset(self, *, seed: int | None = None):
        self._move_units_left = 0  # units of the current line still to report the tote move for
        self._move_share_s = 0.0
        return super().reset(seed=seed)

    def physics_unit(self, command: Serve, *, new_pod: bool) -> tuple[float, bool]:
        if self._cell is None:
            from fctwin.robots.physics.sequoia_rack import SequoiaRack

            self._cell = SequoiaRack(client_id=self.client_id, origin_world=self.origin_world)
            if self.kind == "stow":  # the rack holds the scene's stock (a pick rack is stocked below)
                stock_rack(self._cell, self.rack_fill_frac, self.rng)
        rack = self._cell
        per_unit = (DECANT_PER_UNIT_S if self.kind == "stow" else PICK_PER_UNIT_S) / self.speed_factor
        # One tote move per line, shared by its units: the move runs on the line's first unit and
        # each unit reports its share (it used to run one store per unit: 12x the gantry work).
        if self._move_units_left > 0:
            self._move_units_left -= 1
            return per_unit + self._move_share_s, True
        if self.kind == "stow":
            if not rack.free.any():
                rack.retrieve(next(iter(rack.totes)))  # make room: a tote leaves for a Blue Jay cell
            t, _ = rack.store()
        else:
            # A pick port's rack is stocked: the line's tote is the one holding its SKU, anywhere in
            # the rack, and goes back to its slot afterwards (the return is not timed, as in the
            # calibration's retrievals). It used to store a tote in the nearest slot and fetch that
            # one: every retrieval was the shortest one (2.8 s against 5.2 s over the rack).
            if not rack.totes:
                for slot in zip(*np.nonzero(rack.free), strict=True):
                    rack.add_tote((int(slot[0]), int(slot[1])))
            slots = sorted(rack.totes)
            slot = slots[command.sku % len(slots)]
            t = rack.retrieve(slot)
            rack.add_tote(slot)
        self._move_share_s = t / max(1, command.units)
        self._move_units_left = command.units - 1
        return per_unit + self._move_share_s, True

    @classmethod
    def for_checker(cls, floor) -> SequoiaStation:
        floor.carried[(2, 0)] = ("T-CHK", 0)
        return cls(unit_id="S-CHK", floor=floor, cell=(2, 0), kind="stow")

    def script(self) -> list[Serve]:
        return [Serve(1, self.unit_id, 11, "stow", 0, 5, 3), Serve(2, self.unit_id, 12, "stow", 0, 6, 1)]
