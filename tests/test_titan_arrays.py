"""Titans stepped as arrays: the kernel against its reference, and a fleet host stepping its Titans as
arrays (or, below `ARRAY_MIN_UNITS`, as objects) against one stepping N separate Titan units (one
Python call per unit, as the fleet host did before the arrays)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)

from fctwin.robots.messages import Action, Charge, CommandBatch, Lift, Move, Resume, SetDown, Stop
from fctwin.robots.titan import Titan, round_6
from fctwin.robots.titan_arrays import (
    TIMED_CHARGE,
    TIMED_LIFT,
    TIMED_SET_DOWN,
    TitanArrays,
    TitanRow,
    step_titans,
    step_titans_reference,
)
from fctwin.sim import fleet_host as fleet_host_module
from fctwin.sim.fleet_host import FleetHost

ROOT = Path(__file__).resolve().parents[1]

_FIELDS = (
    "row", "col", "heading", "mode", "pod_id", "battery_wh", "busy_until_s", "pending", "timed_op",
    "timed_arg", "charge_until_frac", "stopped", "distance_m", "flags", "done_op", "done_pod",
)  # fmt: skip


def _random_fleet(n: int, seed: int) -> TitanArrays:
    """Units in every situation the kernel branches on: stopped, lifting, setting down, charging (some
    about to reach their target), a pending forward move, turn or wait, batteries near the low mark
    and near empty."""
    rng = np.random.default_rng(seed)
    a = TitanArrays(n)
    a.row[:] = rng.integers(1, 50, n)
    a.col[:] = rng.integers(1, 50, n)
    a.heading[:] = rng.integers(0, 4, n)
    a.mode[:] = rng.integers(0, 7, n)
    a.pod_id[:] = np.where(rng.random(n) < 0.5, rng.integers(0, 100, n), -1)
    a.cap_wh[:] = rng.choice([1500.0, 1000.0, 37.0], n)
    a.charge_w[:] = 3000.0
    a.moving_w[:] = rng.choice([300.0, 1234.5], n)
    a.idle_w[:] = 40.0
    a.low_wh[:] = 0.2 * a.cap_wh
    a.cell_m[:] = rng.choice([1.0, 1.25], n)
    low = a.low_wh + rng.normal(0.0, 0.3, n)
    a.battery_wh[:] = np.where(rng.random(n) < 0.3, low, rng.random(n) * a.cap_wh)
    a.battery_wh[rng.random(n) < 0.1] = rng.random() * 0.2  # nearly empty
    a.pending[:] = rng.integers(0, 4, n)
    a.timed_op[:] = np.where(rng.random(n) < 0.3, rng.integers(TIMED_LIFT, TIMED_CHARGE + 1, n), 0)
    a.timed_arg[:] = np.where(a.timed_op == TIMED_LIFT, rng.integers(0, 100, n), -1)
    a.busy_until_s[:] = rng.random(n) * 10.0
    a.charge_until_frac[:] = rng.choice([0.95, 0.5, 1.0], n)
    a.stopped[:] = rng.random(n) < 0.1
    return a


def _run(a: TitanArrays, kernel, steps: int, dt_s: float) -> list[int]:
    news = []
    for k in range(steps):
        news.append(a.step(1.0 + k * dt_s, dt_s, kernel=kernel))
    return news


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_kernel_steps_bit_for_bit_as_its_reference(seed):
    a, b = _random_fleet(500, seed), _random_fleet(500, seed)
    assert _run(a, step_titans(), 40, 0.37) == _run(b, step_titans_reference, 40, 0.37)
    for name in _FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    # the random fleet exercised every outcome
    assert (a.done_op == 0).any() and a.stopped.any()


def test_every_outcome_happens_in_the_random_fleet():
    a = _random_fleet(500, 0)
    seen = {"done": set(), "low": 0, "failed": 0}
    for k in range(40):
        a.step(1.0 + k * 0.37, 0.37)
        seen["done"] |= set(a.done_op[(a.flags & 1) > 0].tolist())
        seen["low"] += int(((a.flags & 2) > 0).sum())
        seen["failed"] += int(((a.flags & 4) > 0).sum())
    assert seen["done"] == {TIMED_LIFT, TIMED_SET_DOWN, TIMED_CHARGE}
    assert seen["low"] > 0 and seen["failed"] > 0


def test_the_kernel_gives_the_same_steps_with_numba_disabled():
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_titan_arrays import _random_fleet, _FIELDS\n"
        "a = _random_fleet(300, 5)\n"
        "news = [a.step(1.0 + k * 0.37, 0.37) for k in range(30)]\n"
        "print(json.dumps([news] + [getattr(a, f).tolist() for f in _FIELDS]))\n"
    )
    jit, nojit = jit_and_nojit_outputs(code)
    assert jit == nojit


def test_battery_fractions_are_round_6_bit_for_bit():
    a = TitanArrays(6)
    a.cap_wh[:] = [1500.0, 1500.0, 1000.0, 3.0, 1500.0, 1500.0]
    # ordinary values, 0, a value on a 7th-digit rounding boundary, and the full battery
    a.battery_wh[:] = [1234.5678912, 0.0, 0.0000005 * 1000.0, 1.0, 1500.0, 1499.99999925]
    expect = [round_6(x / c) for x, c in zip(a.battery_wh.tolist(), a.cap_wh.tolist(), strict=True)]
    assert a.battery_fracs() == expect
    rng = np.random.default_rng(3)
    b = TitanArrays(20_000)
    b.cap_wh[:] = 1500.0
    b.battery_wh[:] = rng.random(20_000) * 1500.0
    assert b.battery_fracs() == [round(x / 1500.0, 6) for x in b.battery_wh.tolist()]


# ---------------------------------------------------------------- the fleet host, arrays vs units


class PerUnitHost(FleetHost):
    """The fleet host as it was before its Titans were stepped as arrays: N separate Titan units, every
    command through `Titan.handle`, every unit stepped and reported by its own call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sc = self.scene
        by_scene = {u.unit_id: u for u in sc.units}
        alone = []
        for t in self.titans:
            u = by_scene[t.unit_id]
            alone.append(
                Titan(unit_id=t.unit_id, floor=self.floor, cell=u.cell, heading=u.heading, params=t.params)
            )
        self.titans = alone
        self.by_id = {u.unit_id: u for u in [*self.titans, *self.stations]}
        self.arrays = None  # nothing may read the shared arrays

    def apply(self, batch):
        from fctwin.robots.messages import TelemetryFrame, UnitEvent

        t_to = max(self.t_s, batch.t_s) + self.step_s
        dt = t_to - self.t_s
        events = []
        for cmd in batch.commands:
            unit = self.by_id.get(cmd.unit_id)
            if unit is None:
                events.append(
                    UnitEvent(cmd.unit_id, "error", batch.t_s, cmd.command_id, {"reason": "unknown unit"})
                )
                continue
            events.extend(unit.handle(cmd, batch.t_s))
        self._next_cells_distinct = False
        events.extend(self._veto_conflicts(batch.t_s))
        for t in self.titans:
            events.extend(t.step(t_to, dt))
        self._apply_pod_effects(events)
        self._refresh_carried()
        for s in self.stations:
            done = s.step(t_to, dt)
            self._apply_service_effects(s, done)
            events.extend(done)
        self._count_collisions()
        self.t_s = t_to
        self.step_index = batch.step + 1
        units = [u.state() for u in self.by_id.values()]
        return TelemetryFrame(step=self.step_index, t_s=t_to, units=units, events=events)

    def _no_conflict(self) -> bool:
        nxt = [t.next_cell() for t in self.titans]
        if len(set(nxt)) != len(nxt):
            return False
        movers = {t.cell: k for k, t in enumerate(self.titans) if nxt[k] != t.cell}
        return not any((j := movers.get(nxt[k])) is not None and nxt[j] == cell for cell, k in movers.items())

    def _count_collisions(self) -> None:
        if self._next_cells_distinct:
            return
        cells = [t.cell for t in self.titans]
        self.collisions += len(cells) - len(set(cells))

    def _refresh_carried(self) -> None:
        self.floor.carried = {t.cell: (t.unit_id, t.pod_id) for t in self.titans if t.pod_id >= 0}

    def initial_frame(self):
        from fctwin.robots.messages import TelemetryFrame

        self._refresh_carried()
        return TelemetryFrame(step=0, t_s=0.0, units=[u.state() for u in self.by_id.values()], events=[])


