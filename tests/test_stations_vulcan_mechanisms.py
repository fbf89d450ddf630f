"""Vulcan's failure and timing mechanisms: refused item types, polybags, perception time, multi-picks.

Fast checks on one cell (no long physics): the rates these mechanisms produce are measured by
`fctwin calibrate` (docs/stations.md), not asserted here.
"""

import json

import numpy as np
import pytest

from fctwin.robots.data.item_mix import BAG_SHARE, FRAGILE_SHARE, kind_of_sku, sample_catalogue
from fctwin.robots.physics.vulcan_cell import VulcanCell


@pytest.fixture(scope="module")
def cell():
    c = VulcanCell(seed=1)
    yield c
    c.close()


def test_the_arm_refuses_item_types_it_cannot_handle(cell):
    small = (0.04, 0.08, 0.10)
    assert cell.refusal(small, 0.3, "box") == ""
    assert cell.refusal(small, 0.3, "bag") == ""
    assert cell.refusal(small, 0.3, "fragile") == "fragile"
    assert cell.refusal(small, 3.0, "box") == "too heavy"
    assert cell.refusal((0.04, 0.08, 0.24), 0.3, "bag").startswith("deformable")
    assert cell.refusal((0.25, 0.10, 0.10), 0.3, "box") == "too big"
    res = cell.stow(small, 0.3, kind="fragile")  # refused at induction: no motion, handed on
    assert not res.success and res.to_person and res.reason == "refused: fragile" and res.attempts == 0
    assert 0.5 < res.duration_s < 5.0


def test_item_mix_declares_packaging_and_refusals_are_about_a_sixth(cell):
    sizes, masses, kinds = sample_catalogue(np.random.default_rng(2), 3000)
    share = {k: kinds.count(k) / len(kinds) for k in ("box", "bag", "fragile")}
    assert share["bag"] == pytest.approx(BAG_SHARE, abs=0.03)
    assert share["fragile"] == pytest.approx(FRAGILE_SHARE, abs=0.02)
    refused = np.mean(
        [cell.refusal(tuple(s), float(m), k) != "" for s, m, k in zip(sizes, masses, kinds, strict=True)]
    )
    assert 0.10 < refused < 0.22  # plus the failures: about a quarter handed to people
    assert kind_of_sku(17) == kind_of_sku(17)  # a scene SKU's packaging is fixed by its id


def test_a_polybag_is_two_bodies_with_a_weaker_seal(cell):
    cell.clear_pod()
    bag = cell.place_for_pick((0.03, 0.14, 0.10), 0.3, "bag")
    box = cell.place_for_pick((0.03, 0.14, 0.10), 0.3, "box")
    assert len(cell.items[bag].bodies) == 2 and len(cell.items[box].bodies) == 1
    assert cell.seal_n(bag) < cell.seal_n(box) == cell.params.suction_limit_n
    lo, hi = cell.item_aabb(bag)
    assert hi[0] - lo[0] == pytest.approx(0.14, abs=0.01)  # both segments, end to end
    assert cell.item_inside_bin(bag, cell.items[bag].bin_id)


def test_perception_takes_longer_the_more_items_are_in_view(cell):
    cell.clear_pod()
    empty = np.median([cell.perceive_s() for _ in range(200)])
    cell.load_pod(np.random.default_rng(0), fill_frac=0.8)
    full = np.median([cell.perceive_s() for _ in range(200)])
    in_view = sum(len(b.item_heights_m) for b in cell.face.bins)
    assert in_view >= 4 and full > empty + 0.6 * cell.params.segment_per_item_s * in_view
    bag = np.mean([cell.induct_s("bag") for _ in range(400)])
    box = np.mean([cell.induct_s("box") for _ in range(400)])
    assert bag > box + 0.2  # film defeats barcode reads: rescans


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # one second of Blue Jay finishes no unit: NaN
def test_calibration_table_is_the_same_for_any_jobs(monkeypatch):
    """`fctwin calibrate --jobs 2` gives the table `--jobs 1` gives: every pod has its own cell and
    stream seeded by (seed, pod), and the Blue Jay arm counts their own seeds. Two one-trial pods
    and one simulated second of Blue Jay keep it cheap; the pool really runs (two pods, two jobs)."""
    from fctwin.robots import calibration

    monkeypatch.setattr(calibration, "POD_TRIALS", 1)
    tables = [calibration.calibrate(trials=2, seed=4, bluejay_sim_s=1.0, jobs=j) for j in (1, 2)]
    assert tables[0]["vulcan_summary"]["stow_trials"] == 2
    # what `write_models` writes, byte for byte (NaN, e.g. no Blue Jay unit in one second, is "NaN")
    assert json.dumps(tables[0], sort_keys=True) == json.dumps(tables[1], sort_keys=True)


def test_intervals_resample_pods_and_call_the_range_only_when_they_can():
    from fctwin.robots.calibration import vulcan_intervals

    def pod(ok: int, n: int = 8):  # ``ok`` of ``n`` stowed, the rest jammed
        stows = [(12.0, k < ok, "" if k < ok else "jam", "box") for k in range(n)]
        return stows, stows

    # 10 s per stow, all stowed: 360 per arm-hour, clearly above 224-300; success 100% above 80-90%
    fast = vulcan_intervals([([(10.0, True, "", "box")] * 8,) * 2 for _ in range(20)], handoff_s=2.0)
    assert fast["robot_stows_per_h"]["verdict"] == "out of range"
    assert fast["robot_stows_per_h"]["low"] == fast["robot_stows_per_h"]["high"] == 360.0
    # success near 85% over 5 pods: the interval is wide and straddles an edge of 80-90%
    few = vulcan_intervals([pod(k) for k in (7, 8, 6, 7, 6)], handoff_s=2.0)  # 34 of 40
    e = few["stow_success_rate"]
    assert e["low"] < 0.80 or e["high"] > 0.90
    assert e["verdict"] == "undecided" and e["trials_to_decide"] > 40


