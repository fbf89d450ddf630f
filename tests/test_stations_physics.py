"""Station units in physics: Vulcan stow/jam/pick, Sequoia storage policy, fast vs physics agreement."""

import numpy as np
import pytest
from shapely.geometry import box

from fctwin.robots.checker import CheckerFloor
from fctwin.robots.messages import Serve
from fctwin.robots.physics.sequoia_rack import SequoiaRack, SequoiaRackParams, nearest_free_slot
from fctwin.robots.physics.vulcan_cell import VulcanCell
from fctwin.robots.sequoia import SequoiaStation


@pytest.fixture(scope="module")
def cell():
    c = VulcanCell()
    yield c
    c.close()


def _only_bin(c, bin_id):
    """Mark every other bin full in the occupancy map, so the plan must use ``bin_id``."""
    for b in c.face.bins:
        for k in [k for k in b.items if k < 0]:
            del b.items[k]
        if b.bin_id != bin_id:
            b.items[-1 - b.bin_id] = box(0, 0, b.width_m, 0.01)


def test_stow_ends_inside_the_bin(cell):
    cell.clear_pod()
    _only_bin(cell, 13)
    res = cell.stow((0.06, 0.10, 0.08), 0.5)
    assert res.success and res.bin_id == 13 and res.jams == 0
    stowed = [i for i, it in cell.items.items() if it.bin_id == 13]
    assert stowed and cell.item_inside_bin(stowed[-1], 13)  # AABB within the bin, from physics


def test_jam_is_detected_by_force_retried_then_handed_to_person(cell):
    cell.clear_pod()
    _only_bin(cell, 14)
    for b in cell.face.bins:  # free a second bin for the retry, both with hidden obstacles
        if b.bin_id == 12:
            del b.items[-13]
    obstacles = [cell.add_obstacle(14, 0.0, cell.face.bin(14).width_m), cell.add_obstacle(12, 0.0, 0.12)]
    res = cell.stow((0.06, 0.10, 0.08), 0.5)
    assert res.jams == 2 and res.attempts == 2
    assert res.to_person and not res.success
    assert res.peak_force_n > cell.params.jam_force_n
    for body in obstacles:
        cell.pc.remove(body)


def test_suction_pick_holds_light_and_breaks_above_force_limit(cell):
    cell.clear_pod()
    light = cell.place_for_pick((0.05, 0.10, 0.08), 0.3)
    assert light is not None
    ok = cell.pick(light)
    assert ok.success and not ok.broke and ok.peak_force_n < cell.params.suction_limit_n
    heavy = cell.place_for_pick((0.05, 0.10, 0.08), 4.2)  # 41 N of weight alone, limit 45 N
    res = cell.pick(heavy)
    assert res.broke and not res.success


def test_sequoia_nearest_free_slot_policy():
    prm = SequoiaRackParams(rows=4, levels=3)
    free = np.ones((4, 3), dtype=bool)
    first = nearest_free_slot(free, prm)
    assert first[0] == 0  # nearest row to the port
    free[first] = False
    second = nearest_free_slot(free, prm)
    assert second != first and second[0] == 0
    free[:] = False
    assert nearest_free_slot(free, prm) is None


def test_sequoia_store_puts_tote_in_slot_and_times_come_from_physics():
    rack = SequoiaRack(params=SequoiaRackParams(rows=3, levels=2))
    t, slot = rack.store()
    pos = rack.tote_position(slot)
    assert abs(pos[0] - (slot[0] + 1) * rack.params.pitch_x_m) < 0.03
    assert abs(pos[1] - rack.params.slot_y_m) < 0.1  # on the slot shelf (fork placement error ~6 cm)
    assert t > 1.0  # seconds of simulated gantry motion
    rack.close()


