"""Order release and station-assignment weights: the order-assignment policy behind a gate.

`ReleaseGate` wraps the scene's order-assignment policy (the policy seam, not a branch in the
dispatcher). The lever `Dispatcher.set_order_release` installs it the first time a release rate or
station weights are set; until then the dispatcher's policy is untouched, so a run without these
levers keeps its event log bit for bit.

- Release rate (``orders_per_min``): orders leave the backlog for the pick stations at most at this
  rate, from a token bucket that holds at most one minute's worth (``None``: no limit; 0: hold every
  order). Held orders stay in the backlog in arrival order; nothing is dropped.
- Station weights (``weights``: station id -> weight >= 0): orders go to the pick station with the
  fewest open lines per unit of weight (weight 0: no new orders there; unnamed stations weigh 1).
  With weights set this replaces the scene's assignment rule (the default `least_loaded` is the
  all-ones case); without, the scene's rule chooses.
"""

from __future__ import annotations

from fctwin.controller.policies.order_assignment import OrderAssignment


class ReleaseGate(OrderAssignment):
    name = "release_gate"

    def __init__(self, inner: OrderAssignment):
        self.inner = inner
        self.orders_per_min: float | None = None
        self.weights: dict[str, float] = {}
        self._tokens = 0.0
        self._t_s: float | None = None

    def setup(self, d) -> None:  # the inner policy was set up with the dispatcher
        pass

    def configure(self, d, orders_per_min: float | None, weights: dict[str, float] | None) -> None:
        self.orders_per_min = orders_per_min
        if weights is not None:
            self.weights = dict(weights)
        self._t_s = d.t_s
        self._tokens = min(self._tokens, self._burst())

    def _burst(self) -> float:
        return max(1.0, self.orders_per_min or 0.0)

    def _refill(self, t_s: float) -> None:
        if self.orders_per_min is None:
            return
        if self._t_s is None:
            self._t_s = t_s
        self._tokens = min(self._burst(), self._tokens + (t_s - self._t_s) * self.orders_per_min / 60.0)
        self._t_s = t_s

    def station_for(self, d, order, picks, open_lines):
        if self.orders_per_min is not None:
            self._refill(d.t_s)
            if self._tokens < 1.0:
                return None  # hold this order and the ones behind it until the next tick
        if self.weights:
            stations = d.stations
            cap = d.config.max_lines_per_station
            w = [(self.weights.get(stations[k].station_id, 1.0), k) for k in picks]
            live = [(open_lines[k] / wk, k) for wk, k in w if wk > 0 and open_lines[k] < cap]
            if not live:
                return None
            idx = min(live)[1]
        else:
            idx = self.inner.station_for(d, order, picks, open_lines)
        if idx is None or open_lines[idx] >= d.config.max_lines_per_station:
            return idx  # the dispatcher holds it: no token spent
        if self.orders_per_min is not None:
            self._tokens -= 1.0
        return idx

    def describe(self) -> dict:
        return {"orders_per_min": self.orders_per_min, "weights": dict(self.weights)}
