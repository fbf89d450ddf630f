"""Lazy distance tables: a bounded slot pool recycled as goals change, every table still exact."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.pibt import PIBTPlanner
from fctwin.controller.planning.validate import check_step

STEP = ((0, 1), (1, 0), (0, -1), (-1, 0))  # headings E, S, W, N


def exact_distances(passable: np.ndarray, move_cost: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """Dijkstra to ``goal`` over ``passable`` (the goal itself always counts), ``int[H, W]``, 65535 none.

    move_cost ``[H, W, 4]``: cost of moving from a cell in heading d, as in the guidance module.
    """
    H, W = passable.shape
    dist = np.full((H, W), 65535, np.int64)
    dist[goal] = 0
    heap = [(0, goal)]
    while heap:
        d, (r, c) = heapq.heappop(heap)
        if d > dist[r, c]:
            continue
        for h, (dr, dc) in enumerate(STEP):  # a unit at (r - dr, c - dc) moving in heading h enters (r, c)
            pr, pc = r - dr, c - dc
            if 0 <= pr < H and 0 <= pc < W and passable[pr, pc]:
                nd = d + int(move_cost[pr, pc, h])
                if nd < dist[pr, pc]:
                    dist[pr, pc] = nd
                    heapq.heappush(heap, (nd, (pr, pc)))
    return dist


@pytest.mark.parametrize("guidance", ["none", "highways"])
def test_recycled_slots_hold_the_table_of_each_units_current_goal(guidance):
    rng = np.random.default_rng(3)
    H, W = 16, 26
    pu = np.ones((H, W), bool)
    pu[2::3, 1:-1] = False  # shelf rows: one-cell aisles, so guidance shapes the costs
    pu[2::3, 4::4] = True
    pl = pu.copy()
    pl[0, 3:6] = False  # loaded units route differently: a second load class
    cells = np.argwhere(pu)
    n = 80  # more than 64 new goals in one step take the bulk path (slots_for)
    fleet = FleetArrays(
        pos=cells[rng.choice(len(cells), n, replace=False)].astype(np.int32),
        heading=np.zeros(n, np.int8),
        goal=cells[rng.integers(0, len(cells), n)].astype(np.int32),
        loaded=np.zeros(n, bool),
        active=np.ones(n, bool),
    )
    grid = GridMaps(pu, pl)
    pool = n + 4  # a few spare slots: goals change faster than that, so slots are recycled
    # complete tables: each one is compared whole with Dijkstra (bounded ones: the test further down)
    planner = PIBTPlanner(max_tables=pool, guidance=guidance, guidance_penalty=3, bounded_tables=False)
    planner.reset(grid, n, seed=0)
    tables = planner.tables
    move_cost = tables.move_cost  # compact [n_cells, 4]; back to [H, W, 4] for the reference
    full_cost = np.ones((H * W, 4), np.int64)
    full_cost[tables.base_cells] = move_cost
    full_cost = full_cost.reshape(H, W, 4)
    out = np.empty(n, np.int8)
    exact: dict[int, np.ndarray] = {}  # key -> reference table (the maps never change here)
    for t in range(120):
        if t == 60:  # many goals at once: the bulk path (slots_for) instead of the per-step kernel
            fleet.goal[:] = cells[rng.integers(0, len(cells), n)]
        if t % 10 == 5:
            fleet.loaded = rng.random(n) < 0.3
            fleet.loaded &= pl[fleet.pos[:, 0], fleet.pos[:, 1]]
        planner.step(grid, fleet, out)
        live = np.flatnonzero(tables.slot_key >= 0)
        assert live.size <= pool
        # the key <-> slot maps stay inverse to each other
        assert (tables.key_slot[tables.slot_key[live]] == live).all()
        assert np.count_nonzero(tables.key_slot >= 0) == live.size
        for i in np.flatnonzero(fleet.goal[:, 0] >= 0):
            s = planner.goal_slot[i]
            g = (int(fleet.goal[i, 0]), int(fleet.goal[i, 1]))
            key = int(fleet.loaded[i]) * H * W + g[0] * W + g[1]
            assert tables.slot_key[s] == key, f"step {t}: unit {i} reads another goal's table"
            if key not in exact:
                ref = exact_distances(pl if fleet.loaded[i] else pu, full_cost, g)
                exact[key] = ref.ravel()[tables.base_cells]
            np.testing.assert_array_equal(tables.tables[s], exact[key], err_msg=f"step {t}")
        fleet.pos, fleet.heading = check_step(
            pu, pl, fleet.pos, fleet.heading, fleet.loaded, fleet.active, out
        )
        at = (fleet.pos == fleet.goal).all(axis=1)
        fleet.goal[at] = cells[rng.integers(0, len(cells), int(at.sum()))]
        fleet.goal[rng.random(n) < 0.15] = cells[rng.integers(0, len(cells))]  # reassigned mid-route
    assert tables.bfs_count > 3 * pool  # the pool really was recycled, several times over


def exact_state_distances(passable: np.ndarray, move_cost: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """Dijkstra over (cell, heading) states to ``goal`` (any heading): ``int[H, W, 4]``, 65535 none.

    F moves one cell at ``move_cost[r, c, h]``, R/C turn at cost 1 (the LoRR action model).
    """
    H, W = passable.shape
    dist = np.full((H, W, 4), 65535, np.int64)
    heap = []
    for h in range(4):
        dist[goal][h] = 0
        heap.append((0, goal[0], goal[1], h))
    while heap:
        d, r, c, h = heapq.heappop(heap)
        if d > dist[r, c, h]:
            continue
        preds = [(r, c, (h + 1) % 4, 1), (r, c, (h + 3) % 4, 1)]  # turned into heading h
        pr, pc = r - STEP[h][0], c - STEP[h][1]  # moved forward into (r, c) facing h
        if 0 <= pr < H and 0 <= pc < W and passable[pr, pc]:
            preds.append((pr, pc, h, int(move_cost[pr, pc, h])))
        for qr, qc, qh, w in preds:
            if d + w < dist[qr, qc, qh]:
                dist[qr, qc, qh] = d + w
                heapq.heappush(heap, (d + w, qr, qc, qh))
    return dist


@pytest.mark.parametrize("guidance", ["none", "highways+grid"])
def test_rotation_aware_tables_hold_exact_steps_per_heading(guidance):
    rng = np.random.default_rng(7)
    H, W = 11, 17
    pu = rng.random((H, W)) > 0.2
    pu[::4, :] = True  # open rows: streets for the grid guidance
    pl = pu & (rng.random((H, W)) > 0.2)
    cells = np.argwhere(pu)
    n = 70  # > 64 new goals: the bulk path first, then the per-step kernel as goals change
    fleet = FleetArrays(
        pos=cells[rng.choice(len(cells), n, replace=False)].astype(np.int32),
        heading=rng.integers(0, 4, n).astype(np.int8),
        goal=cells[rng.integers(0, len(cells), n)].astype(np.int32),
        loaded=np.zeros(n, bool),
        active=np.ones(n, bool),
    )
    fleet.loaded = (rng.random(n) < 0.3) & pl[fleet.pos[:, 0], fleet.pos[:, 1]]
    grid = GridMaps(pu, pl)
    planner = PIBTPlanner(guidance=guidance, guidance_penalty=2, heading_tables=True)
    planner.reset(grid, n, seed=0)
    tables = planner.tables
    full_cost = np.ones((H * W, 4), np.int64)
    full_cost[tables.base_cells] = tables.move_cost
    full_cost = full_cost.reshape(H, W, 4)
    out = np.empty(n, np.int8)
    for t in range(12):
        planner.step(grid, fleet, out)
        for i in np.flatnonzero(fleet.goal[:, 0] >= 0):
            g = (int(fleet.goal[i, 0]), int(fleet.goal[i, 1]))
            ref = exact_state_distances(pl if fleet.loaded[i] else pu, full_cost, g)
            ref = ref.reshape(H * W, 4)[tables.base_cells]
            got = tables.tables[planner.goal_slot[i]].reshape(-1, 5)
            np.testing.assert_array_equal(got[:, :4], ref, err_msg=f"step {t}, unit {i}")
            np.testing.assert_array_equal(got[:, 4], ref.min(axis=1))
            r, c = fleet.pos[i]
            assert (
                tables.distance(planner.goal_slot[i], r * W + c)
                == ref.min(axis=1)[tables.cell_index[r * W + c]]
            )
        fleet.pos, fleet.heading = check_step(
            pu, pl, fleet.pos, fleet.heading, fleet.loaded, fleet.active, out
        )
        at = (fleet.pos == fleet.goal).all(axis=1)
        fleet.goal[at] = cells[rng.integers(0, len(cells), int(at.sum()))]
        fleet.goal[rng.random(n) < 0.2] = cells[rng.integers(0, len(cells))]


def _storage_floor(rng, H=18, W=30):
    """Aisles around 2 x 4 storage blocks; every storage cell starts with a pod (closed when loaded)."""
    storage = np.zeros((H, W), bool)
    for r0 in range(1, H - 2, 3):
        for c0 in range(1, W - 4, 5):
            storage[r0 : r0 + 2, c0 : c0 + 4] = True
    walls = rng.random((H, W)) < 0.03  # a few closed cells, so some routes are unique
    pu = ~walls
    pods = storage & (rng.random((H, W)) < 0.8)
    return pu, storage, pods


@pytest.mark.parametrize("guidance", ["none", "highways"])
def test_repaired_tables_equal_fresh_searches_as_pods_move(guidance):
    """Stale loaded tables are repaired from the log of flipped cells; each one must equal a fresh
    search on the current maps (and Dijkstra), entry for entry, whatever moved since it was built."""
    from fctwin.controller.planning.distance import DistanceTables
    from fctwin.controller.planning.guidance import highway_move_costs

    rng = np.random.default_rng(5)
    pu, storage, pods = _storage_floor(rng)
    H, W = pu.shape
    pl = pu & ~pods
    cost = highway_move_costs(pl, penalty=3) if guidance == "highways" else None
    fast, slow = (
        DistanceTables(pu, pl, max_tables=64, move_cost=cost, refresh_steps=3, repair=repair)
        for repair in (True, False)
    )
    full_cost = np.ones((H * W, 4), np.int64)
    full_cost[fast.base_cells] = fast.move_cost
    full_cost = full_cost.reshape(H, W, 4)
    goals = np.argwhere(pu)[rng.choice(int(pu.sum()), 12, replace=False)]
    goal_lin = (goals[:, 0] * W + goals[:, 1]).astype(np.int32)
    loaded = np.ones(goal_lin.size, bool)
    loaded[:3] = False  # unloaded tables never go stale: they must stay untouched
    store = np.argwhere(storage)
    for step in range(60):
        # pods lifted and set down (some cells flip twice between rebuilds: no net change), and
        # now and then a goal cell itself
        for r, c in store[rng.choice(len(store), int(rng.integers(0, 6)), replace=False)]:
            pods[r, c] = not pods[r, c]
        if step % 17 == 0:
            r, c = goals[3 + step % 9]
            pods[r, c] = storage[r, c] and not pods[r, c]
        pl = pu & ~pods
        for t in (fast, slow):
            t.sync_maps(pu, pl)
            slots = np.full(goal_lin.size, -1, np.int32)
            stale = (t.slot_version < t.map_version[1]) & (step - t.slot_built >= t.refresh_steps)
            have = t.key_slot[np.where(loaded, H * W, 0) + goal_lin]
            keep = (have >= 0) & ~(loaded & (have >= 0) & stale[np.maximum(have, 0)])
            slots[keep] = have[keep]
            t.fill_slots(goal_lin, loaded, slots, step)
            t.last_slots = slots
        for k in range(goal_lin.size):
            np.testing.assert_array_equal(
                fast.tables[fast.last_slots[k]], slow.tables[slow.last_slots[k]], err_msg=f"{step=}, {k=}"
            )
        if step % 10 == 9:  # and both equal Dijkstra on the maps they were built on (here: now, if fresh)
            for k in np.flatnonzero(loaded):
                if fast.slot_built[fast.last_slots[k]] == step:
                    g = (int(goals[k, 0]), int(goals[k, 1]))
                    ref = exact_distances(pl, full_cost, g).ravel()[fast.base_cells]
                    np.testing.assert_array_equal(fast.tables[fast.last_slots[k]], ref)
    assert fast.repair_counts[0] > 50  # the repair path really ran
    assert slow.repair_counts[0] == 0
    assert fast.bfs_count == slow.bfs_count  # the same tables rebuilt at the same steps


@pytest.mark.parametrize("margin", [0, 3])
def test_bounded_tables_give_the_actions_of_complete_ones(margin, monkeypatch):
    """Unloaded tables searched only as far as their units read them (plus a margin), extended as
    units move: every step's actions equal those of complete tables, every entry a unit reads equals
    the complete table's, and a bounded table holds the exact distance wherever it is below its radius."""
    from fctwin.controller.planning import pibt as pibt_module
    from fctwin.controller.planning.distance import COMPLETE

    monkeypatch.setattr(pibt_module, "BOUNDED_MARGIN", margin)  # small: many extensions on a small floor
    rng = np.random.default_rng(11)
    pu, storage, pods = _storage_floor(rng, H=24, W=46)
    H, W = pu.shape
    cells = np.argwhere(pu)
    n = 40
    fleet = FleetArrays(
        pos=cells[rng.choice(len(cells), n, replace=False)].astype(np.int32),
        heading=rng.integers(0, 4, n).astype(np.int8),
        goal=cells[rng.integers(0, len(cells), n)].astype(np.int32),
        loaded=np.zeros(n, bool),
        active=np.ones(n, bool),
    )
    planners = [PIBTPlanner(max_tables=3 * n, bounded_tables=b) for b in (True, False)]
    for p in planners:
        p.reset(GridMaps(pu, pu & ~pods), n, seed=4)
    bounded, complete = (p.tables for p in planners)
    assert bounded.bounded_margin == margin and complete.bounded_margin == -1
    full_cost = np.ones((H * W, 4), np.int64)
    full_cost[bounded.base_cells] = bounded.move_cost
    full_cost = full_cost.reshape(H, W, 4)
    outs = [np.empty(n, np.int8), np.empty(n, np.int8)]
    saw_bounded = 0
    refs: dict[tuple[int, int], np.ndarray] = {}
    for t in range(150):
        if t % 7 == 3:  # pods lifted and set down: the loaded map changes (loaded tables go stale)
            for r, c in np.argwhere(storage)[rng.choice(int(storage.sum()), 4, replace=False)]:
                pods[r, c] = not pods[r, c]
        grid = GridMaps(pu, pu & ~pods)
        if t % 10 == 5:  # some units pick up a load where a loaded unit may stand
            fleet.loaded = (rng.random(n) < 0.3) & grid.passable_loaded[fleet.pos[:, 0], fleet.pos[:, 1]]
        for p, out in zip(planners, outs, strict=True):
            p.step(grid, fleet, out)
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"step {t}")
        for i in np.flatnonzero(fleet.goal[:, 0] >= 0):
            s, sc = planners[0].goal_slot[i], planners[1].goal_slot[i]
            r, c = fleet.pos[i]
            for dr, dc in ((0, 0), *STEP):  # the cells the step reads
                if 0 <= r + dr < H and 0 <= c + dc < W:
                    lin = (r + dr) * W + c + dc
                    assert bounded.distance(s, lin) == complete.distance(sc, lin), f"step {t}, unit {i}"
            radius = bounded.slot_radius[s]
            if radius < COMPLETE and not fleet.loaded[i]:
                saw_bounded += 1
                g = (int(fleet.goal[i, 0]), int(fleet.goal[i, 1]))
                if g not in refs:  # the unloaded map never changes here
                    refs[g] = exact_distances(pu, full_cost, g).ravel()[bounded.base_cells]
                ref = refs[g]
                got = bounded.tables[s].astype(np.int64)
                near = ref <= radius
                np.testing.assert_array_equal(got[near], ref[near])
                assert (got[~near] == 65535).all()
        fleet.pos, fleet.heading = check_step(
            pu, grid.passable_loaded, fleet.pos, fleet.heading, fleet.loaded, fleet.active, outs[0]
        )
        at = (fleet.pos == fleet.goal).all(axis=1)
        fleet.goal[at] = cells[rng.integers(0, len(cells), int(at.sum()))]
        fleet.goal[rng.random(n) < 0.1] = cells[rng.integers(0, len(cells))]
    assert saw_bounded > 100  # bounded tables were really read
    assert bounded.extend_count > 10  # and extended as units moved beyond them
    assert (bounded.slot_radius[bounded.slot_key >= H * W] < COMPLETE).any()  # loaded ones too


