"""PIBT for the 4-connected grid model: reference equality, validator-checked safety, lifelong progress."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)

from fctwin.controller.planning import make_planner
from fctwin.controller.planning._flow_kernels import advance_paths, flow_field, guide_path
from fctwin.controller.planning._grid_kernels import grid_pibt_step_kernel
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.grid_pibt import GridPIBTPlanner
from fctwin.controller.planning.guidance import grid_highway_move_costs
from fctwin.controller.planning.instances import read_kiva_map
from fctwin.controller.planning.reference_grid import (
    reference_flow_field,
    reference_grid_step,
    reference_guide_path,
)
from fctwin.controller.planning.reference_window import reference_window_plans
from fctwin.controller.planning.validate import StepViolationError, check_grid_step

ROOT = Path(__file__).resolve().parents[1]
MAPF = ROOT.parent / "shared" / "benchmarks" / "mapf"
needs_data = pytest.mark.skipif(not MAPF.exists(), reason="shared MAPF benchmark data not present")
RIGHT, DOWN, LEFT, UP, WAIT = 0, 1, 2, 3, 4


def random_instance(rng: np.random.Generator, *, max_side: int = 10, max_agents: int = 30):
    """A random small grid (some cells loaded-impassable) and a fleet with mixed states."""
    H, W = int(rng.integers(4, max_side)), int(rng.integers(4, max_side + 2))
    if rng.random() < 0.5:
        pu = rng.random((H, W)) > 0.2
    else:  # shelf rows with one-cell aisles, so that highway guidance shapes the costs
        pu = np.ones((H, W), bool)
        pu[1::3, 1:-1] = rng.random((len(range(1, H, 3)), W - 2)) > 0.3
        pu[1::3, 2::3] = False
    pl = pu & (rng.random((H, W)) > 0.25)
    cells = np.argwhere(pu)
    n = int(min(len(cells) // 2, rng.integers(2, max_agents)))
    pos = cells[rng.choice(len(cells), n, replace=False)].astype(np.int32)
    fleet = FleetArrays(
        pos=pos,
        heading=np.zeros(n, np.int8),
        goal=cells[rng.integers(0, len(cells), n)].astype(np.int32),
        loaded=rng.random(n) < 0.3,
        active=rng.random(n) > 0.1,
    )
    fleet.goal[rng.random(n) < 0.2] = -1
    fleet.loaded &= pl[pos[:, 0], pos[:, 1]]  # loaded units start where they may stand
    return GridMaps(pu, pl), fleet, cells


def advance(grid: GridMaps, fleet: FleetArrays, act: np.ndarray) -> None:
    """Apply one step through the independent validator (raises on any violation)."""
    fleet.pos = check_grid_step(
        grid.passable_unloaded, grid.passable_loaded, fleet.pos, fleet.loaded, fleet.active, act
    )


def run_kernel(planner: GridPIBTPlanner, inputs: dict) -> np.ndarray:
    out = np.empty(inputs["pos_lin"].shape[0], np.int8)
    grid_pibt_step_kernel(
        *inputs.values(), planner.occ_now, planner.occ_next, planner.next_lin, planner.cand, planner.ncand,
        planner.cidx, planner.stack, out,
    )  # fmt: skip
    return out


def test_registry_builds_the_grid_planner_and_rejects_rotation_options():
    assert isinstance(make_planner("pibt_grid"), GridPIBTPlanner)
    with pytest.raises(ValueError):
        GridPIBTPlanner(heading_tables=True)
    with pytest.raises(ValueError):
        GridPIBTPlanner(swap=True)
    with pytest.raises(ValueError, match="window"):
        GridPIBTPlanner(window=-1)


def test_kernel_matches_reference_and_never_conflicts_on_random_instances():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        grid, fleet, cells = random_instance(rng)
        options = dict(
            guidance=("highways", "highways+grid", "none")[seed % 3],
            guidance_penalty=int(rng.integers(0, 4)),
            push_penalty=int(rng.integers(0, 3)),
            stall_div=(0, 1, 3, 10)[seed % 4],  # 1: waiting gets dearer every step, so stalls matter here
        )
        planner = GridPIBTPlanner(**options)
        planner.reset(grid, fleet.n, seed=seed)
        for _ in range(15):
            inputs = planner.prepare_step(grid, fleet)
            ours = run_kernel(planner, inputs)
            np.testing.assert_array_equal(ours, reference_grid_step(**inputs), err_msg=f"seed {seed}")
            assert (ours[~fleet.active] == WAIT).all()
            advance(grid, fleet, ours)
            reached = (fleet.pos == fleet.goal).all(axis=1)
            fleet.goal[reached] = cells[rng.integers(0, len(cells), int(reached.sum()))]
            fleet.active = rng.random(fleet.n) > 0.1  # units stop and resume at any step


def test_window_plans_and_the_step_they_steer_match_the_references():
    """Windowed plans equal the plain-Python twin, and the step ranking each plan's cell first too."""
    planned = 0
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        grid, fleet, cells = random_instance(rng)
        planner = GridPIBTPlanner(
            guidance=("highways", "highways+grid", "none")[seed % 3],
            guidance_penalty=int(rng.integers(0, 4)),
            push_penalty=int(rng.integers(0, 3)),
            window=int(rng.integers(1, 7)),
        )
        planner.reset(grid, fleet.n, seed=seed)
        for _ in range(12):
            inputs = planner.prepare_step(grid, fleet)
            keys = ("H", "W", "pos_lin", "goal_slot", "loaded", "active", "pass_u", "pass_l", "cell_index")
            ref_plan = reference_window_plans(
                **{k: inputs[k] for k in keys}, goal_lin=planner.goal_lin, tables=inputs["tables"],
                move_cost=inputs["move_cost"], order=inputs["order"], window=planner.window,
            )  # fmt: skip
            np.testing.assert_array_equal(inputs["plan_next"], ref_plan, err_msg=f"seed {seed}")
            planned += int((ref_plan >= 0).sum())
            ours = run_kernel(planner, inputs)
            np.testing.assert_array_equal(ours, reference_grid_step(**inputs), err_msg=f"seed {seed}")
            advance(grid, fleet, ours)
            reached = (fleet.pos == fleet.goal).all(axis=1)
            fleet.goal[reached] = cells[rng.integers(0, len(cells), int(reached.sum()))]
            fleet.active = rng.random(fleet.n) > 0.1
    assert planned > 1000  # the plans were exercised, not skipped


