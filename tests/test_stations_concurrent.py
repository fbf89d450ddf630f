"""Physics arm stations work alongside the floor: a line's physics advances tick by tick on the
floor's clock (`fctwin.robots.line_runner`), not all at the line's start, and ends exactly when the
same line run at once would have ended."""

import numpy as np

from fctwin.robots.checker import CheckerFloor
from fctwin.robots.data.item_mix import sample_items
from fctwin.robots.messages import Serve
from fctwin.robots.physics.engine import SIM_HZ
from fctwin.robots.station import StationUnit
from fctwin.robots.vulcan import VulcanStation

TICK_S = 0.5


def _station(sizes_m, mass_kg) -> VulcanStation:
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("P", 0)
    st = VulcanStation(
        unit_id="V",
        floor=floor,
        cell=(2, 0),
        kind="stow",
        fidelity="physics",
        sku_sizes_m=sizes_m,
        sku_mass_kg=mass_kg,
    )
    st.reset(seed=3)
    for k in range(2):
        st.handle(Serve(k + 1, "V", k, "stow", 0, k, 1), 0.0)
    return st


def _run(st: VulcanStation, watch=None) -> list[tuple[float, int, int]]:
    done, t = [], 0.0
    while len(done) < 2 and t < 600:
        t += TICK_S
        for ev in st.step(t, TICK_S):
            if ev.kind == "done":
                done.append((round(ev.t_s, 6), ev.data["units"], ev.data["to_person"]))
        if watch is not None:
            watch(st, t)
    st.close()
    return done


def test_a_physics_line_runs_alongside_the_floor_and_ends_when_it_would_at_once(monkeypatch):
    sizes_m, mass_kg = sample_items(np.random.default_rng(4), 2)
    seen = []

    def watch(st, t):
        if st._cell is not None:  # the cell's physics time never runs ahead of the floor
            seen.append((t, st._cell.pc.steps / SIM_HZ, st._runner is not None))

    concurrent = _run(_station(sizes_m, mass_kg), watch)
    # Physics steps beyond the stow's own (building the cell, settling a loaded pod) are not line
    # time, so the cell's step count may lag the floor; it must never lead it by more than one tick.
    assert seen and all(phys_s <= t + TICK_S for t, phys_s, _ in seen)
    running = [t for t, _, r in seen if r]
    assert len(running) > 10  # the arm was mid-line over many floor ticks, not done at the start
    assert len({round(phys_s, 3) for _, phys_s, r in seen if r}) > 10  # and moved between them

    # The same lines run at once (the old way) give the same events at the same times.
    monkeypatch.setattr(VulcanStation, "begin_line", StationUnit.begin_line)
    at_once = _run(_station(sizes_m, mass_kg))
    assert concurrent == at_once and len(concurrent) == 2