def _random_batches(host: FleetHost, ticks: int, seed: int):
    """Commands a dispatcher would rarely send, so every rule is exercised: moves every unit every
    tick (into walls, pods, each other: vetoes and refusals), lifts where a pod may or may not be,
    set-downs, charges, stops and resumes, unknown units and actions, repeated command ids."""
    rng = np.random.default_rng(seed)
    ids = [t.unit_id for t in host.titans]
    pods = list(host.floor.pod_cell)
    cid = 0
    sent = []
    for step in range(ticks):
        cmds = []
        for uid in ids:
            r = rng.random()
            cid += 1
            if r < 0.75:
                action = int(rng.choice([0, 0, 0, 1, 2, 3])) if rng.random() > 0.01 else 7
                cmds.append(Move(cid, uid, action, step))
            elif r < 0.83:  # the pod under the unit if there is one, else any
                under = host.floor.pod_at(host.by_id[uid].cell)
                cmds.append(
                    Lift(cid, uid, under if under >= 0 and rng.random() < 0.8 else int(rng.choice(pods)))
                )
            elif r < 0.88:
                cmds.append(SetDown(cid, uid))
            elif r < 0.9:
                cmds.append(Charge(cid, uid, 0.5))
            elif r < 0.91:
                cmds.append(Stop(cid, uid))
            elif r < 0.93:
                cmds.append(Resume(cid, uid))
            elif r < 0.95 and sent:
                cmds.append(sent[int(rng.integers(len(sent)))])  # a repeated command id
            if rng.random() < 0.2:  # a second command to the unit in the same batch: a move after (or
                cid += 1  # before, once shuffled) a stop, a lift, a charge ...
                cmds.append(Move(cid, uid, int(rng.choice([0, 1])), step))
        if rng.random() < 0.1:
            cmds.append(Move(cid + 1, "NOBODY", 0, step))
        rng.shuffle(cmds)
        sent += [c for c in cmds if c.unit_id != "NOBODY"]
        yield CommandBatch(step=step, t_s=step * host.step_s, commands=cmds)


