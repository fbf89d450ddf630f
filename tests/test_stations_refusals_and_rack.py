"""Fast Vulcan refuses the SKUs the physics refuses; Sequoia's stow rack starts as full as the scene says."""

from pathlib import Path

import numpy as np
import pytest

from fctwin.robots.checker import CheckerFloor
from fctwin.robots.data.item_mix import kind_of_sku
from fctwin.robots.messages import Serve
from fctwin.robots.sequoia import SequoiaStation
from fctwin.robots.vulcan import VulcanStation
from fctwin.robots.vulcan_params import refusal_reason

ROOT = Path(__file__).resolve().parents[1]
CONST = {"dist": "constant", "value": 5.0}


def _entry(rate_all: float, rate_attempts: float) -> dict:
    tried = {"success_rate": rate_attempts, "trials": 50, "cycle_s": CONST, "fail_s": CONST}
    return {
        "success_rate": rate_all,
        "trials": 60,
        "cycle_s": CONST,
        "fail_s": CONST,
        "refused_s": {"dist": "constant", "value": 1.0},
        "attempts": {"all": tried, "box": tried, "bag": tried},
    }


def _catalogue():
    # Half shoebox-size items, half too big for any bin (30 cm on every side).
    n = 40
    sizes = np.where(np.arange(n)[:, None] % 2 == 0, [[0.05, 0.08, 0.10]], [[0.30, 0.30, 0.30]])
    return sizes.astype(float), np.full(n, 0.3)


def _to_person(success_rate=None) -> tuple[int, int]:
    sizes, masses = _catalogue()
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("P", 0)
    # The calibration mix's rate over every unit (refusals included) is 0.5 here: a scene with other
    # items must not inherit it when the table keeps the refusals apart.
    model = {"pick": {"small": _entry(0.5, 1.0), "medium": _entry(0.5, 1.0), "large": _entry(0.5, 1.0)}}
    st = VulcanStation(
        unit_id="V",
        floor=floor,
        cell=(2, 0),
        kind="pick",
        model=model,
        sku_sizes_m=sizes,
        sku_mass_kg=masses,
        success_rate=success_rate,
    )
    st.reset(seed=3)
    person = expected = 0
    for sku in range(len(sizes)):
        out = st.line_outcome(Serve(sku + 1, "V", sku, "pick", 0, sku, 2), new_pod=False)
        person += out.units_to_person
        expected += 2 * bool(refusal_reason(sorted(sizes[sku]), masses[sku], kind_of_sku(sku)))
    return person, expected


def test_fast_vulcan_refuses_exactly_the_skus_the_physics_refuses():
    person, expected = _to_person()
    assert expected >= 40  # every too-big SKU, and the fragile ones among the rest
    assert person == expected  # attempts succeed at 1.0: only refusals go to people


def test_a_scene_success_rate_overrides_the_split_table():
    person, _ = _to_person(success_rate=0.0)
    assert person == 80  # every unit, refused or not


def test_refusal_reason_is_the_physics_cells():
    pytest.importorskip("pybullet")
    from fctwin.robots.data.item_mix import sample_catalogue
    from fctwin.robots.physics.vulcan_cell import VulcanCell

    sizes, masses, kinds = sample_catalogue(np.random.default_rng(4), 300)
    cell = VulcanCell(seed=1)
    try:
        reasons = [cell.refusal(s, m, k) for s, m, k in zip(sizes, masses, kinds, strict=True)]
    finally:
        cell.close()
    assert reasons == [refusal_reason(s, m, k) for s, m, k in zip(sizes, masses, kinds, strict=True)]
    assert 0 < sum(bool(r) for r in reasons) < len(reasons)


@pytest.mark.parametrize("fill, totes_after_one_line", [(0.0, 1), (0.5, 21), (0.6, 25)])
def test_sequoia_stow_rack_starts_as_full_as_the_scene_declares(fill, totes_after_one_line):
    pytest.importorskip("pybullet")
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("T", 0)
    st = SequoiaStation(
        unit_id="S", floor=floor, cell=(2, 0), kind="stow", fidelity="physics", rack_fill_frac=fill
    )
    st.reset(seed=2)
    st.line_outcome(Serve(1, "S", 0, "stow", 0, 1, 12), new_pod=False)
    assert len(st._cell.totes) == totes_after_one_line
    st.close()


def test_sequoia_rack_fill_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="rack_fill_frac"):
        SequoiaStation(unit_id="S", floor=CheckerFloor(), cell=(2, 0), kind="stow", rack_fill_frac=1.5)


def test_scene_storage_fill_reaches_the_sequoia_stow_station():
    from fctwin.sim.fleet_host import make_station_unit
    from fctwin.sim.scene import load_scene

    scene = load_scene(ROOT / "scenes" / "fc_stations.toml")
    station = next(s for s in scene.stations if s.unit == "sequoia" and s.kind == "stow")
    unit = make_station_unit(station, CheckerFloor(), skus=scene.skus, storage_fill_frac=0.35)
    assert unit.rack_fill_frac == 0.35


def test_a_packaging_rarely_tried_in_a_class_borrows_its_own_rate_from_another_class():
    """The mix's polybags are flat, so nearly all are 'small'; a scene's medium bag must fail like a
    bag (here: always), not succeed like the medium class's boxes (4 bag attempts are too few)."""
    box_ok = {"success_rate": 1.0, "trials": 30, "cycle_s": CONST, "fail_s": CONST}
    medium = {**_entry(1.0, 1.0), "attempts": {"all": box_ok, "box": box_ok, "bag": {**box_ok, "trials": 4}}}
    small = {**_entry(1.0, 1.0)}
    small["attempts"] = {**small["attempts"], "bag": {**box_ok, "success_rate": 0.0, "trials": 80}}
    sizes = np.array([[0.10, 0.12, 0.15]] * 60)  # 1.8 L: medium, fits a bin, not floppy (< 20 cm)
    masses = np.full(60, 0.3)
    floor = CheckerFloor()
    floor.carried[(2, 0)] = ("P", 0)
    st = VulcanStation(
        unit_id="V",
        floor=floor,
        cell=(2, 0),
        kind="pick",
        model={"pick": {"small": small, "medium": medium}},
        sku_sizes_m=sizes,
        sku_mass_kg=masses,
    )
    st.reset(seed=1)
    kinds = [kind_of_sku(k) for k in range(60)]
    assert "bag" in kinds and "box" in kinds
    for sku, kind in enumerate(kinds):
        out = st.line_outcome(Serve(sku + 1, "V", sku, "pick", 0, sku, 1), new_pod=False)
        assert out.units_to_person == (kind != "box"), (sku, kind)  # bags fail, fragile refused
