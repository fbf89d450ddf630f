"""An independent checker of a recorded run, written against the run store only.

It re-derives pod positions from the recorded poses (a unit's pod id changes from -1 to p where p
stands = lift; from p to -1 = set down) and pod contents from the task events, then checks:
no two units in one cell, no swaps, moves of at most one cell, no loaded unit on a cell where a
pod stands, and no lifted pod heavier than the payload.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from fctwin.sim.runstore import read_poses


def check_run(db_path, scene) -> dict:
    con = sqlite3.connect(db_path)
    unit_ids = json.loads(con.execute("SELECT value FROM meta WHERE key='unit_ids'").fetchone()[0])
    events = con.execute("SELECT t_s, kind, subject, a, b, c FROM events ORDER BY id").fetchall()
    con.close()
    steps, poses = read_poses(db_path, len(unit_ids))
    assert len(steps) > 10, "too few recorded steps to check"
    assert np.all(np.diff(steps) == 1), "recorded steps are not consecutive"

    pod_cell = {p: tuple(map(int, c)) for p, c in enumerate(scene.pods.home_cells)}
    stood = {c: p for p, c in pod_cell.items()}
    contents = [dict() for _ in range(scene.pods.count)]
    for p in range(scene.pods.count):
        for s, u in zip(scene.pods.slot_sku[p], scene.pods.slot_units[p], strict=True):
            if s >= 0:
                contents[p][int(s)] = contents[p].get(int(s), 0) + int(u)
    mass = scene.skus.mass_kg
    payload = {u.unit_id: u.config.payload_kg for u in scene.units}

    def pod_mass(p):
        return scene.pods.empty_mass_kg + sum(n * float(mass[s]) for s, n in contents[p].items())

    # Contents change only at stations; apply events in time order as we sweep the steps.
    at_station: dict[str, int] = {}
    ev_i = 0
    lifts = 0
    step_s = scene.step_s
    for k in range(len(steps)):
        t_now = steps[k] * step_s
        while ev_i < len(events) and events[ev_i][0] <= t_now:
            t, kind, subject, a, b, c = events[ev_i]
            if kind == "at_station":
                at_station[scene.stations[int(c)].station_id] = int(b)
            elif kind in ("line_picked", "carton_stowed"):
                p = at_station[subject]
                sign = -1 if kind == "line_picked" else 1
                contents[p][int(b)] = contents[p].get(int(b), 0) + sign * int(c)
                assert contents[p][int(b)] >= 0, f"pod {p} went negative in sku {b}"
            ev_i += 1
        cur = poses[k]
        cells = [(int(r), int(c)) for r, c in cur[:, :2]]
        assert len(set(cells)) == len(cells), f"step {steps[k]}: two units in one cell"
        if k > 0:
            prev = poses[k - 1]
            prev_cells = [(int(r), int(c)) for r, c in prev[:, :2]]
            where = {c: i for i, c in enumerate(prev_cells)}
            for i, (a, b) in enumerate(zip(prev_cells, cells, strict=True)):
                assert abs(a[0] - b[0]) + abs(a[1] - b[1]) <= 1, f"step {steps[k]}: unit {unit_ids[i]} jumped"
                j = where.get(b)
                if j is not None and j != i and cells[j] == a:
                    raise AssertionError(f"step {steps[k]}: units {unit_ids[i]} and {unit_ids[j]} swapped")
            for i in range(len(unit_ids)):
                before, after = int(prev[i, 3]), int(cur[i, 3])
                if before < 0 <= after:
                    assert stood.get(cells[i]) == after, (
                        f"unit {unit_ids[i]} lifted pod {after} not on its cell"
                    )
                    assert pod_mass(after) <= payload[unit_ids[i]] + 1e-9, f"pod {after} over payload"
                    del stood[cells[i]]
                    lifts += 1
                elif before >= 0 > after:
                    assert cells[i] not in stood, f"pod {before} set down on an occupied cell"
                    stood[cells[i]] = before
        for i, cell in enumerate(cells):
            if cur[i, 3] >= 0:
                assert cell not in stood, (
                    f"step {steps[k]}: loaded unit {unit_ids[i]} under stored pod {stood[cell]}"
                )
    return {"steps": int(len(steps)), "lifts": lifts}
