"""PIBT over multi-action operations (``PIBTPlanner(operation_steps=K)``): reference, safety, progress."""

from __future__ import annotations

import numpy as np
import pytest
from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)
from test_planner_pibt import MAPF, ROOT, advance, lifelong, needs_data, random_instance

from fctwin.controller.planning._epibt_kernels import epibt_step_kernel, make_operations, operation_lateness
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.instances import read_lorr_problem
from fctwin.controller.planning.pibt import _OPERATION_INPUTS, PIBTPlanner
from fctwin.controller.planning.reference_epibt import reference_epibt_step

F, R, C, W = 0, 1, 2, 3


def run_kernel(planner: PIBTPlanner, inputs: dict, prev_op: np.ndarray) -> np.ndarray:
    out = np.empty(inputs["pos_lin"].shape[0], np.int8)
    cidx, nblk, bpos, mark, trail, failed, fail_time, need_time, stack = planner.op_scratch
    epibt_step_kernel(
        *[inputs[k] for k in _OPERATION_INPUTS], planner.ops, planner.op_lateness, prev_op,
        planner.operation_keep, planner.operation_budget, planner.operation_depth,
        planner.operation_step_budget, planner.op_occ,
        planner.op_path, planner.op_planned, planner.op_sel, planner.op_ord, planner.op_n, cidx,
        planner.op_blockers, nblk, bpos, mark, trail, failed, fail_time, need_time, planner.op_blocker_time,
        stack, out, planner.last_work,
    )  # fmt: skip
    return out


def test_operations_are_distinct_and_start_with_waiting():
    for k_steps, expected in ((1, 4), (2, 11), (3, 31)):
        ops = make_operations(k_steps)
        assert ops.shape == (expected, k_steps)
        assert (ops[0] == W).all()
    ops = make_operations(3)
    # a turn is kept in its earliest form: R W W, never W R W or W W R
    rows = {tuple(int(a) for a in op) for op in ops}
    assert (R, W, W) in rows and (W, R, W) not in rows and (W, W, R) not in rows
    assert (R, R, F) in rows and (C, C, F) not in rows  # turning round either way is one operation
    assert operation_lateness(np.array([[W, W, W], [F, W, F], [F, F, W]], np.int8)).tolist() == [6, 2, 1]


@pytest.mark.parametrize("k_steps", [2, 3])
def test_kernel_matches_reference_and_never_conflicts_on_random_instances(k_steps):
    cut_roots = 0  # units planned after a step budget ran out (that path must be exercised)
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        grid, fleet, cells = random_instance(rng)
        options = dict(guidance_penalty=int(rng.integers(0, 5)), heading_tables=seed % 3 == 0)
        # small budgets and depths make units give up, so those paths are compared too
        options.update(operation_steps=k_steps, operation_budget=(4, 16, 256)[seed % 3])
        options["operation_depth"] = (1, 3, 64)[seed % 3]
        options["operation_keep"] = seed % 3  # 0: no hysteresis
        # counted per-step bound: none, tight (most roots cut) or loose
        options["operation_step_budget"] = (0, 0, 30, 200)[seed % 4]
        planner = PIBTPlanner(**options)
        planner.reset(grid, fleet.n, seed=seed)
        for _ in range(15):
            inputs = planner.prepare_step(grid, fleet)
            prev_op = planner.previous_operations(inputs["heading"])
            ours = run_kernel(planner, inputs, prev_op)
            ref_work = [0, 0]
            ref = reference_epibt_step(
                **{k: inputs[k] for k in _OPERATION_INPUTS}, ops=planner.ops, lateness=planner.op_lateness,
                prev_op=prev_op, keep=planner.operation_keep, budget=planner.operation_budget,
                max_depth=planner.operation_depth, step_budget=planner.operation_step_budget, work=ref_work,
            )  # fmt: skip
            planner.remember_operations(inputs["heading"], ours)
            np.testing.assert_array_equal(ours, ref, err_msg=f"seed {seed}")
            assert planner.last_work.tolist() == ref_work, f"seed {seed}"
            cut_roots += int(ref_work[1])
            assert (ours[~fleet.active] == W).all()
            assert (planner.op_occ == -1).all()  # scratch left clean
            advance(grid, fleet, ours)
            reached = (fleet.pos == fleet.goal).all(axis=1)
            fleet.goal[reached] = cells[rng.integers(0, len(cells), int(reached.sum()))]
            fleet.active = rng.random(fleet.n) > 0.1
    assert cut_roots > 0  # the counted step bound ran out on some steps, and the kernel still matched