def arrival_steps(grid: GridMaps, fleet: FleetArrays, planner: GridPIBTPlanner, steps: int) -> list[int]:
    """Step at which each unit first stands on its goal (-1: never), the run checked by the validator."""
    planner.reset(grid, fleet.n, seed=0)
    out = np.empty(fleet.n, np.int8)
    arrived = [-1] * fleet.n
    for t in range(1, steps + 1):
        planner.step(grid, fleet, out)
        advance(grid, fleet, out)
        for i in range(fleet.n):
            if arrived[i] < 0 and (fleet.pos[i] == fleet.goal[i]).all():
                arrived[i] = t
    return arrived


def test_window_sends_the_lower_unit_round_before_a_head_on_meeting():
    """Two units swap ends of a corridor that has a longer parallel one: with a window the lower unit
    sees the other's path and takes the long way at once (7 and 11 steps, nobody waits); one step
    ahead it meets the other head-on first and is pushed back."""
    passable = np.ones((3, 8), bool)
    passable[1, 1:7] = False  # corridor row 2 and the long way round by row 0
    grid = GridMaps(passable, passable.copy())

    def fleet():
        ends = np.array([[2, 0], [2, 7]], np.int32)
        return FleetArrays(
            ends.copy(), np.zeros(2, np.int8), ends[::-1].copy(), np.zeros(2, bool), np.ones(2, bool)
        )

    windowed = arrival_steps(grid, fleet(), GridPIBTPlanner(guidance="none", window=12), 30)
    assert sorted(windowed) == [7, 11]
    one_step = arrival_steps(grid, fleet(), GridPIBTPlanner(guidance="none"), 30)
    assert min(one_step) == 7 and max(one_step) > 11


