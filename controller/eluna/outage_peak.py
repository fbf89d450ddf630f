"""Pick pressure during an unplanned pick outage: the plan's busiest hour at the rate seen.

Scene ``[agent] outage_peak`` (`ElunaAgent.outage_peak`). The agent moves people only when a
kind's work (now or forecast 30 minutes ahead) over its capacity passes the gate. When a pick
station goes down unplanned while the plan's demand rise is due, the open stations serve below the
forecaster's curve (about 0.9 of their plan rate on the training floor
benchmarks/eluna_train/train_p5_rise_down_trailer.toml) and the forecast sees the pick queue drain
when it grows: seed 101 under the static plan, minutes 110-160, 9-55 open lines now and 28-50
forecast at 30 minutes, pick pressure 0.42-0.72 against the gate's 0.75, while the queue reached
82-87 lines by minute 170-180 (docs/eluna_s16_held16.md). A shift manager does the arithmetic the
forecast misses: the lines the plan brings in its busiest hour ahead against what the stations
still open were seen to serve.

With the option, while a pick station is down, the pick work a staffing is judged on is at least
the lines open now plus the backlog one hour of the plan's busiest demand ahead
(`ElunaAgent.arriving_peak`) would leave at the open stations' seen rate per person-equivalent
(`ElunaAgent._busy`, the rate model's speed for several people). It depends on the staffing, so a
person added to pick lowers it, and a lent person's way home sees the same number the lend saw.
"""

from __future__ import annotations

# The backlog is counted over this many minutes of the plan's busiest demand: the hour a lend is
# checked over (`ElunaAgent._ahead_min`), and about what an unplanned outage is known to last at
# its start (none of its end is known).
PEAK_HOUR_MIN = 60.0


def plan_backlog_lines(
    *, open_lines: float, arriving_per_min: float, seen_per_person_min: float, people: float
) -> float:
    """Lines open now plus those an hour of ``arriving_per_min`` leaves unserved by ``people``
    person-equivalents at ``seen_per_person_min`` lines a minute each (never below the lines now)."""
    short_per_min = max(0.0, arriving_per_min - seen_per_person_min * people)
    return float(open_lines) + short_per_min * PEAK_HOUR_MIN
