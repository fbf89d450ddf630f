"""Fast (calibrated) and physics stations agree on throughput in a small FC run.

The case is `scenes/stations_tiny.toml` (8 drive units; one Vulcan pick arm, a 2-arm Blue Jay pick
cell, a Sequoia stow port and a human stow station) for 0.1 simulated hours, once with every arm
station on its fast model and once in PyBullet. Tolerances: 10% on the FC's units picked per hour
and 25% on each arm station type's units per hour. Each type moves 30-50 units here, so the
fast model's sampling noise alone is about 15% on a type; a miscalibrated table (say, cycle times
half the physics) moves a type by more than 25%.
"""

from pathlib import Path

import pytest

from fctwin.sim.run import RunOptions, run_fc

TINY = Path(__file__).resolve().parents[1] / "scenes" / "stations_tiny.toml"

FC_TOLERANCE = 0.10
TYPE_TOLERANCE = 0.25


def _kpis(tmp_path, fidelity):
    opts = RunOptions(runs_dir=tmp_path, run_id=fidelity, link="local", station_fidelity=fidelity)
    return run_fc(TINY, opts).kpis


@pytest.mark.slow  # ~40 s of physics on one core; still in the default `python -m pytest -q`
def test_fast_and_physics_stations_agree_on_fc_throughput(tmp_path):
    fast, phys = _kpis(tmp_path, "fast"), _kpis(tmp_path, "physics")
    assert fast["units_picked"] > 20 and phys["units_picked"] > 20
    rel = abs(fast["units_picked_per_h"] - phys["units_picked_per_h"]) / phys["units_picked_per_h"]
    assert rel < FC_TOLERANCE, (fast["units_picked_per_h"], phys["units_picked_per_h"])
    for unit_type in ("vulcan", "bluejay", "sequoia"):
        f, p = fast["by_station_type"][unit_type], phys["by_station_type"][unit_type]
        assert p["units"] > 0, unit_type
        rel = abs(f["units_per_h"] - p["units_per_h"]) / p["units_per_h"]
        assert rel < TYPE_TOLERANCE, (unit_type, f, p)