def test_bounded_margin_is_checked():
    from fctwin.controller.planning.distance import DistanceTables

    pu = np.ones((4, 5), bool)
    with pytest.raises(ValueError, match="bounded_margin"):
        DistanceTables(pu, pu, max_tables=4, bounded_margin=-1)
    with pytest.raises(ValueError, match="bounded_margin"):
        DistanceTables(pu, pu, max_tables=4, bounded_margin=4, headings=True)
    # swap and rotation-aware tables read tables beyond a unit's neighbours: complete tables there
    assert not PIBTPlanner(swap=True).bounded_tables
    assert not PIBTPlanner(heading_tables=True).bounded_tables
    assert not PIBTPlanner(operation_steps=3).bounded_tables
    assert PIBTPlanner().bounded_tables


def test_bounded_search_kernels_agree_without_jit():
    """The bounded search and its extension as compiled kernels and as plain Python."""
    from jit_compare import jit_and_nojit_outputs  # tests/ is on sys.path (rootdir conftest)

    code = """
import json
import numpy as np
from fctwin.controller.planning.distance import DistanceTables
from fctwin.controller.planning.guidance import highway_move_costs
rng = np.random.default_rng(2)
pu = rng.random((12, 20)) > 0.15
cost = highway_move_costs(pu, penalty=3)
t = DistanceTables(pu, pu, max_tables=8, move_cost=cost, bounded_margin=2)
cells = np.flatnonzero(pu.ravel()).astype(np.int32)
goal = cells[rng.integers(0, cells.size, 4)]
pos = cells[rng.integers(0, cells.size, 4)]
slots = np.full(4, -1, np.int32)
t.fill_slots(goal, np.zeros(4, bool), slots, 0, pos)
first = t.slot_radius[slots].tolist()
t.settle(cells[rng.integers(0, cells.size, 4)], slots)  # the units moved elsewhere
after = t.slot_radius[slots].tolist()
bulk = DistanceTables(pu, pu, max_tables=8, move_cost=cost, bounded_margin=2)  # many goals at once
many = bulk.slots_for(goal, np.zeros(4, bool), 0, pos)
print(json.dumps([first, after, t.tables[slots].astype(int).tolist(), t.extend_count,
                  bulk.slot_radius[many].tolist(), bulk.tables[many].astype(int).tolist()]))
"""
    jit, nojit = jit_and_nojit_outputs(code)
    assert jit == nojit
    assert jit[3] > 0 and min(jit[0]) < 1 << 40  # bounded at first, extended after the move
    assert jit[4] == jit[0]  # the bulk path searches as far as the few-per-step path