def test_grid_validator_catches_each_kind_of_violation():
    pu = np.ones((3, 3), bool)
    pl = pu.copy()
    pl[1, 2] = False
    pos = np.array([[1, 0], [1, 1]], np.int32)
    idle, moving = np.zeros(2, bool), np.ones(2, bool)

    def check(actions, loaded=idle, active=moving):
        return check_grid_step(pu, pl, pos, loaded, active, np.array(actions, np.int8))

    with pytest.raises(StepViolationError, match="vertex"):
        check([RIGHT, WAIT])
    with pytest.raises(StepViolationError, match="swapped"):
        check([RIGHT, LEFT])
    with pytest.raises(StepViolationError, match="impassable"):
        check([WAIT, RIGHT], loaded=np.array([False, True]))
    with pytest.raises(StepViolationError, match="inactive"):
        check([WAIT, UP], active=np.array([True, False]))
    with pytest.raises(StepViolationError, match="off the grid"):
        check([LEFT, WAIT])
    with pytest.raises(StepViolationError, match="invalid action"):
        check([5, WAIT])
    blocked = pu.copy()
    blocked[0, 1] = False
    with pytest.raises(StepViolationError, match="impassable"):
        check_grid_step(blocked, blocked, pos, idle, moving, np.array([WAIT, UP], np.int8))
    assert check([RIGHT, RIGHT]).tolist() == [[1, 1], [1, 2]]  # a train moving together is fine
    assert check([UP, DOWN]).tolist() == [[0, 0], [2, 1]]
    # a cycle of four (no two units exchange cells) is allowed in the 4-connected model
    square = np.array([[0, 0], [0, 1], [1, 1], [1, 0]], np.int32)
    new = check_grid_step(
        pu, pu, square, np.zeros(4, bool), np.ones(4, bool), np.array([0, 1, 2, 3], np.int8)
    )
    assert new.tolist() == [[0, 1], [1, 1], [1, 0], [0, 0]]


def lifelong(grid, fleet, goal_cells, steps, rng, planner):
    """Run lifelong random goals through the validator; return (goals reached, longest gap) per unit."""
    planner.reset(grid, fleet.n, seed=1)
    reached = np.zeros(fleet.n, np.int64)
    last = np.zeros(fleet.n, np.int64)
    max_gap = np.zeros(fleet.n, np.int64)
    out = np.empty(fleet.n, np.int8)
    for t in range(steps):
        planner.step(grid, fleet, out)
        advance(grid, fleet, out)
        at = (fleet.pos == fleet.goal).all(axis=1) & (fleet.goal[:, 0] >= 0)
        reached[at] += 1
        max_gap = np.maximum(max_gap, t - last)
        last[at] = t
        fleet.goal[at] = goal_cells[rng.integers(0, len(goal_cells), int(at.sum()))]
    return reached, np.maximum(max_gap, steps - last)


def kiva_fleet(n: int, rng: np.random.Generator):
    kiva = read_kiva_map(MAPF / "rhcr" / "kiva.map")
    cells = np.concatenate([kiva.homes, kiva.endpoints])
    pos = cells[rng.choice(len(cells), n, replace=False)].astype(np.int32)
    goal = kiva.endpoints[rng.integers(0, len(kiva.endpoints), n)].astype(np.int32)
    fleet = FleetArrays(pos, np.zeros(n, np.int8), goal, np.zeros(n, bool), np.ones(n, bool))
    return kiva, GridMaps(kiva.passable.copy(), kiva.passable.copy()), fleet


@needs_data
@pytest.mark.parametrize(
    "options",
    [
        dict(guidance="highways+grid", guidance_penalty=1),
        # windowed plans steering the step (the preset's 20 steps take ~10x the time here)
        dict(guidance="highways+grid", guidance_penalty=1, aisle_penalty=3, window=8),
    ],
)
def test_dense_kiva_lifelong_every_robot_keeps_reaching_goals(options):
    """300 robots on kiva.map (23% of the free cells, above RHCR's densest 220) for 3,000 steps."""
    rng = np.random.default_rng(7)
    kiva, grid, fleet = kiva_fleet(300, rng)
    planner = GridPIBTPlanner(**options)
    reached, max_gap = lifelong(grid, fleet, kiva.endpoints, 3000, rng, planner)
    assert reached.min() >= 10, f"robot {reached.argmin()} reached only {reached.min()} goals"
    assert max_gap.max() < 1000, f"robot {max_gap.argmax()} went {max_gap.max()} steps without a goal"


