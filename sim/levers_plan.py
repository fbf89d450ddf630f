"""The scene's planned floor levers (``[levers]``): applied at their times by a SimPy process.

Order release and station weights, closed cells (reopened after ``minutes``), one-way aisles
(lifted after ``minutes``), pre-positioning pods. Each goes through the dispatcher's lever entry
points (`fctwin.controller.levers`) and leaves a record in the event log. A scene without
``[levers]`` gets no process, so its event log is the one it always had.

Checked at start, against the dispatcher (`check`): closures that would cut the floor apart and
one-way rules the planner cannot take are scene errors, named by field path. A lever that turns
out infeasible only when its time comes (pre-positioning with no idle unit, a closure onto a
failed unit) is skipped with a ``lever_refused`` event naming why; the run goes on. A closure that
a unit inside could not leave waits for it (every 10 s, for up to 10 minutes).
"""

from __future__ import annotations

from fctwin.controller.traffic import closure_problem, one_way_problem, segment


def _one_way(ow):
    if ow.row is not None:
        return segment(ow.row, None, tuple(ow.cols), ow.direction)
    return segment(None, ow.col, tuple(ow.rows), ow.direction)


def check(scene, d) -> list[tuple[str, str]]:
    """Problems with the scene's levers that the dispatcher's floor shows at start."""
    problems = []
    lv = scene.spec.levers
    for i, cl in enumerate(lv.closures):
        why = closure_problem(d, [tuple(c) for c in cl.cells])
        if why:
            problems.append((f"levers.closures[{i}].cells", why))
    for i, ow in enumerate(lv.one_way):
        why = one_way_problem(d, _one_way(ow))
        if why:
            problems.append((f"levers.one_way[{i}]", why))
    return problems


def _events(scene) -> list[tuple[float, int, str, object]]:
    """(t_s, order, what, payload) for every planned change, in time order."""
    lv = scene.spec.levers
    out = []
    for rel in lv.release:
        out.append((rel.at_h * 3600.0, len(out), "release", rel))
    for cl in lv.closures:
        cells = [tuple(c) for c in cl.cells]
        out.append((cl.at_h * 3600.0, len(out), "close", cells))
        if cl.minutes is not None:
            out.append((cl.at_h * 3600.0 + cl.minutes * 60.0, len(out), "open", cells))
    for i, ow in enumerate(lv.one_way):
        out.append((ow.at_h * 3600.0, len(out), "one_way", (i, _one_way(ow))))
        if ow.minutes is not None:
            out.append((ow.at_h * 3600.0 + ow.minutes * 60.0, len(out), "clear_one_way", i))
    for pp in lv.preposition:
        out.append((pp.at_h * 3600.0, len(out), "preposition", pp))
    return sorted(out, key=lambda e: (e[0], e[1]))


CLOSE_RETRY_S = 10.0  # a closure a unit inside could not leave is tried again this often ...
CLOSE_PATIENCE_S = 600.0  # ... for this long, then refused


def lever_plan_process(env, scene, d):
    """SimPy process: apply each planned lever at its time (in the dispatcher's log)."""
    from fctwin.controller.traffic import closure_problem

    rules: dict[int, int] = {}
    for t_s, _, what, payload in _events(scene):
        if t_s > env.now:
            yield env.timeout(t_s - env.now)
        if what == "close":  # wait (bounded) for units deep inside the stretch to move on
            waited = 0.0
            while waited < CLOSE_PATIENCE_S and "could not get out" in (closure_problem(d, payload) or ""):
                yield env.timeout(CLOSE_RETRY_S)
                waited += CLOSE_RETRY_S
        try:
            if what == "release":
                d.set_order_release(payload.orders_per_min, payload.station_weights)
            elif what == "close":
                d.close_cells(payload)
            elif what == "open":
                d.open_cells(payload)
            elif what == "one_way":
                rules[payload[0]] = d.set_one_way(payload[1])
            elif what == "clear_one_way":
                if payload in rules:
                    d.clear_one_way(rules.pop(payload))
            elif what == "preposition":
                d.preposition_pods(payload.station, payload.pods)
        except ValueError as exc:
            d.log.append((env.now, "lever_refused", f"{what}: {exc}"[:200], 0, 0, 0))
