"""The agent's actions (one per lever) and `Levers`, which checks and applies them.

Every action is a small frozen dataclass with a ``kind`` and plain fields, so it is stored and
published as data (`as_dict`). `Levers.infeasible` says why an action cannot be done now (people
from a station that has none, a station that is out of service, more people than a station holds,
a drive-unit cap beyond the fleet); `Levers.apply` applies it through the labour board (with its
walking and set-up delays) or the dispatcher's entry points, and returns when it takes effect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fctwin.controller.eluna.labour import POOL, LabourBoard


@dataclass(frozen=True)
class MoveAssociates:
    source: str  # a station id or "pool"
    target: str
    n: int = 1
    kind: str = "move_associates"


@dataclass(frozen=True)
class SetDriveSplit:
    stow_unit_cap: int | None  # most drive units on stow trips at once (None: no cap)
    kind: str = "drive_split"


@dataclass(frozen=True)
class SetChargeThreshold:
    frac: float  # idle units at or below this charge go to a free pad
    kind: str = "charge_threshold"


Action = MoveAssociates | SetDriveSplit | SetChargeThreshold


def merge_moves(moves: list[MoveAssociates]) -> list[Action]:
    """Single-person moves with the same source and target as one move of several people."""
    count: dict[tuple[str, str], int] = {}
    for m in moves:
        count[(m.source, m.target)] = count.get((m.source, m.target), 0) + m.n
    return [MoveAssociates(a, b, n) for (a, b), n in count.items()]


def as_dict(action: Action) -> dict:
    return asdict(action)


# kind -> action class; `fctwin.controller.eluna.floor_actions` adds the floor levers' actions
ACTION_TYPES: dict[str, type] = {
    "move_associates": MoveAssociates,
    "drive_split": SetDriveSplit,
    "charge_threshold": SetChargeThreshold,
}


def from_dict(data: dict) -> Action:
    """The action ``data`` describes (`as_dict`'s output). KeyError for an unknown kind, TypeError
    or ValueError for fields that do not fit it."""
    import fctwin.controller.eluna.floor_actions  # noqa: F401 - registers its kinds

    cls = ACTION_TYPES[data["kind"]]
    return cls(**data)


class Levers:
    """Checks and applies actions on one dispatcher and its labour board."""

    def __init__(self, d, board: LabourBoard):
        self.d = d
        self.board = board

    def infeasible(self, action: Action) -> str | None:
        if isinstance(action, MoveAssociates):
            return self.board.infeasible(action.source, action.target, action.n)
        if isinstance(action, SetDriveSplit):
            cap = action.stow_unit_cap
            if cap is not None and not 0 <= cap <= len(self.d.units):
                return f"stow unit cap {cap} outside 0..{len(self.d.units)}"
            return None
        if isinstance(action, SetChargeThreshold):
            if not 0.0 <= action.frac <= 0.95:
                return f"charge threshold {action.frac} outside 0..0.95"
            return None
        check = getattr(action, "infeasible_on", None)  # the floor levers' actions check themselves
        if check is not None:
            return check(self.d, self.board)
        return f"unknown action {action!r}"

    def apply(self, action: Action, t_s: float) -> float:
        """Apply ``action`` at ``t_s``; returns when it takes effect. ValueError if infeasible."""
        why = self.infeasible(action)
        if why is not None:
            raise ValueError(why)
        if isinstance(action, MoveAssociates):
            return self.board.move(t_s, action.source, action.target, action.n, self.d)
        if isinstance(action, SetDriveSplit):
            self.d.set_drive_split(action.stow_unit_cap)
        elif isinstance(action, SetChargeThreshold):
            self.d.set_charge_threshold(action.frac)
        else:
            return action.apply_on(self.d, self.board, t_s)
        return t_s


def open_work_units(d) -> tuple[int, int]:
    """Units of work not yet done: (pick units on open and unassigned orders, stow units waiting)."""
    pick = sum(ln.units for o in d.backlog for ln in d.orders[o].order.lines)
    stow = 0
    for s in d.stations:
        units = sum(ln.units for ln in s.pending) + sum(
            ln.units for t in s.queue for ln in t.lines if id(ln) not in t.served
        )
        if s.kind == "pick":
            pick += units
        else:
            stow += units
    for t in d.trips:
        n = sum(ln.units for ln in t.lines)
        if t.kind == "pick":
            pick += n
        else:
            stow += n
    for u in d.units:
        t = u.trip
        if t is not None and t not in d.stations[t.station].queue and t.phase <= 2:
            n = sum(ln.units for ln in t.lines)
            if t.kind == "pick":
                pick += n
            else:
                stow += n
    return pick, stow


__all__ = [
    "ACTION_TYPES",
    "POOL",
    "Action",
    "Levers",
    "MoveAssociates",
    "SetChargeThreshold",
    "SetDriveSplit",
    "as_dict",
    "from_dict",
    "open_work_units",
]