@pytest.mark.parametrize("guidance", ["none", "highways"])
def test_settle_shortcut_extends_exactly_the_tables_a_full_check_extends(guidance):
    """`settle` skips a unit after one read when its own entry lies at least the largest move cost
    inside the table's radius. With the shortcut disabled (every read checked) the same tables must
    be extended to the same radii, step after step, as units jump about and pods move; and every
    entry a unit reads equals that of complete tables built at the same steps."""
    from fctwin.controller.planning.distance import COMPLETE, DistanceTables
    from fctwin.controller.planning.guidance import highway_move_costs

    rng = np.random.default_rng(23)
    pu, storage, pods = _storage_floor(rng, H=24, W=46)
    H, W = pu.shape
    pl = pu & ~pods
    cost = highway_move_costs(pl, penalty=3) if guidance == "highways" else None
    fast, slow, full = (
        DistanceTables(pu, pl, max_tables=64, move_cost=cost, bounded_margin=margin)
        for margin in (1, 1, None)
    )
    slow.max_cost = np.int64(COMPLETE)  # d + max_cost never within the radius: every read checked
    assert 1 <= fast.max_cost <= 4
    cells = np.flatnonzero(pu.ravel()).astype(np.int32)
    n = 24
    goal = cells[rng.integers(0, cells.size, n)]
    pos = cells[rng.integers(0, cells.size, n)]
    loaded = rng.random(n) < 0.4
    skipped_reads = 0
    for step in range(80):
        if step % 5 == 2:  # pods lifted and set down
            for r, c in np.argwhere(storage)[rng.choice(int(storage.sum()), 6, replace=False)]:
                pods[r, c] = not pods[r, c]
        pl = pu & ~pods
        # units step to a random neighbour, a few jump far (pushed aside, or a new errand)
        r, c = pos // W, pos % W
        d = rng.integers(0, 4, n)
        r2 = np.clip(r + np.array([0, 1, 0, -1])[d], 0, H - 1)
        c2 = np.clip(c + np.array([1, 0, -1, 0])[d], 0, W - 1)
        pos = np.where(pu[r2, c2], r2 * W + c2, pos).astype(np.int32)
        jump = rng.random(n) < 0.1
        pos[jump] = cells[rng.integers(0, cells.size, int(jump.sum()))]
        new_goal = rng.random(n) < 0.05
        goal[new_goal] = cells[rng.integers(0, cells.size, int(new_goal.sum()))]
        for t in (fast, slow, full):
            t.sync_maps(pu, pl)
            slots = np.full(n, -1, np.int32)
            keys = np.where(loaded, H * W, 0) + goal
            have = t.key_slot[keys]
            stale = (t.slot_version < t.map_version[1]) & (step - t.slot_built >= t.refresh_steps)
            keep = (have >= 0) & ~(loaded & stale[np.maximum(have, 0)])
            slots[keep] = have[keep]
            t.fill_slots(goal, loaded, slots, step, None if t is full else pos)
            t.settle(pos, slots)
            t.last_slots = slots
        np.testing.assert_array_equal(fast.last_slots, slow.last_slots)
        np.testing.assert_array_equal(fast.slot_radius, slow.slot_radius, err_msg=f"{step=}")
        np.testing.assert_array_equal(fast.tables[fast.last_slots], slow.tables[slow.last_slots])
        for i in range(n):  # the cells a PIBT step reads: own cell, neighbours passable for the load
            m = pl if loaded[i] else pu
            r, c = divmod(int(pos[i]), W)
            for dr, dc in ((0, 0), *STEP):
                rr, cc = r + dr, c + dc
                if 0 <= rr < H and 0 <= cc < W and ((dr, dc) == (0, 0) or m[rr, cc]):
                    lin = rr * W + cc
                    got = fast.distance(int(fast.last_slots[i]), lin)
                    assert got == full.distance(int(full.last_slots[i]), lin), f"{step=}, unit {i}"
        ci = fast.cell_index[pos]
        own = fast.tables[fast.last_slots, np.maximum(ci, 0)].astype(np.int64)
        radius = fast.slot_radius[fast.last_slots]
        skipped_reads += int(((ci >= 0) & (own != 65535) & (own + fast.max_cost <= radius)).sum())
    assert fast.extend_count == slow.extend_count > 20  # extensions really happened
    assert skipped_reads > 200  # and the shortcut really skipped units


