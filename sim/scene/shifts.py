"""Checks of a scene's shift plan (``[[labour.shifts]]``) against its stations, itself and the run.

The schema (`fctwin.sim.scene.schema.ShiftSpec`) checks each field alone (numbers, no NaN or inf,
no unknown keys); here are the checks that need the stations or the other shifts. Each problem
names the field path the user wrote (``labour.shifts[1].start_h``). The rules, and why:

- ``shifts`` replaces the run-wide ``staffing`` and ``pool``: both given is an error (which one
  would hold at 03:00?).
- A shift ends after it starts, and shifts do not overlap (two crews paid for one floor is a
  planning error, not a handover).
- A stretch of the run with no shift on the floor is refused unless ``allow_gaps = true``: a floor
  with nobody on it is rare and a gap is more often a typo (a night shift ending at 5 where the
  day starts at 6); a site that does close overnight says so. With ``shift_cycle_h`` the plan
  repeats and must lie within one cycle; the gaps are checked over the first cycle the run reaches.
- A shift's own break lies inside the shift.
- Shifts past the run's end are allowed and cut at the run's end (the same 24-hour plan serves an
  8-hour test run; `run_hours` and ``--hours`` change often, the site's plan does not).
"""

from __future__ import annotations

GAP_TOLERANCE_H = 1e-9  # shifts meeting at the same hour, after float rounding


def shift_problems(labour, human: list[str], run_hours: float) -> list[tuple[str, str]]:
    """The shift plan's problems as (field path, message) pairs ([] when it is sound)."""
    if not labour.shifts:
        out = []
        if labour.shift_cycle_h is not None:
            out.append(("labour.shift_cycle_h", "repeats labour.shifts, and there are none"))
        if labour.allow_gaps:
            out.append(("labour.allow_gaps", "allows gaps between labour.shifts, and there are none"))
        return out
    problems: list[tuple[str, str]] = []
    for key in ("staffing", "pool"):
        if key == "staffing" and labour.staffing or key == "pool" and labour.pool is not None:
            problems.append(
                (
                    f"labour.{key}",
                    f"give {key} per shift (labour.shifts[k].{key}) or one for the run, not both",
                )
            )
    cycle = labour.shift_cycle_h
    names: dict[str, int] = {}
    for k, sh in enumerate(labour.shifts):
        at = f"labour.shifts[{k}]"
        if sh.name in names:
            problems.append(
                (f"{at}.name", f"{sh.name!r} is also the name of labour.shifts[{names[sh.name]}]")
            )
        names.setdefault(sh.name, k)
        if sh.end_h <= sh.start_h:
            problems.append((f"{at}.end_h", f"{sh.end_h:g} h is not after start_h {sh.start_h:g} h"))
        elif cycle is not None and sh.end_h > cycle + GAP_TOLERANCE_H:
            problems.append(
                (
                    f"{at}.end_h",
                    f"{sh.end_h:g} h is past shift_cycle_h {cycle:g}: a repeating plan lies within one"
                    " cycle (a shift over midnight: count run hours from a shift's start)",
                )
            )
        for sid, n in sh.staffing.items():
            if sid not in human:
                problems.append(
                    (
                        f"{at}.staffing.{sid}",
                        f"no person-worked station {sid!r} (they are: {', '.join(human)})",
                    )
                )
            elif n > labour.max_per_station:
                problems.append(
                    (
                        f"{at}.staffing.{sid}",
                        f"{n} associates exceed max_per_station {labour.max_per_station}",
                    )
                )
        for j, br in enumerate(sh.breaks):
            # a shift's break lies inside it: one running past the handover would hold the next
            # crew's people (the board takes the break from whoever is staffed)
            if br.after_h + br.minutes / 60.0 > sh.end_h - sh.start_h + GAP_TOLERANCE_H:
                problems.append(
                    (
                        f"{at}.breaks[{j}].after_h",
                        f"a {br.minutes:g}-minute break {br.after_h:g} h after the start ends past the"
                        f" shift's end ({sh.end_h - sh.start_h:g} h long)",
                    )
                )
        total = sum(sh.staffing.get(sid, 1) for sid in human)
        if sh.pool is not None and sh.pool < total:
            problems.append((f"{at}.pool", f"{sh.pool} associates cannot staff the shift's plan of {total}"))
    if problems:
        return problems  # the order checks below assume sound single shifts
    order = sorted(range(len(labour.shifts)), key=lambda k: labour.shifts[k].start_h)
    for a, b in zip(order, order[1:], strict=False):
        sa, sb = labour.shifts[a], labour.shifts[b]
        if sb.start_h < sa.end_h - GAP_TOLERANCE_H:
            problems.append(
                (
                    f"labour.shifts[{b}].start_h",
                    f"{sb.start_h:g} h overlaps labour.shifts[{a}]"
                    f" ({sa.name!r}, {sa.start_h:g}-{sa.end_h:g} h)",
                )
            )
    if problems or labour.allow_gaps:
        return problems
    until_h = min(cycle, run_hours) if cycle is not None else run_hours
    t = 0.0
    for k in order:
        sh = labour.shifts[k]
        if sh.start_h > t + GAP_TOLERANCE_H and t < until_h:
            problems.append(
                (
                    f"labour.shifts[{k}].start_h",
                    f"nobody is on the floor from {t:g} h to {sh.start_h:g} h"
                    " (set labour.allow_gaps = true if the site closes then)",
                )
            )
        t = max(t, sh.end_h)
    if t < until_h - GAP_TOLERANCE_H:
        hint = "labour.shift_cycle_h (24: a daily plan) to repeat the plan, or " if cycle is None else ""
        end = "the cycle's end" if cycle is not None and cycle <= run_hours else "the run's end"
        problems.append(
            (
                "labour.shifts",
                f"nobody is on the floor from {t:g} h to {end} at {until_h:g} h"
                f" (set {hint}labour.allow_gaps = true)",
            )
        )
    return problems