@pytest.mark.parametrize("stepping", ["arrays", "objects"])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_fleet_host_reports_what_separate_units_report(
    small_scene_dict, write_scene, monkeypatch, seed, stepping
):
    raw = dict(small_scene_dict)
    raw["fleet"] = [dict(raw["fleet"][0], count=40, battery_wh=2.0, low_battery_frac=0.5)]
    path = write_scene(raw)
    # 40 units are a small fleet (objects); the arrays are forced by lowering the threshold.
    monkeypatch.setattr(fleet_host_module, "ARRAY_MIN_UNITS", 1 if stepping == "arrays" else 10_000)
    arrays = FleetHost(path, world=False)
    assert (arrays.arrays is not None) == (stepping == "arrays")
    assert all(type(t) is (TitanRow if stepping == "arrays" else Titan) for t in arrays.titans)
    monkeypatch.setattr(fleet_host_module, "ARRAY_MIN_UNITS", 10_000)
    units = PerUnitHost(path, world=False)
    assert arrays.initial_frame() == units.initial_frame()
    kinds: set[str] = set()
    reasons: set[str] = set()
    for batch in _random_batches(arrays, 60, seed):
        a, b = arrays.apply(batch), units.apply(batch)
        assert a == b, f"step {batch.step}"
        kinds |= {e.kind for e in a.events}
        reasons |= {str(e.data.get("reason", "")).split(" ")[0] for e in a.events}
    assert arrays.collisions == units.collisions
    assert arrays.moves_vetoed == units.moves_vetoed > 0
    assert arrays.floor.pods == units.floor.pods
    # the stream went through every kind of outcome
    assert {"ack", "done", "refused", "error", "battery_low", "failed"} <= kinds
    # (swaps: tests/test_fleet_host.py drives one into the array host's conflict check)
    assert {"cell", "unit", "busy", "cannot", "unknown", "already", "not"} <= reasons


def test_a_titan_alone_and_a_row_of_a_fleet_step_alike():
    from fctwin.robots.checker import CheckerFloor

    floor = CheckerFloor()
    fleet = TitanArrays(3)
    alone = Titan(unit_id="A", floor=floor, cell=(2, 1))
    row = TitanRow(unit_id="A", floor=floor, cell=(2, 1), arrays=fleet, row=1)
    others = [TitanRow(unit_id=f"O{k}", floor=floor, cell=(0, k), arrays=fleet, row=k) for k in (0, 2)]
    script = {0: [Move(1, "A", int(Action.F), 0)], 1: [Lift(2, "A", 0)], 9: [Move(3, "A", int(Action.R), 9)]}
    for k in range(12):
        t_s = 0.5 * (k + 1)
        cmds = script.get(k, [])
        ev_alone = [e for c in cmds for e in alone.handle(c, t_s)] + alone.step(t_s, 0.5)
        ev_row = [e for c in cmds for e in row.handle(c, t_s)]
        if fleet.step(t_s, 0.5):
            ev_row += row.step_events(t_s) if fleet.flags[1] else []
        assert ev_alone == ev_row
        assert alone.state() == row.state()
    assert alone.pod_id == 0 and alone.heading == 1
    assert [o.cell for o in others] == [(0, 0), (0, 2)]  # the neighbours' rows did not move


def test_a_small_fleet_host_and_a_titan_alone_do_not_import_numba():
    """numba costs a process ~0.7 s and ~120 MB to import: a small fleet's host (fc_small_peak: 30
    Titans stepped as objects, a planner without kernels) and a robot program's Titan go without."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fctwin.robots.checker import CheckerFloor\n"
        "from fctwin.robots.titan import Titan\n"
        "t = Titan(unit_id='A', floor=CheckerFloor(), cell=(2, 1)); t.step(1.0, 1.0)\n"
        "from fctwin.sim.fleet_host import FleetHost\n"
        f"h = FleetHost({str(ROOT / 'scenes' / 'fc_small_peak.toml')!r}, world=False)\n"
        "h.initial_frame()\n"
        "assert h.arrays is None, 'a small fleet is stepped as objects'\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