@needs_data
@pytest.mark.parametrize(
    "options",
    [
        dict(guidance="highways", guidance_penalty=6, push_penalty=1),
        dict(guidance="highways+grid", guidance_penalty=1),
        dict(guidance="highways", guidance_penalty=6, push_penalty=1, lanes=1),  # the kiva presets
        dict(guidance="highways+grid", guidance_penalty=1, aisle_penalty=3),
        dict(guidance="none", flow_weight=1),
        dict(guidance="highways+grid", guidance_penalty=1, aisle_penalty=3, window=20),
    ],
)
def test_kiva_map_short_lifelong_run_is_conflict_free_and_productive(options):
    rng = np.random.default_rng(0)
    kiva, grid, fleet = kiva_fleet(140, rng)
    reached, _ = lifelong(grid, fleet, kiva.endpoints, 300, rng, GridPIBTPlanner(**options))
    assert reached.sum() / 300 > 2.5  # tasks per step; RHCR's PBS makes 1.43 at 140 robots


def test_inactive_units_are_obstacles_and_units_without_goal_make_way():
    # a 3-wide open floor: unit 0 crosses, unit 1 is failed in its way, unit 2 idles on the route
    grid = GridMaps(np.ones((3, 9), bool), np.ones((3, 9), bool))
    fleet = FleetArrays(
        pos=np.array([[1, 0], [1, 4], [1, 6]], np.int32),
        heading=np.zeros(3, np.int8),
        goal=np.array([[1, 8], [-1, -1], [-1, -1]], np.int32),
        loaded=np.zeros(3, bool),
        active=np.array([True, False, True]),
    )
    planner = GridPIBTPlanner()
    planner.reset(grid, 3)
    out = np.empty(3, np.int8)
    for _ in range(20):
        planner.step(grid, fleet, out)
        assert out[1] == WAIT
        advance(grid, fleet, out)
        assert fleet.pos[1].tolist() == [1, 4]
    assert fleet.pos[0].tolist() == [1, 8]


def test_cell_closed_at_run_time_is_respected_from_the_next_step():
    grid = GridMaps(np.ones((3, 8), bool), np.ones((3, 8), bool))
    grid.passable_unloaded[1, 1:7] = False  # a 1-wide ring around an island
    grid.passable_loaded[:] = grid.passable_unloaded
    fleet = FleetArrays(
        pos=np.array([[0, 0]], np.int32), heading=np.zeros(1, np.int8), goal=np.array([[0, 7]], np.int32),
        loaded=np.zeros(1, bool), active=np.ones(1, bool),
    )  # fmt: skip
    planner = GridPIBTPlanner()
    planner.reset(grid, 1)
    out = np.empty(1, np.int8)
    planner.step(grid, fleet, out)
    assert out[0] == RIGHT
    advance(grid, fleet, out)
    for m in (grid.passable_unloaded, grid.passable_loaded):
        m[0, 2] = False  # the aisle ahead is blocked now
    visited = set()
    for _ in range(20):
        planner.step(grid, fleet, out)
        advance(grid, fleet, out)
        visited.add(tuple(fleet.pos[0].tolist()))
    assert (0, 2) not in visited
    assert fleet.pos[0].tolist() == [0, 7]  # went round by the bottom aisle


def test_units_swap_places_in_open_floor_without_an_edge_conflict():
    # head-on in a 2-wide corridor: one steps aside, both arrive; a 1-step plan must never swap
    grid = GridMaps(np.ones((2, 6), bool), np.ones((2, 6), bool))
    fleet = FleetArrays(
        pos=np.array([[0, 0], [0, 5]], np.int32), heading=np.zeros(2, np.int8),
        goal=np.array([[0, 5], [0, 0]], np.int32), loaded=np.zeros(2, bool), active=np.ones(2, bool),
    )  # fmt: skip
    planner = GridPIBTPlanner(guidance="none")
    planner.reset(grid, 2)
    out = np.empty(2, np.int8)
    for _ in range(12):
        planner.step(grid, fleet, out)
        advance(grid, fleet, out)
    assert fleet.pos.tolist() == [[0, 5], [0, 0]]


