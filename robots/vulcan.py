"""Vulcan: a stow/pick arm at a pod station, fast (calibrated tables) or physics (PyBullet cell).

Fast fidelity samples each unit's duration and success from ``robots/data/station_models.json``
(per item class); physics fidelity runs every unit through `fctwin.robots.physics.vulcan_cell.VulcanCell`
at 240 Hz and reports its simulated duration. A unit the arm gives up on is handed to a person
(``to_person``), still counted as moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from fctwin.robots.contract import register
from fctwin.robots.data import FastLineModel, item_class, load_station_models
from fctwin.robots.distributions import make_sampler
from fctwin.robots.floor import FloorView
from fctwin.robots.messages import Serve
from fctwin.robots.station import LineOutcome, StationUnit

Cell = tuple[int, int]

DEFAULT_PER_POD = {"dist": "constant", "value": 2.0}  # pod arrives, the face is imaged
MEDIUM_ITEM_M = (0.06, 0.10, 0.08)
MEDIUM_ITEM_KG = 0.5
PERSON_HANDOFF_S = 2.0  # the arm puts a failed item on the person's shelf (assumed)
# A packaging's own rate of attempts is used from this many calibration attempts of the class on;
# fewer, and the class's rate over every packaging (a handful of trials is mostly noise).
MIN_PACKAGING_TRIALS = 10


class ArmStation(StationUnit):
    """Shared parts of the arm stations: SKU lookup, fast tables, fidelity switch."""

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        kind: str,
        fidelity: str = "fast",
        model: Mapping | None = None,
        models_path: str | None = None,
        per_pod_s: Mapping = DEFAULT_PER_POD,
        success_rate: float | None = None,
        sku_sizes_m: np.ndarray | None = None,
        sku_mass_kg: np.ndarray | None = None,
        item_class_of: Callable[[int], str] | None = None,
        client_id: int | None = None,
        origin_world=(0.0, 0.0, 0.0),
        footprint_m=(2.0, 2.0),
    ):
        if fidelity not in ("fast", "physics"):
            raise ValueError(f"fidelity must be 'fast' or 'physics', not {fidelity!r}")
        self.fidelity = fidelity
        table = model if model is not None else load_station_models(models_path)["models"][self.unit_type]
        if kind not in table:
            raise ValueError(f"no calibrated {self.unit_type} model for {kind!r} lines")
        entry = dict(table[kind])
        if success_rate is not None:  # the scene overrides the calibrated success rate (of all units)
            entry = {
                c: {k: v for k, v in {**e, "success_rate": success_rate}.items() if k != "attempts"}
                for c, e in entry.items()
            }
        self._fast = FastLineModel(entry)
        self._line_entry = entry  # the kind's table ({class: entry}): subclasses read extra keys
        self._per_pod = make_sampler(per_pod_s)
        self.sku_sizes_m = None if sku_sizes_m is None else np.asarray(sku_sizes_m, dtype=np.float64)
        self.sku_mass_kg = None if sku_mass_kg is None else np.asarray(sku_mass_kg, dtype=np.float64)
        self._item_class_of = item_class_of
        self.client_id = client_id
        self.origin_world = origin_world
        self._cell = None
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, kind=kind, footprint_m=footprint_m)

    def reset(self, *, seed: int | None = None):
        # A physics cell is rebuilt on reset so that the same seed replays the same physics.
        if getattr(self, "_runner", None) is not None:
            self._runner.close()
        self._runner = None
        if getattr(self, "_cell", None) is not None:
            self._cell.close()
            self._cell = None
        return super().reset(seed=seed)

    def begin_line(self, command: Serve, *, new_pod: bool) -> bool:
        """Physics lines run on the floor's clock (`fctwin.robots.line_runner`): the arm works while
        drive units queue and move, instead of the whole line's physics at the line's start."""
        if self.fidelity != "physics":
            return False
        from fctwin.robots.line_runner import LineRunner

        self._runner = LineRunner(lambda runner: self.line_outcome(command, new_pod=new_pod, runner=runner))
        return True

    def advance_line(self, t_s: float) -> LineOutcome | None:
        out = self._runner.advance(t_s - self._line_start_s)
        if out is not None:
            self._runner = None
        return out

    def item_of(self, sku: int) -> tuple[tuple[float, float, float], float]:
        """(size_m (w, d, h), mass_kg) of a SKU; a medium item when the catalogue is not given."""
        if self.sku_sizes_m is not None and 0 <= sku < len(self.sku_sizes_m):
            size = tuple(sorted(self.sku_sizes_m[sku].tolist()))  # thinnest across, tallest up
            mass = float(self.sku_mass_kg[sku]) if self.sku_mass_kg is not None else MEDIUM_ITEM_KG
            return (size[0], size[1], size[2]), mass
        return MEDIUM_ITEM_M, MEDIUM_ITEM_KG

    def class_of(self, sku: int) -> str:
        if self._item_class_of is not None:
            return self._item_class_of(sku)
        if self.sku_sizes_m is not None and 0 <= sku < len(self.sku_sizes_m):
            return item_class(self.sku_sizes_m[sku])
        return "medium"

    def line_outcome(self, command: Serve, *, new_pod: bool, runner=None) -> LineOutcome:
        """``runner``: the line runs on the floor's clock (`LineRunner`); the pod's imaging and each
        unit's non-motion time are spent on it as they come, the physics steps gate themselves."""
        duration = self._per_pod(self.rng) if new_pod else 0.0
        if runner is not None:
            runner.spend(duration)
        done = to_person = 0
        for _ in range(command.units):
            if self.fidelity == "physics":
                dt, ok = self.physics_unit(command, new_pod=new_pod)
                new_pod = False
            else:
                dt, ok = self.fast_unit(command)
            duration += dt
            if ok:
                done += 1
            else:
                to_person += 1
                duration += PERSON_HANDOFF_S
            if runner is not None:
                runner.spend(duration)
        return LineOutcome(duration_s=duration, units_done=done, units_to_person=to_person)

    def fast_unit(self, command: Serve) -> tuple[float, bool]:
        """(duration_s, success) of one unit from the calibrated table (fast fidelity)."""
        return self._fast.sample(self.rng, self.class_of(command.sku))

    def physics_unit(self, command: Serve, *, new_pod: bool) -> tuple[float, bool]:
        raise NotImplementedError

    def attach_world(self, client_id: int, origin_world) -> None:
        """Build the physics cell in another client (a world's, to be seen), its frame at ``origin_world``.

        The client gets gravity and the 240 Hz step the cells assume (world bodies have mass 0, so
        neither moves them). Cells sharing one client step each other's bodies too: fine to watch,
        but runs that must be reproducible give each cell its own client (the default).
        """
        import pybullet as p

        from fctwin.robots.physics.engine import GRAVITY_MPS2, SIM_HZ

        p.setGravity(0, 0, -GRAVITY_MPS2, physicsClientId=client_id)
        p.setTimeStep(1.0 / SIM_HZ, physicsClientId=client_id)
        self.close()
        self.client_id, self.origin_world = int(client_id), tuple(origin_world)

    def close(self) -> None:
        if self._cell is not None:
            self._cell.close()
            self._cell = None


