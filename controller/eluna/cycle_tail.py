"""An order-cycle p95 from the fluid model's projection: the no-fork agent's service guard.

The fork lookahead reads the p95 of the orders a plan's future finishes; the fluid model has only
the floor's open lines, so a mean cycle (Little's law on them) is all it gives, and a mean does not
see the tail a plan makes when it takes one picker of two off a station: least-loaded assignment
(`LeastLoaded`: an order goes whole to the open pick station with the fewest open lines) keeps that
station's queue as long as its peers' (it balances lines, not waits), so every order it gets waits
twice as long (session 14: a mean-cycle ratio changed nothing where the p95 rose).

The estimate (`order_cycle_p95_s`) plays each pick station's queue FIFO over the projection, minute
by minute: a line arriving at minute ``t`` waits first behind the unassigned lines (drained at the
floor's rate), then behind the lines its station holds then, drained at that station's projected
rate (its staffing then: a picker leaving slows the drain at once, one arriving after the walk
speeds it from then on). An order of ``lines_per_order`` lines arriving at minute ``t`` lands at
each open station alike (least-loaded keeps their queues level) and is done when its station has
served the lines ahead and its own; its cycle is that wait plus ``base_s`` (the part of a cycle the
queue does not hold: a pod's trip, the pick). The lines open now are served
first, at their age now plus their wait (ages from the FIFO: a station's queue arrived at its share
of the arrival rate, so the oldest line's age is the queue over that rate, Little's law). The p95
is over the orders the horizon sees finish (the fork lookahead's
``cycle_p95_s``), or over every order it sees, the unfinished at their age at its end
(``open_orders``: the fork's ``cycle_p95_all_s``).

Arrays are per minute ahead; rates in lines per minute; times in minutes inside, seconds out.
"""

from __future__ import annotations

import numpy as np


