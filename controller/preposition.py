"""Pre-positioning pods near a pick station ahead of predicted demand, by idle drive units.

The slotting estimate (`fctwin.controller.slotting.estimates.estimate_for`) is the hook: its
`set_forecast` takes the predicted share of demand per SKU (the caller's forecast; by default the
open demand the dispatcher already knows plus the estimate's own velocity over the horizon,
`predicted_sku_share`), and its pod rates then rank the pods. The ``n`` highest-rate pods that are
stored, not on a trip, and farther from the station than its nearest free storage cells each get a
move trip to one of those cells (the same move trip re-slotting uses: a unit lifts the pod and sets
it down there, visiting no station). The trips wait for idle units like any trip; the physical
delay is the trip itself.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.records import UNUSABLE_MODES


def idle_units(d) -> int:
    """Drive units free for a move trip now (no trip, no pod, not charging, not failed)."""
    low = d.low_battery
    return sum(
        1
        for i, u in enumerate(d.units)
        if u.trip is None
        and u.pod < 0
        and u.charging_at is None
        and not u.failed
        and u.mode not in UNUSABLE_MODES
        and u.battery_frac > low[i]
    )


def predicted_sku_share(d, horizon_h: float = 0.5) -> np.ndarray:
    """Demand per SKU over the next ``horizon_h``: open demand now plus the estimate's velocity
    (lines per hour, times a unit per line) over the horizon. Reads only (no refresh)."""
    from fctwin.controller.slotting.estimates import estimate_for

    est = estimate_for(d)
    share = np.asarray(d.sku_demand_open, dtype=np.float64).copy()
    share += est.sku_rate() * horizon_h
    return share + 1e-9


def preposition_problem(d, station_id: str, n: int) -> str | None:
    if station_id not in d.station_index:
        return f"no station {station_id!r}"
    s = d.stations[d.station_index[station_id]]
    if s.kind != "pick":
        return f"{station_id} is not a pick station"
    if s.associates <= 0:
        return f"{station_id} is closed"
    if n <= 0:
        return "must move at least one pod"
    idle = idle_units(d)
    if idle < 1:
        return "no idle drive unit"
    if n > idle:
        return f"{n} pods but only {idle} idle drive unit(s)"
    return None


def choose_moves(d, station_id: str, n: int, sku_share: np.ndarray | None) -> list[tuple[int, tuple]]:
    """(pod, storage cell) moves bringing the ``n`` most wanted pods next to ``station_id``."""
    from fctwin.controller.slotting.estimates import estimate_for, free_storage_mask

    est = estimate_for(d)
    est.set_forecast(predicted_sku_share(d) if sku_share is None else sku_share)
    est.refresh(d, force=True)
    s = d.stations[d.station_index[station_id]]
    free = free_storage_mask(d)
    slot = d._storage_slot
    targets = [c for c in s.storage_by_distance if free[slot[c]]][: 4 * n]
    if not targets:
        return []
    dist = s.distance
    book = d.book
    order = np.argsort(-est.pod_rate, kind="stable")
    moves: list[tuple[int, tuple]] = []
    used: set = set()
    for p in order.tolist():
        if len(moves) >= n or est.pod_rate[p] <= 0:
            break
        here = book.pod_cell[p]
        if here is None or p in book.busy_pod or here not in slot:
            continue
        best = next((c for c in targets if c not in used), None)
        if best is None:
            break
        if dist[best] + 2 >= dist[here]:  # already about as near as the free cells
            continue
        used.add(best)
        moves.append((int(p), best))
    return moves