SMALL_RUN = """
import numpy as np, sys
sys.path.insert(0, {root!r})
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.grid_pibt import GridPIBTPlanner
from fctwin.controller.planning.validate import check_grid_step
rng = np.random.default_rng(5)
pu = rng.random((8, 9)) > 0.2
cells = np.argwhere(pu)
n = 12
start = cells[rng.choice(len(cells), n, replace=False)].astype(np.int32)
goal = cells[rng.integers(0, len(cells), n)].astype(np.int32)
grid = GridMaps(pu, pu.copy())
log = []
for options in (
    dict(),
    dict(guidance="highways+grid", guidance_penalty=1, push_penalty=1),
    dict(guidance="highways", lanes=1, flow_weight=2),
    dict(guidance="highways", lanes=1, window=5),
):
    fleet = FleetArrays(start.copy(), np.zeros(n, np.int8), goal.copy(), np.zeros(n, bool), np.ones(n, bool))
    p = GridPIBTPlanner(**options); p.reset(grid, n, seed=2)
    out = np.empty(n, np.int8)
    for t in range(30):
        p.step(grid, fleet, out)
        fleet.pos = check_grid_step(pu, pu, fleet.pos, fleet.loaded, fleet.active, out)
        log.append(out.tolist())
print(log)
"""


def test_grid_kernel_runs_as_plain_python_with_jit_disabled():
    jit, nojit = jit_and_nojit_outputs(SMALL_RUN.format(root=str(ROOT)))
    assert nojit == jit
    assert any(a != WAIT for step in jit for a in step)


def test_flow_fields_and_guide_paths_match_the_reference():
    """Contraflow-priced fields and their steepest descents equal the plain-Python twins."""
    rng = np.random.default_rng(11)
    for _ in range(40):
        H, W = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        passable = rng.random(H * W) > 0.25
        cells = np.flatnonzero(passable)
        if cells.size < 2:
            continue
        base = rng.integers(1, 6, (H * W, 4)).astype(np.uint8)
        flow = rng.integers(0, 4, (H * W, 4)).astype(np.int32)
        weight = int(rng.integers(0, 4))
        goal = int(rng.choice(cells))
        field = np.empty(H * W, np.uint16)
        flow_field(H, W, passable, goal, base, flow, weight, field)
        np.testing.assert_array_equal(field, reference_flow_field(H, W, passable, goal, base, flow, weight))
        assert field[goal] == 0 and (field[~passable] == 65535).all()
        for start in rng.choice(cells, 3).tolist():
            out_c, out_d = np.zeros(H * W, np.int32), np.zeros(H * W, np.int32)
            m = guide_path(H, W, passable, field, start, base, flow, weight, out_c, out_d)
            ref = reference_guide_path(H, W, passable, field, start, base, flow, weight)
            if ref is None:
                assert m == -1
                continue
            assert list(zip(out_c[:m].tolist(), out_d[:m].tolist(), strict=True)) == ref
            # the moves lead from start to the goal and cost exactly the field's value
            cost, u = 0, start
            for c, d in ref:
                assert c == u
                v = u + (1, W, -1, -W)[d]
                cost += int(base[u, d]) + weight * int(flow[v, (d + 2) % 4])
                u = v
            assert u == goal and cost == field[start]


def test_advance_paths_releases_passed_moves_and_whole_paths_on_a_new_goal():
    # one unit on the path 0 -> 1 -> 2 -> 3 (headings east) of a 1 x 4 strip
    cells = np.array([[0, 1, 2, 0]], np.int32)
    dirs = np.zeros((1, 4), np.int32)
    plen, ptr = np.array([3], np.int32), np.array([0], np.int32)
    flow = np.zeros((4, 4), np.int32)
    flow[[0, 1, 2], 0] = 1
    goal, known = np.array([3], np.int32), np.array([3], np.int32)
    assert advance_paths(np.array([2], np.int32), goal, known, cells, dirs, plen, ptr, flow, 8) == 0
    assert ptr[0] == 2 and flow[:, 0].tolist() == [0, 0, 1, 0]  # moves from cells 0 and 1 passed
    assert advance_paths(
        np.array([2], np.int32), np.array([0], np.int32), known, cells, dirs, plen, ptr, flow, 8
    )
    assert ptr[0] == 3 and flow.sum() == 0  # new goal: the rest released