def _reach(cum: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Fractional minute at which the cumulative service ``cum`` (``H + 1`` values from minute 0)
    first reaches ``target``; ``inf`` beyond the horizon."""
    idx = np.searchsorted(cum, target, side="left")
    out = np.full(np.shape(target), np.inf)
    h = len(cum) - 1
    ok = idx <= h
    i = idx[ok]
    prev = np.where(i > 0, cum[np.maximum(i - 1, 0)], cum[0])
    step = np.where(i > 0, cum[i] - prev, 1.0)
    out[ok] = np.where(i > 0, (i - 1) + (target[ok] - prev) / np.maximum(step, 1e-12), 0.0)
    return out


def _cum(mu: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.maximum(mu, 0.0))])


def _at(path: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A per-minute path (values at minutes 0..H) read at fractional minutes (clipped to H)."""
    return np.interp(np.minimum(t, len(path) - 1), np.arange(len(path)), path)


def _drain_time(cum: np.ndarray, start: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Minute at which ``lines`` lines ahead at minute ``start`` are served (FIFO, rate ``cum``)."""
    return _reach(cum, _at(cum, start) + lines)


def order_cycle_p95_s(
    *,
    arrivals: np.ndarray,
    station_q: np.ndarray,
    station_mu: np.ndarray,
    backlog: np.ndarray,
    lines_per_order: float,
    base_s: float,
    open_orders: bool = False,
) -> float | None:
    """The order-cycle p95 (s) of the orders a projection's horizon sees, or None without any.

    ``arrivals`` (H,): lines arriving in each minute ahead. ``station_q`` (S, H + 1): lines each
    pick station holds at minutes 0..H (0: now). ``station_mu`` (S, H): lines each serves in each
    minute (0: closed or down; a closed station takes no new lines). ``backlog`` (H + 1,): lines
    waiting unassigned. ``lines_per_order``: mean lines of an order (>= 1): an order arriving
    ahead waits for that many lines of its own; the lines open now count as orders of that many."""
    arrivals = np.asarray(arrivals, dtype=float)
    station_q = np.atleast_2d(np.asarray(station_q, dtype=float))
    station_mu = np.atleast_2d(np.asarray(station_mu, dtype=float))
    backlog = np.asarray(backlog, dtype=float)
    n_st, h = station_mu.shape
    if n_st == 0 or h == 0:
        return None
    lpo = max(1.0, float(lines_per_order))
    floor_cum = _cum(station_mu.sum(axis=0))
    cums = [_cum(station_mu[j]) for j in range(n_st)]
    is_open = station_mu > 0.0  # (S, H)

    def line_done(start: np.ndarray, ahead_backlog: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, n) minute each station would serve a line that joins the unassigned lines at
        ``start`` with ``ahead_backlog`` ahead of it, and (S, n) whether the station is open then."""
        enter = np.where(ahead_backlog > 0, _drain_time(floor_cum, start, ahead_backlog), start)
        done = np.full((n_st, len(start)), np.inf)
        opened = np.zeros((n_st, len(start)), dtype=bool)
        k = np.minimum(np.floor(np.where(np.isfinite(enter), enter, h)), h - 1).astype(int)
        for j in range(n_st):
            ok = np.isfinite(enter) & is_open[j, k]
            if not ok.any():
                continue
            q = _at(station_q[j], enter[ok])
            done[j, ok] = _drain_time(cums[j], enter[ok], q + lpo)
            opened[j, ok] = True
        return done, opened

    # Orders arriving in each minute ahead (at the minute's middle), of `lpo` lines each.
    t_new = np.arange(h) + 0.5
    done_new, open_new = line_done(t_new, _at(backlog, t_new))
    weights = arrivals / lpo
    # Lines open now: a station's queue arrived at its share of the arrival rate (FIFO: the head is
    # the oldest), behind the unassigned ones, which arrived at the floor's rate.
    lam0 = max(float(arrivals[0]) if h else 0.0, 1e-6)
    n_open0 = max(int(is_open[:, 0].sum()), 1)
    old_age, old_done, old_w = [], [], []
    b0 = float(backlog[0])
    for j in range(n_st):
        q0 = int(round(station_q[j, 0]))
        if q0 <= 0:
            continue
        pos = np.arange(q0, dtype=float)
        old_age.append(b0 / lam0 + (q0 - pos) / (lam0 / n_open0))
        old_done.append(_reach(cums[j], pos + 1.0))  # a closed station's lines wait for its people
        old_w.append(np.full(q0, 1.0 / lpo))
    nb = int(round(b0))
    if nb > 0:  # the unassigned lines: the first to enter a station as its slots free
        pos = np.arange(nb, dtype=float)
        d, o = line_done(np.zeros(nb), pos + 1.0)
        share = o / np.maximum(o.sum(axis=0), 1)
        # each lands at the open stations alike (a mean of their waits would hide the tail)
        for j in range(n_st):
            w = share[j] / lpo
            keep = w > 0
            old_age.append((nb - pos[keep]) / lam0)
            old_done.append(d[j, keep])
            old_w.append(w[keep])
    # Every order as (weight, per-station cycle) rows; a new order lands at the open stations alike.
    cyc_new = 60.0 * (done_new - t_new[None, :]) + base_s  # (S, H) s
    horizon_left = 60.0 * (h - t_new) + base_s  # the most a new order's cycle can be and be seen done
    share_new = open_new / np.maximum(open_new.sum(axis=0), 1)  # (S, H)
    if old_age:
        age = np.concatenate(old_age)
        # no base: a line's age from the FIFO is its whole time on the floor so far (Little's law)
        cyc_old = 60.0 * (age + np.concatenate(old_done))
        w_old = np.concatenate(old_w)
        left_old = 60.0 * (age + h)
    else:
        cyc_old = w_old = left_old = np.zeros(0)
    if open_orders:  # the unfinished at their age at the horizon's end
        cyc_new = np.minimum(cyc_new, horizon_left[None, :])
        cyc_old = np.minimum(cyc_old, left_old)
    xs = np.unique(np.concatenate([cyc_new[np.isfinite(cyc_new)], cyc_old[np.isfinite(cyc_old)]]))
    if xs.size == 0:
        return None

    def mass(x: np.ndarray) -> np.ndarray:
        """Orders seen done with a cycle at most ``x`` (each x), within the horizon."""
        cap_new = np.minimum(x[:, None], horizon_left[None, :])  # (X, H)
        f = (share_new[None, :, :] * (cyc_new[None, :, :] <= cap_new[:, None, :])).sum(axis=1)
        m = (weights[None, :] * f).sum(axis=1)
        if cyc_old.size:
            cap_old = np.minimum(x[:, None], left_old[None, :])
            m = m + (w_old[None, :] * (cyc_old[None, :] <= cap_old)).sum(axis=1)
        return m

    total = mass(np.array([np.inf]))[0]
    if total <= 0.0:
        return None
    m = mass(xs)
    k = int(np.searchsorted(m, 0.95 * total - 1e-9, side="left"))
    return round(float(xs[min(k, xs.size - 1)]), 1)


def cycle_base_s(recent_cycle_s: float | None, paths: dict[str, np.ndarray], lines_per_order: float) -> float:
    """The part of an order's cycle the queues do not hold (s): the floor's recent mean cycle less
    the wait the queues now give an order arriving now (its station's lines ahead and its own at
    that station's rate, behind the unassigned lines at the floor's), at least 0. One anchor for
    every plan of a decision, so their p95s differ by the queues alone."""
    if recent_cycle_s is None:
        return 0.0
    q, mu, b = paths["station_q"], paths["station_mu"], paths["backlog"]
    if mu.size == 0:
        return float(recent_cycle_s)
    rate = mu[:, 0]
    open_ = rate > 0
    if not open_.any():
        return float(recent_cycle_s)
    lpo = max(1.0, float(lines_per_order))
    wait_min = float(np.mean((q[open_, 0] + lpo) / rate[open_])) + float(b[0]) / float(rate.sum())
    return max(0.0, float(recent_cycle_s) - 60.0 * wait_min)
