"""Pre-positioning pods near a pick station ahead of predicted demand, by idle drive units.

The pods are ranked by their share (by units) of a demand per SKU (the caller's forecast; by
default what the station will ask for, `station_sku_share`: its own lines waiting for a trip
first, then its share of the backlog and of the forecast arrivals). The ``n`` highest-rate pods that are
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


def station_sku_share(d, station_id: str, horizon_h: float = 0.5) -> np.ndarray:
    """What pick station ``station_id`` will ask pods for over the next ``horizon_h``, per SKU (units):
    its own lines waiting for a trip (`Station.pending`: known, and next in line, since a station
    holds at most ``queue_cells + 2`` trips at once) first, then its share of the orders not yet
    assigned (the backlog) and of the forecast arrivals (the estimate's velocity over the horizon),
    each split evenly over the open pick stations (least-loaded assignment spreads them).

    Before, the floor-wide open demand plus velocity ranked pods for lines assigned to other
    stations (their pods go there) and lines already on a trip (their pods are busy) as high as the
    station's own: a shift manager brings forward what this station will ask for. Reads only."""
    from fctwin.controller.slotting.estimates import estimate_for

    s = d.stations[d.station_index[station_id]]
    own = np.zeros(len(d.sku_demand_open), dtype=np.float64)
    for ln in s.pending:
        own[ln.sku] += ln.units
    later = estimate_for(d).sku_rate() * horizon_h
    for oid in d.backlog:
        for ln in d.orders[oid].order.lines:
            later[ln.sku] += ln.units
    n_open = max(1, sum(1 for t in d.stations if t.kind == "pick" and t.associates > 0))
    # the station's own waiting lines first: a unit of them outranks any share of the rest
    return OWN_FIRST * own + later / n_open + 1e-9


OWN_FIRST = 1e3


def pod_rates_of(d, sku_share: np.ndarray) -> np.ndarray:
    """float64[P]: each pod's share (by units) of ``sku_share`` (`slotting.kernels.pod_rates`)."""
    from fctwin.controller.slotting.kernels import pod_rates

    contents = d.book.contents
    k = max(1, max((len(c) for c in contents), default=1))
    ss = np.full((len(contents), k), -1, dtype=np.int32)
    su = np.zeros((len(contents), k), dtype=np.int32)
    for p, c in enumerate(contents):
        for j, (sku, units) in enumerate(c.items()):
            ss[p, j] = sku
            su[p, j] = units
    return pod_rates(ss, su, np.asarray(sku_share, dtype=np.float64))


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
    from fctwin.controller.slotting.estimates import free_storage_mask

    share = station_sku_share(d, station_id) if sku_share is None else np.asarray(sku_share, np.float64)
    # The pods ranked on the share itself. Before, the share went in as the shared slotting
    # estimate's prior (`DemandEstimate.set_forecast`), which weighs 200 lines against the lines
    # seen (~1,400 after an hour at 1,000 lines/h): the ranking was the run's velocity, not the
    # station's coming work, and the prior stayed changed for every later user of the estimate.
    pod_rate = pod_rates_of(d, share)
    s = d.stations[d.station_index[station_id]]
    free = free_storage_mask(d)
    slot = d._storage_slot
    targets = [c for c in s.storage_by_distance if free[slot[c]]][: 4 * n]
    if not targets:
        return []
    dist = s.distance
    book = d.book
    order = np.argsort(-pod_rate, kind="stable")
    moves: list[tuple[int, tuple]] = []
    used: set = set()
    for p in order.tolist():
        if len(moves) >= n or pod_rate[p] <= 0:
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