def _band_contacts_in_pick(retreat_clear_m: float):
    """Pick a small box from a top-row bin of a half-full pod: (success, steps on which the held item
    touched another bin's band). The pod and item are those of seed 0's first calibration pick."""
    import pybullet as p

    from fctwin.robots.physics.vulcan_cell import VulcanCell, VulcanCellParams

    rng = np.random.default_rng([0, 0])
    cell = VulcanCell(
        params=VulcanCellParams(pick_retreat_clear_m=retreat_clear_m), seed=int(rng.integers(2**31))
    )
    try:
        cell.load_pod(rng, fill_frac=0.5)
        item_id = cell.place_for_pick((0.0443, 0.0591, 0.1246), 0.065, "box")
        own = cell.items[item_id].bin_id
        assert (
            cell.face.bin(own).row == len(cell.params.rows) - 1
        )  # top row: the carry crosses the rows below
        others = {b3.band for k, b3 in enumerate(cell.bins3d) if k != own}
        touched = [0]
        load = cell._hold_load_n

        def watched(item, v_prev):
            for c in p.getContactPoints(bodyA=item.body, physicsClientId=cell.pc.cid):
                touched[0] += c[2] in others
            return load(item, v_prev)

        cell._hold_load_n = watched
        res = cell.pick(item_id)
        return res.success, touched[0]
    finally:
        cell.close()


def test_pick_retreats_from_the_face_before_carrying_across_it():
    """The carry used to set off across the face 3 cm from its plane and swept the held item through
    the bands of the bins below (whose bands bulge out over items that stick out): the cup's seal
    broke on the contact. With the post-grasp retreat the item touches no other bin's band."""
    ok, touched = _band_contacts_in_pick(0.08)
    assert ok and touched == 0
    _, touched_old = _band_contacts_in_pick(0.03)  # the old path: the check does see the contact
    assert touched_old > 0


def test_calibrate_only_runs_the_station_types_asked_for():
    """``only``: a partial table (``source.only``) with just those types; the shipped table's shape
    otherwise. Sequoia alone is a few rack cycles (no arm physics)."""
    from fctwin.robots import calibration

    table = calibration.calibrate(trials=2, seed=0, only=("sequoia",))
    assert table["source"]["only"] == ["sequoia"] and set(table["models"]) == {"sequoia"}
    assert "vulcan_summary" not in table and "bluejay_summary" not in table
    assert table["sequoia_cycle_s"]["store_mean"] > 0
    with pytest.raises(ValueError, match="station types"):
        calibration.calibrate(trials=2, only=("vulcan", "titan"))


def _pick_weighed(extra_kg: float):
    """Pick a 0.3 kg box from an empty pod with ``extra_kg`` more on its body than the catalogue says
    (a second item riding rigidly on it, as the wrist sensor sees it)."""
    import pybullet as p

    cell = VulcanCell(seed=3)
    try:
        item_id = cell.place_for_pick((0.05, 0.10, 0.08), 0.3, "box")
        if extra_kg:
            p.changeDynamics(cell.items[item_id].body, -1, mass=0.3 + extra_kg, physicsClientId=cell.pc.cid)
        return cell.pick(item_id)
    finally:
        cell.close()


def test_the_wrist_sensor_weighs_the_held_load_and_flags_a_second_item():
    """The weight check reads the F/T sensor at the carry pose against the catalogue mass: one item
    reads its own mass (no flag); 200 g more on the cup is flagged. A reading, not an outcome."""
    single = _pick_weighed(0.0)
    assert single.success and single.held_kg == pytest.approx(0.3, abs=0.05) and not single.weight_flag
    double = _pick_weighed(0.2)
    assert double.held_kg == pytest.approx(0.5, abs=0.06) and double.weight_flag


def test_pick_checks_count_what_the_checks_saw_and_the_sweep_mixes_measured_rates():
    from fctwin.robots.calibration import pick_checks, stack_sweep

    def attempt(stacked, ok, where=(), flag=False, held=0.3):
        return {
            "stacked": stacked,
            "ok": ok,
            "reason": "" if ok else "multi-pick",
            "mass_kg": 0.3,
            "held_kg": held,
            "weight_flag": flag,
            "dragged_where": list(where),
        }

    rows = [attempt(False, True)] * 18 + [attempt(False, False, ["out of the pod"])]
    rows += [attempt(True, True), attempt(True, False, ["on the tool"], flag=True, held=0.5)]
    rows += [attempt(False, True, flag=True), None]  # a false alarm; None: a refused item, no attempt
    c = pick_checks(rows)
    assert c["stacked"] == {"picks": 2, "success": 1} and c["not_stacked"] == {"picks": 20, "success": 19}
    assert c["multi_picks"] == 2 and c["multi_pick_from_stacked"] == 1
    assert c["dragged_where"] == {"on the tool": 1, "out of the pod": 1}
    w = c["weight_check"]
    assert (w["multi_picks_riding"], w["flagged_multi_picks"], w["flagged_riding"], w["false_alarms"]) == (
        1,
        1,
        1,
        1,
    )
    sweep = dict(stack_sweep(c, shares=(0.0, 0.5, 1.0)))
    assert sweep[0.0] == pytest.approx(0.95) and sweep[1.0] == pytest.approx(0.5)
    assert sweep[0.5] == pytest.approx((0.95 + 0.5) / 2)
