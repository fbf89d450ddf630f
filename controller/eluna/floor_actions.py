"""Actions on the floor levers beyond staffing: order release and station weights, traffic rules,
pre-positioning pods.

Each action is a frozen dataclass like those of `fctwin.controller.eluna.actions` (``kind`` plus
plain fields, stored and published as data) that also carries its own feasibility check
(`infeasible_on`), its application through the dispatcher's lever entry points (`apply_on`, which
returns when it takes effect) and a sentence for the recommendation (`describe`). `Levers`
delegates to these methods, so the agent, the lookahead (in its fork) and the console's Accept all
apply them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from fctwin.controller.eluna.actions import ACTION_TYPES


def _cells(cells) -> tuple[tuple[int, int], ...]:
    return tuple((int(r), int(c)) for r, c in cells)


@dataclass(frozen=True)
class SetOrderRelease:
    """Orders released at most at ``orders_per_min`` (None: no limit; 0: hold) and steered between
    pick stations by ``weights`` (pairs (station, weight); None: keep the current weights)."""

    orders_per_min: float | None = None
    weights: tuple[tuple[str, float], ...] | None = None
    kind: str = "order_release"

    def __post_init__(self):
        if self.weights is not None:
            object.__setattr__(self, "weights", tuple((str(s), float(w)) for s, w in self.weights))

    def infeasible_on(self, d, board) -> str | None:
        if self.orders_per_min is not None and not 0.0 <= self.orders_per_min <= 10_000.0:
            return f"release rate {self.orders_per_min} outside 0..10000 orders/min"
        picks = {s.station_id for s in d.stations if s.kind == "pick"}
        for sid, w in self.weights or ():
            if sid not in picks:
                return f"{sid} is not a pick station"
            if not 0.0 <= w <= 100.0:
                return f"weight {w} for {sid} outside 0..100"
            if w > 0 and d.stations[d.station_index[sid]].associates <= 0:
                return f"{sid} is closed: it cannot take orders"
        if self.weights:
            weight = dict(self.weights)
            open_picks = [s.station_id for s in d.stations if s.kind == "pick" and s.associates > 0]
            if open_picks and not any(weight.get(sid, 1.0) > 0 for sid in open_picks):
                return "every open pick station would get weight 0: no order could be assigned"
        return None

    def apply_on(self, d, board, t_s: float) -> float:
        d.set_order_release(self.orders_per_min, None if self.weights is None else dict(self.weights))
        return t_s

    def describe(self, clock) -> str:
        parts = []
        if self.orders_per_min is None:
            parts.append("release orders to the floor without limit")
        elif self.orders_per_min == 0:
            parts.append("hold new orders in the backlog")
        else:
            parts.append(f"release at most {self.orders_per_min:.1f} orders/min to the pick stations")
        if self.weights:
            w = ", ".join(f"{s} {x:.2f}" for s, x in self.weights)
            parts.append(f"weight order assignment {w}")
        elif self.weights is not None:
            parts.append("assign orders by the scene's rule again (no station weights)")
        return " and ".join(parts) + " now"


@dataclass(frozen=True)
class CloseCells:
    cells: tuple[tuple[int, int], ...]
    kind: str = "close_cells"

    def __post_init__(self):
        object.__setattr__(self, "cells", _cells(self.cells))

    def infeasible_on(self, d, board) -> str | None:
        from fctwin.controller.traffic import closure_problem

        return closure_problem(d, self.cells)

    def apply_on(self, d, board, t_s: float) -> float:
        d.close_cells(self.cells)  # the planner respects it from the next step
        return t_s

    def describe(self, clock) -> str:
        return f"close cells {', '.join(map(str, self.cells))} to drive units now"


@dataclass(frozen=True)
class OpenCells:
    cells: tuple[tuple[int, int], ...]
    kind: str = "open_cells"

    def __post_init__(self):
        object.__setattr__(self, "cells", _cells(self.cells))

    def infeasible_on(self, d, board) -> str | None:
        shut = [c for c in self.cells if c not in d.traffic_closed]
        return f"cells {shut} are not closed by a traffic rule" if shut else None

    def apply_on(self, d, board, t_s: float) -> float:
        d.open_cells(self.cells)
        return t_s

    def describe(self, clock) -> str:
        return f"reopen cells {', '.join(map(str, self.cells))} now"


@dataclass(frozen=True)
class SetOneWay:
    direction: str
    cells: tuple[tuple[int, int], ...]
    kind: str = "one_way"

    def __post_init__(self):
        object.__setattr__(self, "cells", _cells(self.cells))

    def rule(self):
        from fctwin.controller.traffic import OneWay

        return OneWay(self.direction, self.cells)

    def infeasible_on(self, d, board) -> str | None:
        from fctwin.controller.traffic import HEADINGS, one_way_problem

        if self.direction not in HEADINGS:
            return f"direction {self.direction!r} is not one of E, S, W, N"
        if not self.cells:
            return "no cells"
        if any(r.cells == self.cells and r.direction == self.direction for r in d.one_way.values()):
            return "that rule is already set"
        return one_way_problem(d, self.rule())

    def apply_on(self, d, board, t_s: float) -> float:
        d.lever_rules_by_agent.add(d.set_one_way(self.rule()))
        return t_s

    def describe(self, clock) -> str:
        (r0, c0), (r1, c1) = self.cells[0], self.cells[-1]
        where = f"row {r0}, columns {c0}-{c1}" if r0 == r1 else f"column {c0}, rows {r0}-{r1}"
        return f"make {where} one-way {self.direction} now"


@dataclass(frozen=True)
class ClearOneWay:
    rule_id: int
    kind: str = "clear_one_way"

    def infeasible_on(self, d, board) -> str | None:
        return None if self.rule_id in d.one_way else f"no one-way rule {self.rule_id}"

    def apply_on(self, d, board, t_s: float) -> float:
        d.clear_one_way(self.rule_id)
        return t_s

    def describe(self, clock) -> str:
        return f"lift one-way rule {self.rule_id} now"


@dataclass(frozen=True)
class PrepositionPods:
    station: str
    n: int = 4
    kind: str = "preposition"

    def infeasible_on(self, d, board) -> str | None:
        from fctwin.controller.preposition import preposition_problem

        return preposition_problem(d, self.station, self.n)

    def apply_on(self, d, board, t_s: float) -> float:
        d.preposition_pods(self.station, self.n)
        return t_s

    def describe(self, clock) -> str:
        return f"bring the {self.n} most wanted pods next to pick {self.station} with idle drive units now"


for _cls in (SetOrderRelease, CloseCells, OpenCells, SetOneWay, ClearOneWay, PrepositionPods):
    ACTION_TYPES[_cls.kind] = _cls  # type: ignore[attr-defined]

FLOOR_ACTIONS = (SetOrderRelease, CloseCells, OpenCells, SetOneWay, ClearOneWay, PrepositionPods)

__all__ = [
    "FLOOR_ACTIONS",
    "ClearOneWay",
    "CloseCells",
    "OpenCells",
    "PrepositionPods",
    "SetOneWay",
    "SetOrderRelease",
]