def test_fast_and_physics_agree_on_sequoia_throughput():
    """Tolerance: 20% on units per hour over 4 stow lines (fast tables fitted from this physics)."""
    rates = {}
    for fidelity in ("fast", "physics"):
        floor = CheckerFloor()
        floor.carried[(2, 0)] = ("T", 0)
        st = SequoiaStation(unit_id="S", floor=floor, cell=(2, 0), kind="stow", fidelity=fidelity)
        st.reset(seed=3)
        for k in range(4):
            st.handle(Serve(k + 1, "S", k, "stow", 0, 1, 12), 0.0)
        t = 0.0
        while st.units_served < 48 and t < 5000:
            t += 1.0
            st.step(t, 1.0)
        rates[fidelity] = st.units_served / st.busy_s * 3600
        st.close()
    assert abs(rates["fast"] - rates["physics"]) / rates["physics"] < 0.2, rates


@pytest.mark.parametrize(
    "size_m, why",
    [
        ((0.035, 0.08, 0.137), "tall: 0.86 of a top-row bin's height, slides out under the held-open band"),
        ((0.04, 0.19, 0.10), "deep: reached into the pod face when carried at the plain home pose"),
    ],
)
def test_pick_of_tall_and_deep_items_ends_on_the_tool(size_m, why):
    # A fresh cell: with the band's friction (0.4, fabric on cardboard) a tall item's pull-out sits
    # near the seal limit, and after other picks in the same cell it can break the seal (47 N
    # against 45 N measured): a real failure mode, counted in the calibrated pick rate. This test
    # keeps to what it guards, the geometry: the held-open band and the carry pose.
    cell = VulcanCell()
    cell.clear_pod()
    item = cell.place_for_pick(size_m, 0.1)
    assert item is not None and cell.face.bin(cell.items[item].bin_id).row == 3  # top row first
    seen = {}
    release = cell._release

    def spy():  # where the item is, in physics, the moment the arm lets go at the end of the pick
        if cell._suction_item == item:
            seen["aabb"] = cell.pc.aabb(cell.items[item].body)
            seen["held"] = True
        release()

    cell._release = spy
    try:
        res = cell.pick(item)
    finally:
        cell._release = release
    assert res.success and not res.broke, (why, res)
    lo, hi = seen["aabb"]
    tip_x = cell.arm.ee_pose()[0][0] + cell.params.tool_len_m / 2
    assert hi[0] < cell.params.face_x_m and abs(lo[0] - tip_x) < 0.02  # out of the pod, on the tool tip
    cell.close()


def test_top_row_stow_short_of_the_back_wall_is_not_a_jam(cell):
    """In the top row the arm settles ~2 cm short of the back wall, at no force: the item is in."""
    cell.clear_pod()
    _only_bin(cell, 14)
    res = cell.stow((0.046, 0.051, 0.113), 0.09)
    assert res.success and res.jams == 0 and res.peak_force_n < cell.params.jam_force_n, res
    stowed = [i for i, it in cell.items.items() if it.bin_id == 14]
    assert stowed and cell.item_inside_bin(stowed[-1], 14)  # physics, not the plan


@pytest.mark.parametrize("kind", ["pick", "stow"])
def test_fast_sequoia_charges_one_tote_move_per_line_as_physics_does(kind):
    """A 4-unit line takes one tote move plus four units of the person's time in both fidelities.

    The fast table used to carry a whole retrieval in every unit's time, so a 4-unit pick line paid
    for four tote moves in fast runs and one in physics (fc_stations: 32 against 45 units picked).
    """
    durations = {}
    for fidelity in ("fast", "physics"):
        floor = CheckerFloor()
        floor.carried[(2, 0)] = ("T", 0)
        st = SequoiaStation(unit_id="S", floor=floor, cell=(2, 0), kind=kind, fidelity=fidelity)
        st.reset(seed=5)
        # 40 SKUs: a pick port fetches each one's tote from its own slot, so every slot once
        durations[fidelity] = [
            st.line_outcome(Serve(k + 1, "S", k, kind, 0, k, 4), new_pod=False).duration_s for k in range(40)
        ]
        st.close()
    fast, phys = np.mean(durations["fast"]), np.mean(durations["physics"])
    per_unit = 4 * (4.0 if kind == "pick" else 3.5)
    assert abs(fast - phys) / phys < 0.1, (fast, phys)
    assert per_unit < fast < per_unit + 2 * (phys - per_unit)  # one move, not four
