"""benchmarks/eluna_backlog.py: what the shift lead's extra labour bought at the end of the run, from the
benchmark's rows (fake rows: no simulation here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("eluna_backlog", ROOT / "benchmarks" / "eluna_backlog.py")
backlog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(backlog)


def _row(seed, mode, *, units, labour_h, open_units):
    hours = 4.0
    return {"scene": "eluna_outage", "seed": seed, "mode": mode, "units_per_h": units / hours,
            "units_per_labour_h": units / labour_h, "labour_h": labour_h,
            "open_units_end": open_units}  # fmt: skip


def test_the_shift_leads_extra_labour_is_priced_at_what_it_bought():
    """(b) pays 2.5 labour hours more than the agent and processes 50 units more, the 50 the agent
    leaves open at the end: 20 units per labour hour, against the agent's 5,000 / 30 = 167."""
    rows = [
        _row(11, "off", units=4800, labour_h=30.0, open_units=300),
        _row(11, "reactive", units=5050, labour_h=32.5, open_units=50),
        _row(11, "auto", units=5000, labour_h=30.0, open_units=100),
        _row(12, "off", units=4800, labour_h=30.0, open_units=300),
        _row(12, "reactive", units=5040, labour_h=32.5, open_units=60),
        _row(12, "auto", units=5060, labour_h=30.0, open_units=40),
    ]
    assert backlog.marginal_units_per_labour_h(rows[1], rows[2]) == pytest.approx(20.0)
    assert backlog.marginal_units_per_labour_h(rows[2], rows[2]) is None  # no extra labour
    lines, s = backlog.scene_table(rows, "eluna_outage")
    assert s["seeds"] == 2 and s["units"][0] == pytest.approx((50 - 20) / 2)
    assert s["relative_pct"] == pytest.approx((100.0 - 100.0 / 3) / 2)
    assert s["worse_by_a_carton"] == 1 and s["better_by_a_carton"] == 1
    assert "| 20 |" in lines[1] and "| -8 |" in lines[2], lines
    # the spread of the relative differences sets the seeds a 1% test needs
    assert backlog.seeds_to_resolve([10.0, -10.0]) == pytest.approx((1.96 * 14.142135623730951) ** 2)


def test_a_missing_or_torn_rows_file_is_a_clear_error(tmp_path, capsys):
    assert backlog.main([str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read the rows file" in capsys.readouterr().err
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"scene": "eluna_outage"}\n{"scene": "elu\n')
    assert backlog.main([str(torn)]) == 2
    assert "torn.jsonl:2: not a JSON row" in capsys.readouterr().err
    good = tmp_path / "good.jsonl"
    good.write_text('{"scene": "eluna_outage"}\n')
    assert backlog.main([str(good), "--runs", str(tmp_path / "no_runs")]) == 2
    assert "not a directory of run stores" in capsys.readouterr().err
