"""A free service move: people already paid, moved between stations, for service alone.

Scene ``[agent] service_moves`` (off by default until measured: docs/eluna_s16_svc16.md).

The agent's objective is efficiency (units per labour hour, through J); a plan is recommended only
when it beats doing nothing by ``min_gain`` on two sampled futures. A shift manager also takes a
move that costs no labour (people already paid, moved between stations or kinds), keeps the
floor's efficiency and clearly shortens the order cycle, though it does not raise efficiency: a
lexicographic objective, efficiency first, service second. On the battery wave a stower lent to
pick does that (docs/eluna_s13_lead13.md: p95 -7% to -12% against the static plan at no labour
cost), and the agent refused it because over 30 minutes its efficiency gain was inside one
sample's noise.

The rule, tried only when no plan wins on efficiency (`ElunaAgent._decide`):

- **Which plans qualify** (`qualifies`): moves of people between stations only; nobody from or to
  the pool (no floater, no call-in, no release) and no other lever. Labour is unchanged, so
  efficiency is units.
- **Efficiency** (`keeps_efficiency`): not worse than doing nothing beyond one sample's noise, on
  both samples: the service guards' units-kept test (99.5% of doing nothing's units), no more open
  pick work (5% plus 5 units) and no more open work in all (pick and stow together, 5% plus 5
  units: a lend may not leave cartons to the next hour that it took from lines), and no more stow
  work than the ordinary lend allows (ten cartons).
- **Service** (`p95_gain_s`, `p95_margin_s`): the order-cycle p95 of every order the horizon saw
  (the finished at their cycle, the open at their age at its end: ``cycle_p95_all_s``, which an
  order finished earlier never raises) below doing nothing's by at least one sample's noise of a
  p95, on both samples. Over the finished orders alone a plan that works an old backlog down shows
  a *higher* p95 (its old orders finish inside the horizon with their long wait).

The margin (`p95_noise_rel`). The p95 of n order cycles is a sample quantile; its standard
deviation is sqrt(p (1 - p) / n) / f(q_p) (the order-statistic result), and with an exponential
tail of scale s beyond a base b (a queue's waiting time: M/M/c waits have one) f(q_p) = (1 - p) / s
and q_p = b + s ln(1 / (1 - p)), so relative to the p95 it is at most
sqrt(p / ((1 - p) n)) / ln(1 / (1 - p)) (equal when b = 0, smaller for any positive base):
~9% for the ~250 orders a 30-minute horizon sees on the Eluna floors, ~14% for 100. That is the
noise of one sample's p95 alone; plan and doing nothing on the same sampled future share most of
their orders (common random numbers), so the noise of their difference is smaller still. A plan
past one such deviation on each of two independent samples passes by chance with probability about
0.16 x 0.16 = 2.5% under no effect. Chosen on the mechanism (the formula and a simulation of it,
tests/test_eluna_service_move.py), not on the shipped scenes.

The way home is the agent's own (`ElunaAgent._return_plans`): the lent person is in ``lent`` like
any other, and goes home when home's kind is pressed an hour ahead or the kind they went to is
quiet without them.

The recommendation says it is a service move ("service move: order cycle p95 -12% at no labour
cost"), and its predicted sign is the p95's: its realised effect is the p95 of every order the
floor saw over the horizon against that of the run's own future without the plan (the same fork
that scores every applied recommendation), and the sign is as predicted when it came down
(`realised_sign`). Judged on J, a move made for service whose J gain is inside the noise by
construction would count as a coin toss against a sign it never predicted.
"""

from __future__ import annotations

import math

from fctwin.controller.eluna.actions import MoveAssociates
from fctwin.controller.eluna.labour import POOL

P95 = 0.95
# fewer orders than this over a horizon and the "p95" is the largest few cycles: no service claim
MIN_ORDERS = 20
# ten cartons: the stow slack of a stower lent to pick in the ordinary guard (`keeps_service`)
LEND_STOW_SLACK_UNITS = 120.0
# what the recommendation's ``predicted`` carries for a service move (`realised_sign` reads it)
KEY = "service_move"


def qualifies(plan: list) -> bool:
    """A plan of moves of people already paid between stations: no floater, no call-in, no
    release (nobody from or to the pool) and no other lever."""
    return bool(plan) and all(
        isinstance(a, MoveAssociates) and POOL not in (a.source, a.target) for a in plan
    )


# the floor levers that change no labour: where orders go, which pods wait where, how units drive
FLOOR_SERVICE_KINDS = frozenset({"order_release", "preposition", "one_way", "clear_one_way"})