def test_grid_options_validate_and_aisle_penalty_prices_the_gap_columns_apart():
    with pytest.raises(ValueError, match="aisle_penalty"):
        GridPIBTPlanner(aisle_penalty=10)
    with pytest.raises(ValueError, match="flow_weight"):
        GridPIBTPlanner(flow_weight=-1)
    if not (MAPF / "rhcr" / "kiva.map").exists():
        return
    passable = read_kiva_map(MAPF / "rhcr" / "kiva.map").passable
    same = grid_highway_move_costs(passable, penalty=1)
    apart = grid_highway_move_costs(passable, penalty=1, aisle_penalty=3)
    gap = (2, 17)  # a gap column cell between two shelf blocks: aisle south, street north
    assert same[gap].tolist() == [1, 2, 1, 2]  # the two rules disagree: both ways 1 + penalty
    assert apart[gap].tolist() == [1, 2, 1, 4]  # north (against the aisle rule) now costs 1 + 3
    other = np.ones(passable.shape, bool)
    other[:, [17, 28]] = False  # everywhere else the two are the same
    assert (same[other] == apart[other]).all()


def test_lanes_keep_right_among_equal_costs():
    """An eastbound unit on a two-lane road takes the southern lane when both are equally short."""
    free = np.ones((2, 6), bool)
    grid = GridMaps(free, free.copy())
    fleet = FleetArrays(
        np.array([[0, 0]], np.int32), np.zeros(1, np.int8), np.array([[1, 5]], np.int32),
        np.zeros(1, bool), np.ones(1, bool),
    )  # fmt: skip
    rows = {}
    for lanes in (0, 1):
        p = GridPIBTPlanner(guidance="none", lanes=lanes)
        p.reset(grid, 1, seed=3)
        pos, out, seen = fleet.pos.copy(), np.empty(1, np.int8), []
        f = FleetArrays(pos, fleet.heading, fleet.goal, fleet.loaded, fleet.active)
        for _ in range(6):
            p.step(grid, f, out)
            f.pos = check_grid_step(free, free, f.pos, f.loaded, f.active, out)
            seen.append(f.pos[0].tolist())
        rows[lanes] = seen
    assert rows[1][0] == [1, 0]  # down first, then east along the southern lane
    assert rows[1][-1] == [1, 5]


def load_harness():
    spec = importlib.util.spec_from_file_location("mapf_harness", ROOT / "benchmarks" / "mapf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_data
def test_harness_runs_kiva_in_the_grid_model_from_the_homes_and_replays(tmp_path):
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "mapf.py"), str(MAPF / "rhcr" / "kiva.map")]
    done = subprocess.run(
        [*cmd, "--agents", "60", "--steps", "150", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "grid model without rotation" in done.stdout  # the reference line names RHCR's model
    result = json.loads(out.read_text())
    assert result["actionModel"] == "MAPF" and result["errors"] == []
    assert result["meta"]["planner"] == "pibt_grid"
    assert all(len(s) == 2 for s in result["start"])  # [row, col], no heading
    kiva = read_kiva_map(MAPF / "rhcr" / "kiva.map")
    homes = {tuple(h) for h in kiva.homes.tolist()}
    assert all(tuple(s) in homes for s in result["start"])  # RHCR starts robots on home cells
    assert set(",".join(result["actualPaths"]).split(",")) <= set("RDLUW")
    assert result["numTaskFinished"] > 0
    harness = load_harness()
    assert harness.replay(out) == (150, result["numTaskFinished"])
    # a move changed into one that collides or leaves the floor is caught by the replay
    paths = [p.split(",") for p in result["actualPaths"]]
    t = next(k for k, a in enumerate(paths[0]) if a != "W")
    paths[0][t] = {"R": "L", "L": "R", "U": "D", "D": "U"}[paths[0][t]]
    result["actualPaths"][0] = ",".join(paths[0])
    out.write_text(json.dumps(result))
    with pytest.raises((StepViolationError, ValueError)):
        harness.replay(out)


@needs_data
def test_harness_starts_extra_robots_on_endpoints_when_homes_run_out():
    harness = load_harness()
    kiva = read_kiva_map(MAPF / "rhcr" / "kiva.map")
    _, _, _, starts, _, _, _ = harness.load(str(MAPF / "rhcr" / "kiva.map"), 220, 0, None, "grid")
    cells = [tuple(s) for s in starts.tolist()]
    assert len(set(cells)) == 220
    homes = {tuple(h) for h in kiva.homes.tolist()}
    ends = {tuple(e) for e in kiva.endpoints.tolist()}
    assert sum(c in homes for c in cells) == len(homes) == 192
    assert all(c in ends for c in cells if c not in homes)