@register
class VulcanStation(ArmStation):
    """A Vulcan arm at a pod station. ``rows_for_people``: lowest pod rows left to people."""

    unit_type = "vulcan"

    def __init__(
        self,
        *,
        unit_id: str,
        floor: FloorView,
        cell: Cell,
        kind: str = "stow",
        rows_for_people: int = 0,
        **kw,
    ):
        self.rows_for_people = rows_for_people
        self._split_samplers: dict = {}  # (item class, packaging) -> samplers of the split table
        self._refused: dict[int, bool] = {}  # SKU -> the arm refuses it (`refusal_reason`)
        super().__init__(unit_id=unit_id, floor=floor, cell=cell, kind=kind, **kw)

    def _physics_cell(self):
        if self._cell is None:
            from fctwin.robots.physics.vulcan_cell import (
                VulcanCell,
            )  # pybullet only when physics is asked for

            self._cell = VulcanCell(
                client_id=self.client_id,
                origin_world=self.origin_world,
                rows_for_people=self.rows_for_people,
                seed=int(self.rng.integers(2**31)),  # the cell's own draws, from the station's stream
            )
        return self._cell

    def packaging_of(self, sku: int) -> str:
        """A SKU's packaging (box, bag, fragile): fixed per SKU id from the declared item mix."""
        if self.sku_sizes_m is not None and 0 <= sku < len(self.sku_sizes_m):
            from fctwin.robots.data.item_mix import kind_of_sku

            return kind_of_sku(sku)
        return "box"

    def fast_unit(self, command: Serve) -> tuple[float, bool]:
        """One unit from the table. With the scene's catalogue and a table that keeps refusals apart
        (``attempts``, ``refused_s``), the arm refuses exactly the SKUs the physics cell refuses
        (`refusal_reason`: fragile, too heavy, floppy bags, too big for every bin) and the others
        succeed at the calibrated rate of attempts for their class and packaging. Otherwise the
        class's success rate over all units (refusals of the calibration mix included), as before."""
        cls = self.class_of(command.sku)
        entry = self._line_entry.get(cls) or self._line_entry.get("medium", {})
        sku = command.sku
        if "attempts" not in entry or self.sku_sizes_m is None or not 0 <= sku < len(self.sku_sizes_m):
            return super().fast_unit(command)
        kind = self.packaging_of(sku)
        key = (cls, kind)
        if key not in self._split_samplers:
            from fctwin.robots.vulcan_params import refusal_reason

            e = self._attempts_entry(cls, kind)
            self._split_samplers[key] = (
                make_sampler(entry["refused_s"]),
                float(e["success_rate"]),
                make_sampler(e["cycle_s"]),
                make_sampler(e.get("fail_s", e["cycle_s"])),
            )
            self._refusal_fn = refusal_reason
        if sku not in self._refused:
            size, mass = self.item_of(sku)
            self._refused[sku] = bool(self._refusal_fn(size, mass, kind))
        refused_s, rate, ok_s, fail_s = self._split_samplers[key]
        if self._refused[sku]:
            return refused_s(self.rng), False
        if self.rng.random() < rate:
            return ok_s(self.rng), True
        return fail_s(self.rng), False

    def _attempts_entry(self, cls: str, kind: str) -> dict:
        """The calibrated attempts for this class and packaging; with fewer than
        ``MIN_PACKAGING_TRIALS`` of them, the same packaging in the class where it was tried most
        (packaging moves pick success far more than size does: bags 78%, boxes 96% at seed 0, while
        the mix's flattened bags are almost all small, 4 medium ones), else the class's overall."""
        entry = self._line_entry.get(cls) or self._line_entry["medium"]
        own = entry["attempts"].get(kind)
        if own is not None and own["trials"] >= MIN_PACKAGING_TRIALS:
            return own
        same = [e["attempts"][kind] for e in self._line_entry.values() if kind in e.get("attempts", {})]
        best = max(same, key=lambda e: e["trials"], default=None)
        if best is not None and best["trials"] >= MIN_PACKAGING_TRIALS:
            return best
        return entry["attempts"]["all"]

    def physics_unit(self, command: Serve, *, new_pod: bool) -> tuple[float, bool]:
        from fctwin.robots.calibration import POD_FILL_FRAC

        cell = self._physics_cell()
        if new_pod:
            cell.load_pod(self.rng, fill_frac=POD_FILL_FRAC)
        size, mass = self.item_of(command.sku)
        kind = self.packaging_of(command.sku)
        if self.kind == "stow":
            res = cell.stow(size, mass, kind=kind)
            return res.duration_s, res.success
        # Pick: types the arm refuses go to a person; otherwise the pod holds the SKU in some bin
        # (placed where the occupancy map has room, sometimes with an item lying on it).
        if cell.refusal(size, mass, kind):
            return cell.perceive_s(), False
        item_id = cell.place_for_pick(
            size, mass, kind, stack=bool(cell.rng.random() < cell.params.stack_share)
        )
        if item_id is None:
            return cell.perceive_s(), False
        res = cell.pick(item_id)
        return res.duration_s, res.success

    @classmethod
    def for_checker(cls, floor) -> VulcanStation:
        floor.carried[(2, 0)] = ("T-CHK", 0)
        return cls(unit_id="V-CHK", floor=floor, cell=(2, 0), kind="stow")

    def script(self) -> list[Serve]:
        return [Serve(1, self.unit_id, 11, "stow", 0, 5, 2), Serve(2, self.unit_id, 12, "stow", 0, 6, 1)]
