"""Baseline (b): the reactive rule-based shift lead (ELUNA.md), with frozen thresholds.

What a competent shift lead does from what they can see now, without prediction, every
``period_min`` minutes, with the same levers and delays as the agent:

1. **Move people to a queue.** When a station's pressure (minutes of work waiting at its staffing,
   `fctwin.controller.eluna.pressure`) exceeds ``queue_hi_min`` for two consecutive checks, move
   one associate to it: from the pool if someone floats, else from the station with the lowest
   pressure below ``queue_lo_min`` (never the last open station of its kind).
2. **Open a closed station** when every open station of its kind exceeds ``queue_hi_min`` (same
   source rule).
3. **Close a station** whose pressure stays below ``close_below_min`` for three checks while
   another station of its kind is open: its people go to the pool (``None``: never close).
4. **Charging**: raise the opportunity-charging threshold to ``charge_high`` when more than
   ``battery_share`` of the fleet is below ``battery_low``; back to the plan's when fewer are.

RAWSim-O's `BacklogThresholdStationManager` (activate on backlog, deactivate on low utilisation,
minimum time between switches) is the model; the minimum time here is the check period and the
walking delay. Thresholds are tuned once on the balanced default scene (benchmarks/eluna.py
``--tune``, a grid documented in docs/eluna.md) and frozen in `FROZEN`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fctwin.controller.eluna.actions import POOL, Action, MoveAssociates, SetChargeThreshold
from fctwin.controller.eluna.pressure import pressures


@dataclass(frozen=True)
class ShiftLeadRules:
    period_min: int = 10
    queue_hi_min: float = 12.0
    queue_lo_min: float = 1.5
    close_below_min: float | None = None
    battery_low: float = 0.35
    battery_share: float = 0.3
    charge_high: float = 0.7


# Tuned on eluna_balanced (benchmarks/eluna.py --tune, 2026-12-06): best mean units per labour hour
# among the rules that keep 99% of the static plan's units per hour. On the balanced floor after the
# merge of fc_small's balanced shift (seeds 1-3), every hi/lo in {4, 8, 12} x {1.5, 3} without
# closing gave 94.5 units per labour hour and 732 units/h (the lead never needs to act); closing
# below 1 minute of work gave 110-119 units per labour hour but only 391-500 units/h (it closes
# stations faster than the backlog rule reopens them), so closing is off. On the first floor (before
# the merge, seeds 1-4): hi/lo 4/1.5 188.1, 4/3 183.5, 8/1.5 187.0, 8/3 177.7, 12/1.5 189.8, 12/3 183.0.
FROZEN = ShiftLeadRules()


class ShiftLead:
    def __init__(self, rules: ShiftLeadRules, *, service_s: dict[str, float], speed, plan_charge_frac: float):
        self.rules = rules
        self.service_s = service_s
        self.speed = speed
        self.plan_charge_frac = plan_charge_frac
        self.over: dict[str, int] = {}
        self.under: dict[str, int] = {}
        self.charge_raised = False

    def decide(self, dg: dict, levers) -> list[Action]:
        """This check's actions (feasible when returned; the caller applies them in order)."""
        r = self.rules
        if dg["minute"] % r.period_min:
            return []
        board = levers.board
        sts = [s for s in dg["stations"] if s["id"] in self.service_s]
        pres = pressures(dg, self.service_s, self.speed)
        kind = {s["id"]: s["kind"] for s in sts}
        for sid, p in pres.items():
            self.over[sid] = self.over.get(sid, 0) + 1 if p > r.queue_hi_min else 0
            self.under[sid] = self.under.get(sid, 0) + 1 if p < (r.close_below_min or -1.0) else 0
        actions: list[Action] = []
        used: set[str] = set()

        def donor(target: str) -> str | None:
            if board.floaters > 0:
                return POOL
            cands = []
            for sid, p in pres.items():
                if sid == target or sid in used or board.staffed.get(sid, 0) <= 0 or p >= r.queue_lo_min:
                    continue
                same_kind_open = [x for x in pres if kind[x] == kind[sid] and board.staffed.get(x, 0) > 0]
                if board.staffed[sid] == 1 and len(same_kind_open) <= 1:
                    continue
                cands.append((p, sid))
            return min(cands)[1] if cands else None

        for sid in sorted(pres, key=lambda x: -pres[x]):
            if self.over[sid] >= 2 and board.planned(sid) > 0:
                src = donor(sid)
                if src is not None:
                    actions.append(MoveAssociates(src, sid, 1))
                    used.update((src, sid))
                    self.over[sid] = 0
        for k in ("pick", "stow"):
            open_ = [x for x in pres if kind[x] == k and board.planned(x) > 0]
            closed = [x for x in pres if kind[x] == k and board.planned(x) == 0 and x not in board.down_until]
            if closed and open_ and all(pres[x] > r.queue_hi_min for x in open_):
                src = donor(closed[0])
                if src is not None:
                    actions.append(MoveAssociates(src, closed[0], 1))
                    used.update((src, closed[0]))
        if r.close_below_min is not None:
            for sid in pres:
                open_same = [x for x in pres if kind[x] == kind[sid] and board.planned(x) > 0 and x != sid]
                if self.under[sid] >= 3 and board.staffed.get(sid, 0) > 0 and open_same and sid not in used:
                    actions.append(MoveAssociates(sid, POOL, board.staffed[sid]))
                    used.add(sid)
                    self.under[sid] = 0
        hist = dg["battery_hist"]
        n_units = max(1, sum(hist))
        low_share = sum(hist[: int(r.battery_low / 0.2)]) / n_units
        if low_share > r.battery_share and not self.charge_raised:
            actions.append(SetChargeThreshold(r.charge_high))
            self.charge_raised = True
        elif low_share < r.battery_share / 2 and self.charge_raised:
            actions.append(SetChargeThreshold(self.plan_charge_frac))
            self.charge_raised = False
        return [a for a in actions if levers.infeasible(a) is None]
