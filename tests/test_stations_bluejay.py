"""Blue Jay cell in physics: workspace reservation keeps arms apart; the contact check catches it when off."""

import pytest

from fctwin.robots.bluejay import BlueJayStation
from fctwin.robots.checker import CheckerFloor
from fctwin.robots.messages import Serve
from fctwin.robots.physics.bluejay_cell import BlueJayCell, Task

# Arms 0, 1 and 2 all consolidate into the centre order tote at once: their zones overlap.
SAME_ZONE = {
    0: [Task("consolidate", "K0", "C")],
    1: [Task("consolidate", "K0", "C")],
    2: [Task("consolidate", "K1", "C")],
}


def _own_sector(k):
    """Pick and stow between arm k's own tote and the shared tote on the same side: zones apart."""
    return [Task("pick", f"O{k}", f"K{(k - 1) % 4}"), Task("stow", f"K{(k - 1) % 4}", f"O{k}")] * 2


def test_reserved_arms_never_touch_while_all_busy():
    cell = BlueJayCell(arms=3, seed=1)
    scripted = {k: _own_sector(k) for k in range(3)}
    busy_steps = 0
    for _ in range(int(9.0 * 240)):
        cell.step(scripted)
        busy_steps += cell.busy_arms() == 3
        assert cell.contact_points() == 0  # every arm pair, every step
    assert busy_steps > 5 * 240  # all three arms mid-task together for over 5 s
    assert cell.units_done >= 3 and cell.units_failed == 0
    assert cell.max_zone_overlap_m2 == 0.0
    cell.close()


def test_random_task_mix_has_no_arm_contact():
    cell = BlueJayCell(arms=4, seed=2)
    res = cell.run(8.0)  # pick, stow and consolidation drawn at random, the cell controller dispatches
    assert res["arm_contact_steps"] == 0 and res["failed"] == 0
    assert cell.max_zone_overlap_m2 == 0.0
    cell.close()


def test_contact_check_catches_collision_without_reservation():
    cell = BlueJayCell(arms=3, reserve=False)
    res = cell.run(5.0, scripted={k: list(v) for k, v in SAME_ZONE.items()})
    assert res["arm_contact_steps"] > 0
    cell.close()


def test_same_tasks_with_reservation_are_serialised_without_contact():
    cell = BlueJayCell(arms=3, reserve=True)
    res = cell.run(18.0, scripted={k: list(v) for k, v in SAME_ZONE.items()})
    assert res["arm_contact_steps"] == 0 and cell.wait_steps > 0
    assert res["units"] == 3 and res["failed"] == 0, res  # all three done, one after the other
    cell.close()


def test_bluejay_station_physics_fidelity_serves_a_line():
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("T", 0)
    st = BlueJayStation(unit_id="B", floor=floor, cell=(2, 0), kind="pick", fidelity="physics", arms=2)
    st.reset(seed=0)
    st.handle(Serve(1, "B", 0, "pick", 0, 1, 2), 0.0)
    t = 0.0
    while st.units_served < 2 and t < 200:
        t += 1.0
        st.step(t, 1.0)
    assert st.units_served == 2 and st.busy_s > 1.0
    st.close()


@pytest.mark.parametrize("arms", [0, 5])
def test_cell_arm_count_is_checked(arms):
    with pytest.raises(ValueError):
        BlueJayCell(arms=arms)


def test_station_units_pass_the_contract_checker():
    from fctwin.robots.checker import check_unit
    from fctwin.robots.sequoia import SequoiaStation
    from fctwin.robots.vulcan import VulcanStation

    for cls in (BlueJayStation, VulcanStation, SequoiaStation):
        check_unit(cls)


def test_every_arm_keeps_its_tool_pointing_down_over_the_totes():
    """The cup must face the item squarely whichever side of the table the arm stands on."""
    import numpy as np
    import pybullet as p

    cell = BlueJayCell(arms=4, seed=0)
    for st in cell.arms:
        for spot in (f"O{st.index}", f"K{st.index}", "C"):
            cell_xyz = np.array([*cell.spots[spot], 0.12])
            st.arm.reset_to(cell_xyz, st.orn)
            _, orn = st.arm.ee_pose()
            tool_z = np.asarray(p.getMatrixFromQuaternion(orn)).reshape(3, 3)[:, 2]
            tilt_deg = np.degrees(np.arccos(np.clip(-tool_z[2], -1.0, 1.0)))
            assert tilt_deg < 3.0, (st.index, spot, tilt_deg)
            assert np.all(np.abs(st.arm.q()[-1]) < np.radians(170))  # wrist A7 away from its +-175 deg limit
    cell.close()


class _TwoAtOnce:
    """A cell stand-in whose arms finish two units in the same step, then one."""

    def __init__(self):
        self.calls = [(1.5, 2, 0), (2.0, 0, 1)]

    def run_units(self, n_units, max_s=600.0):
        return self.calls.pop(0)

    def close(self):
        pass


def test_units_finished_in_the_same_step_are_all_counted():
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("T", 0)
    st = BlueJayStation(unit_id="B", floor=floor, cell=(2, 0), kind="pick", fidelity="physics")
    st.reset(seed=1)
    st._cell = _TwoAtOnce()
    out = st.line_outcome(Serve(1, "B", 1, "pick", 0, 5, 3), new_pod=False)
    assert (out.units_done, out.units_to_person) == (2, 1)  # two done together, then one failure
    assert out.duration_s == pytest.approx(1.5 + 0.0 + 2.0 + 2.0)  # gaps (the 2nd unit: 0 s), hand-off