def test_a_unit_facing_away_turns_while_the_queue_behind_it_keeps_its_cells():
    # one corridor row; unit 0 at the west end faces west (a wall) and must go east; unit 1 behind
    # it (east) faces east and must also go east. Plain PIBT's conversion makes unit 0 reserve
    # unit 1's cell; with operations unit 0 turns (R R) while unit 1 drives on.
    pu = np.zeros((3, 8), bool)
    pu[1, :] = True
    grid = GridMaps(pu, pu.copy())
    fleet = FleetArrays(
        np.array([[1, 0], [1, 1]], np.int32), np.array([2, 0], np.int8), np.array([[1, 7], [1, 6]], np.int32),
        np.zeros(2, bool), np.ones(2, bool),
    )  # fmt: skip
    planner = PIBTPlanner(operation_steps=3, guidance="none")
    planner.reset(grid, 2, seed=0)
    out = np.empty(2, np.int8)
    planner.step(grid, fleet, out)
    assert out[1] == F and out[0] in (R, C)


def test_inactive_units_are_obstacles_and_units_without_goal_make_way():
    pu = np.zeros((3, 6), bool)
    pu[1, :] = True
    pu[0, 2] = True  # a side pocket
    grid = GridMaps(pu, pu.copy())
    # unit 0 must pass east through unit 1 (no goal, in the corridor); unit 2 stopped at the east end
    fleet = FleetArrays(
        np.array([[1, 0], [1, 2], [1, 5]], np.int32), np.array([0, 0, 2], np.int8),
        np.array([[1, 4], [-1, -1], [-1, -1]], np.int32), np.zeros(3, bool), np.array([True, True, False]),
    )  # fmt: skip
    planner = PIBTPlanner(operation_steps=3, guidance="none")
    planner.reset(grid, 3, seed=0)
    out = np.empty(3, np.int8)
    for _ in range(12):
        planner.step(grid, fleet, out)
        assert out[2] == W
        advance(grid, fleet, out)
        if (fleet.pos[0] == fleet.goal[0]).all():
            break
    assert (fleet.pos[0] == [1, 4]).all(), "unit 0 never got past the idle unit"
    assert (fleet.pos[2] == [1, 5]).all()


@needs_data
@pytest.mark.parametrize("k_steps", [3])
def test_dense_lifelong_every_unit_keeps_reaching_goals(k_steps):
    """400 units on LoRR warehouse_small (31% of free cells) for 3,000 steps: no unit starves."""
    prob = read_lorr_problem(MAPF / "lorr" / "2023_example_warehouse_small" / "EI23-warehouse_small_400.json")
    rng = np.random.default_rng(7)
    cells = np.argwhere(prob.passable)
    n = prob.team_size
    fleet = FleetArrays(
        prob.starts.copy(), np.zeros(n, np.int8), cells[rng.integers(0, len(cells), n)].astype(np.int32),
        np.zeros(n, bool), np.ones(n, bool),
    )  # fmt: skip
    grid = GridMaps(prob.passable.copy(), prob.passable.copy())
    reached, max_gap = lifelong(grid, fleet, cells, 3000, rng, planner=PIBTPlanner(operation_steps=k_steps))
    assert reached.min() >= 5, f"unit {reached.argmin()} reached only {reached.min()} goals"
    assert max_gap.max() < 1500, f"unit {max_gap.argmax()} went {max_gap.max()} steps without a goal"


SMALL_RUN = """
import numpy as np, sys
sys.path.insert(0, {root!r})
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.pibt import PIBTPlanner
from fctwin.controller.planning.validate import check_step
rng = np.random.default_rng(5)
pu = rng.random((8, 9)) > 0.2
cells = np.argwhere(pu)
n = 14
start = cells[rng.choice(len(cells), n, replace=False)].astype(np.int32)
goal = cells[rng.integers(0, len(cells), n)].astype(np.int32)
grid = GridMaps(pu, pu.copy())
log = []
for heading_tables in (False, True):
    fleet = FleetArrays(start.copy(), np.zeros(n, np.int8), goal.copy(), np.zeros(n, bool), np.ones(n, bool))
    p = PIBTPlanner(heading_tables=heading_tables, operation_steps=3, operation_budget=20)
    p.reset(grid, n, seed=2)
    out = np.empty(n, np.int8)
    for t in range(30):
        p.step(grid, fleet, out)
        fleet.pos, fleet.heading = check_step(pu, pu, fleet.pos, fleet.heading, fleet.loaded,
                                              fleet.active, out)
        log.append(out.tolist())
print(log)
"""


def test_kernel_runs_as_plain_python_with_jit_disabled():
    jit, nojit = jit_and_nojit_outputs(SMALL_RUN.format(root=str(ROOT)))
    assert nojit == jit
