"""A stower lent until a known trailer: the lend window before cartons on the dock schedule.

Scene ``[agent] lend_until_dock`` (`ElunaAgent.lend_until_dock`). Without it, a stower is never lent
to pick while any wave or trailer is on the dock schedule for the rest of the shift: the stow
stations left must serve the schedule's busiest hour at their seen rate (`ElunaAgent._lend_ok`),
and on a floor whose four stowers serve about 43 cartons an hour no trailer of 50 or more passes
that test with one stower fewer, so the rule says "never" for the whole shift before the trailer.
On a training floor where a pick station goes down unplanned during a planned demand rise with a
trailer due later (benchmarks/eluna_train/train_p5_rise_down_trailer.toml) the agent then did
nothing on every seed while the shift lead, who cannot see the trailer, lent stowers and called
floaters in and served more units an hour (docs/eluna_s16_held16.md).

A lend is not a release: the person walks home in two minutes. With the option, a stower may be
lent while no scheduled carton is due within `LEND_CLEAR_MIN` minutes (the lookahead's horizon,
so the fork that judges the lend never rolls the trailer forward with the stower away), the stow
work is checked only at the forecast horizons that end before the first scheduled carton (the
later ones count the trailer the person will be home for), and a lent stower goes home once a
scheduled carton is due within `HOME_MIN` minutes (a decision every 10 minutes plus a 2-minute
walk: home before the first carton), taken as the plan's own commitment, not as a bet.
"""

from __future__ import annotations

# No stower lent while a scheduled carton is due within this many minutes: the ordinary
# lookahead's horizon (30 minutes), so a lend is never judged on a future that holds the trailer
# with the stower away (the fork's floor does not decide: nobody sends them home in it).
LEND_CLEAR_MIN = 30
# A lent stower goes home once a scheduled carton is due within this many minutes: the agent
# decides every 10 minutes and the walk is 2, so the person is back before the first carton.
HOME_MIN = 15


def due_within(dock_ahead: dict, minutes: int) -> bool:
    """Whether the dock schedule (the digest's ``dock_ahead``: cartons due within 1, 15, 30 and 60
    minutes, keys as strings) has a carton due within ``minutes`` (one of those keys)."""
    return int(dock_ahead.get(str(minutes), 0) or 0) > 0


def clear_horizons(dock_ahead: dict, horizons: tuple[int, ...]) -> tuple[int, ...]:
    """The forecast horizons (minutes) that end before the first scheduled carton: the stow work a
    lend is checked against, the later ones being the trailer's, which the person is home for."""
    return tuple(h for h in horizons if not due_within(dock_ahead, h))