def floor_qualifies(plan: list) -> bool:
    """A plan of floor levers only that pays nobody more or less (station weights, pre-positioned
    pods, one-way aisles): what it can buy is service, so it is judged as a service move is. On
    the objective J (units over the horizon) such a plan is mostly inside the noise: on
    train_p3_short seed 101 (fb7105b) capacity weights were rolled forward 14 times, kept service
    8 times at a median J gain of +0.7% of throughput (the bar is 2% on two samples), and were
    never taken."""
    return bool(plan) and all(getattr(a, "kind", None) in FLOOR_SERVICE_KINDS for a in plan)


def p95_noise_rel(n_orders: int) -> float:
    """One sample's standard deviation of an order-cycle p95 over ``n_orders`` orders, relative
    to the p95 (an exponential tail beyond a base of zero: the largest it is for that tail; see the
    module's docstring). ``inf`` below `MIN_ORDERS`."""
    if n_orders < MIN_ORDERS:
        return math.inf
    return math.sqrt(P95 / ((1.0 - P95) * n_orders)) / math.log(1.0 / (1.0 - P95))


def _orders(r: dict) -> int:
    """Orders the all-orders p95 was taken over (the finished and the open at the horizon's end)."""
    n = r.get("orders_seen")
    return int(n if n is not None else r.get("orders_done") or 0)


def p95_margin_s(r0: dict) -> float:
    """How far below doing nothing's all-orders p95 a plan's must be to beat one sample's noise."""
    p0 = r0.get("cycle_p95_all_s")
    if p0 is None:
        return math.inf
    return p0 * p95_noise_rel(_orders(r0))


def p95_gain_s(r: dict, r0: dict) -> float | None:
    """Seconds of all-orders p95 the plan saves against doing nothing (None without both)."""
    p, p0 = r.get("cycle_p95_all_s"), r0.get("cycle_p95_all_s")
    return None if p is None or p0 is None else p0 - p


def keeps_efficiency(r: dict, r0: dict, units_kept) -> bool:
    """Not worse than doing nothing beyond one sample's noise: ``units_kept(r, r0)`` (the agent's
    99.5% test), open pick work and open work in all within 5% plus 5 units of doing nothing's, and
    stow work within the ordinary lend's ten cartons."""
    if not units_kept(r, r0):
        return False
    if r["open_pick_units"] > 1.05 * r0["open_pick_units"] + 5:
        return False
    if r.get("open_stow_units", 0) > 1.05 * r0.get("open_stow_units", 0) + LEND_STOW_SLACK_UNITS:
        return False
    open_r = r["open_pick_units"] + r.get("open_stow_units", 0)
    open_r0 = r0["open_pick_units"] + r0.get("open_stow_units", 0)
    return open_r <= 1.05 * open_r0 + 5


def passes(r: dict, r0: dict, units_kept) -> bool:
    """One sample's test: efficiency kept and the all-orders p95 down by more than the margin."""
    gain = p95_gain_s(r, r0)
    return gain is not None and keeps_efficiency(r, r0, units_kept) and gain > p95_margin_s(r0)


def choose(plans: list[list], results: list[dict], units_kept, qualify=qualifies) -> int | None:
    """The index (into ``plans``; ``results[0]`` is doing nothing's, ``results[k + 1]`` plan k's)
    of the plan that ``qualify`` admits, passes on this sample and saves the most p95, or None."""
    r0 = results[0]
    best = None
    for k, plan in enumerate(plans):
        r = results[k + 1]
        if qualify(plan) and passes(r, r0, units_kept):
            gain = p95_gain_s(r, r0)
            if best is None or gain > best[0]:
                best = (gain, k)
    return None if best is None else best[1]


def predicted(samples: list[tuple[dict, dict]]) -> dict:
    """What a service move predicts, from its (plan, doing nothing) samples: the mean all-orders
    p95 of each, the change in seconds and relative."""
    p = sum(r["cycle_p95_all_s"] for r, _ in samples) / len(samples)
    p0 = sum(r0["cycle_p95_all_s"] for _, r0 in samples) / len(samples)
    return {
        "cycle_p95_all_s": round(p, 1),
        "nothing_cycle_p95_all_s": round(p0, 1),
        "delta_s": round(p - p0, 1),
        "delta_rel": round((p - p0) / p0, 4) if p0 > 0 else None,
    }


def describe(pred: dict) -> str:
    """The recommendation's words for it."""
    rel = pred.get("delta_rel")
    change = f"{100.0 * rel:+.0f}%" if rel is not None else f"{pred['delta_s']:+.0f} s"
    return f"service move: order cycle p95 {change} at no labour cost"


def realised_sign(real_p95_s: float | None, nothing_p95_s: float | None) -> bool | None:
    """Whether the floor's all-orders p95 over the horizon came out below doing nothing's (the
    sign a service move predicts); None when either is missing."""
    if real_p95_s is None or nothing_p95_s is None:
        return None
    return real_p95_s < nothing_p95_s
