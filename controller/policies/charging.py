"""Charging: when an unloaded drive unit goes to a charging pad, and to which one (RAWSim-O: the
bot managers' recharging rule)."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import MODE_IDLE, Cell, UnitRec

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


def nearest_free_charger(d: Dispatcher, i: int) -> Cell | None:
    """The charging pad nearest (Manhattan) to unit ``i`` that no unit heads to or stands on."""
    best, best_d = None, None
    owner = d._cell_owner  # this tick's positions
    r0, c0 = d.pos[i, 0], d.pos[i, 1]
    for cell in d.plan.charge_cells:
        if cell in d.charge_targets or owner.get(cell, i) != i:
            continue
        dd = abs(cell[0] - r0) + abs(cell[1] - c0)
        if best_d is None or dd < best_d:
            best, best_d = cell, dd
    return best


class Charging(Policy):
    """Sends units to charge.

    ``threshold`` (set by `setup`): units with more charge than this are never asked, which keeps
    the per-tick loop cheap. `charger_for` is asked each tick for every unit without a trip, pod
    or pad whose ``battery_frac <= threshold``; it returns the pad cell to go to now, or None.
    Must not mutate anything: the dispatcher books the pad (``d.charge_targets``) and logs it.
    The unit charges to 95 % and is then free again.
    """

    family = "charging"
    threshold: float = 1.0

    @abstractmethod
    def charger_for(self, d: Dispatcher, i: int, u: UnitRec) -> Cell | None: ...


class Opportunity(Charging):
    """Idle units below ``dispatch.opportunity_charge_frac`` take a free pad (the nearest), and any
    unit at its low-battery level does. A fleet that starts full so does not run low all at once
    and queue for the few pads. The default."""

    def setup(self, d):
        self.threshold = max(d.config.opportunity_charge_frac, max(d.low_battery, default=0.0))

    def charger_for(self, d, i, u):
        if u.battery_frac <= d.low_battery[i] or u.mode == MODE_IDLE:
            return nearest_free_charger(d, i)
        return None


class LowBattery(Charging):
    """Only units at their low-battery level charge (nearest free pad): no opportunity charging."""

    def setup(self, d):
        self.threshold = max(d.low_battery, default=0.0)

    def charger_for(self, d, i, u):
        if u.battery_frac <= d.low_battery[i]:
            return nearest_free_charger(d, i)
        return None