def test_many_new_goals_at_once_get_bounded_tables_in_the_slots_of_complete_ones():
    """More than 64 missing tables in one step (the first step of a large fleet) take the bulk path
    (`slots_for`); with bounded tables each is searched only as far as its units read it, in the
    slot complete tables take, and the steps' actions equal those of complete tables."""
    from fctwin.controller.planning.distance import COMPLETE

    rng = np.random.default_rng(31)
    pu, storage, pods = _storage_floor(rng, H=30, W=61)
    cells = np.argwhere(pu)
    n = 150
    fleet = FleetArrays(
        pos=cells[rng.choice(len(cells), n, replace=False)].astype(np.int32),
        heading=rng.integers(0, 4, n).astype(np.int8),
        goal=cells[rng.integers(0, len(cells), n)].astype(np.int32),
        loaded=np.zeros(n, bool),
        active=np.ones(n, bool),
    )
    fleet.goal[::10] = fleet.goal[0]  # units sharing a goal: the table reaches every one of them
    grid = GridMaps(pu, pu & ~pods)
    fleet.loaded = (rng.random(n) < 0.3) & grid.passable_loaded[fleet.pos[:, 0], fleet.pos[:, 1]]
    planners = [PIBTPlanner(max_tables=3 * n, bounded_tables=b) for b in (True, False)]
    outs = [np.empty(n, np.int8), np.empty(n, np.int8)]
    for p in planners:
        p.reset(grid, n, seed=2)
    for t in range(12):
        for p, out in zip(planners, outs, strict=True):
            p.step(grid, fleet, out)
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=f"step {t}")
        if t == 0:
            bounded, complete = (p.tables for p in planners)
            assert bounded.bfs_count == complete.bfs_count > 64  # the bulk path
            np.testing.assert_array_equal(planners[0].goal_slot, planners[1].goal_slot)
            np.testing.assert_array_equal(bounded.slot_key, complete.slot_key)
            used = np.unique(planners[0].goal_slot)
            assert (bounded.slot_radius[used] < COMPLETE).sum() > 0.8 * used.size
            assert (complete.slot_radius[used] == COMPLETE).all()
            for s in used:  # bounded: the complete entry within the radius, 65535 beyond
                near = complete.tables[s] <= bounded.slot_radius[s]
                np.testing.assert_array_equal(bounded.tables[s][near], complete.tables[s][near])
                assert (bounded.tables[s][~near] == 65535).all()
        fleet.pos, fleet.heading = check_step(
            pu, grid.passable_loaded, fleet.pos, fleet.heading, fleet.loaded, fleet.active, outs[0]
        )
