"""The PyBullet world: bodies where the grid says, pods that ride and land, a GUI that fails politely.

Everything runs in DIRECT mode except the GUI story, which runs under ``xvfb-run`` when it is installed.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pybullet as p
import pytest

from fctwin.sim.world import (
    AISLE,
    CHARGE,
    DOCK,
    PICK,
    STORAGE,
    STOW,
    WALL,
    DisplayUnavailable,
    World,
    WorldSpec,
    interpolate_poses,
    poses_from_cells,
    require_display,
    xy_from_cell,
    yaw_from_heading,
)
from fctwin.sim.world.assets import POD_LIFT_M

REPO_ROOT = Path(__file__).resolve().parents[1]
CELL_SIZE_M = 1.2


def small_spec() -> WorldSpec:
    """An 8 x 10 floor: walls around, a 2 x 4 storage block with 3 pods, stations, a dock, a pad, 2 units."""
    codes = np.full((8, 10), AISLE, dtype=np.uint8)
    codes[[0, -1], :] = WALL
    codes[:, [0, -1]] = WALL
    codes[3:5, 3:7] = STORAGE
    codes[3, 0] = PICK
    codes[4, -1] = STOW
    codes[-1, 4] = DOCK
    codes[1, 2] = CHARGE
    return WorldSpec(
        cell_size_m=CELL_SIZE_M,
        cell_codes=codes,
        pod_cells=np.array([[3, 3], [3, 4], [4, 6]], dtype=np.int32),
        n_units=2,
        unit_cells=np.array([[2, 3], [6, 8]], dtype=np.int32),
        unit_headings=np.array([0, 3], dtype=np.int8),
    )


@pytest.fixture
def world():
    with World(small_spec()) as w:
        yield w


def cell_xyz(row: int, col: int, z_m: float = 0.0) -> tuple[float, float, float]:
    x, y = xy_from_cell(row, col, CELL_SIZE_M)
    return x, y, z_m


def move_unit(world: World, unit: int, cell: tuple[int, int], heading: int = 0) -> None:
    """Teleport one unit to a cell, leaving the others where they stand."""
    pose_world = np.array([world.unit_pose(u) for u in range(world.spec.n_units)])
    pose_world[unit] = poses_from_cells(np.array([cell]), np.array([heading]), CELL_SIZE_M)[0]
    world.set_unit_poses(pose_world)


def test_frames_follow_the_grid_convention():
    assert xy_from_cell(0, 0, 2.0) == (1.0, -1.0)  # row 0 is the north row, at negative-half-cell y
    assert xy_from_cell(3, 1, 2.0) == (3.0, -7.0)
    assert [yaw_from_heading(h) for h in range(4)] == [0.0, -math.pi / 2, -math.pi, -3 * math.pi / 2]


def test_build_makes_one_body_per_pod_and_unit_and_nothing_stray(world):
    n_bodies = p.getNumBodies(physicsClientId=world.client_id)
    pods, units, scenery = world.pod_body_ids, world.unit_body_ids, world.scenery_body_ids
    assert len(pods) == 3 and len(units) == 2
    assert n_bodies == len(pods) + len(units) + len(scenery)
    assert len({*pods.tolist(), *units.tolist(), *scenery}) == n_bodies


def test_pods_rest_on_their_cells_and_units_face_their_headings(world):
    for pod, (row, col) in enumerate(world.spec.pod_cells.tolist()):
        np.testing.assert_allclose(world.pod_position(pod), cell_xyz(row, col), atol=1e-6)
    expected = poses_from_cells(world.spec.unit_cells, world.spec.unit_headings, CELL_SIZE_M)
    for unit in range(2):
        x, y, yaw = world.unit_pose(unit)
        np.testing.assert_allclose((x, y), expected[unit, :2], atol=1e-6)
        assert math.isclose(math.cos(yaw - expected[unit, 2]), 1.0, abs_tol=1e-9)


def test_a_lifted_pod_rides_on_its_unit_and_lands_on_a_storage_cell(world):
    move_unit(world, 0, (3, 3))
    world.lift_pod(0, 0)
    assert world.pod_carrier(0) == 0
    assert world.pod_cells[0].tolist() == [-1, -1]
    np.testing.assert_allclose(world.pod_position(0), cell_xyz(3, 3, POD_LIFT_M), atol=1e-6)

    for cell in [(2, 3), (2, 5), (4, 5)]:  # out to the aisle, along it, into a free storage cell
        move_unit(world, 0, cell, heading=1)
        np.testing.assert_allclose(world.pod_position(0), cell_xyz(*cell, POD_LIFT_M), atol=1e-6)

    assert world.set_down_pod(0, (4, 5)) == 0
    move_unit(world, 0, (2, 5))  # the unit drives off; the pod stays
    np.testing.assert_allclose(world.pod_position(0), cell_xyz(4, 5), atol=1e-6)
    assert world.pod_carrier(0) == -1
    assert world.pod_cells[0].tolist() == [4, 5]


def test_a_lazy_world_makes_a_pod_body_when_the_pod_first_moves_and_shows_the_same_floor():
    """Headless fleet hosts build pods lazily: the pods that move, and all of them on request, end
    where an eagerly built world has them."""

    def story(w: World) -> None:
        move_unit(w, 0, (3, 3))
        w.lift_pod(0, 0)
        move_unit(w, 0, (2, 5), heading=1)
        move_unit(w, 0, (4, 5), heading=1)
        w.set_down_pod(0, (4, 5))
        move_unit(w, 0, (2, 5))
        w.note_unit_cell(1, (4, 6), 2)
        w.lift_pod(1, 2)

    with World(small_spec()) as eager, World(small_spec(), lazy_pods=True) as lazy:
        n_units_scenery = len(lazy.unit_body_ids) + len(lazy.scenery_body_ids)
        assert p.getNumBodies(physicsClientId=lazy.client_id) == n_units_scenery  # no pod yet
        story(eager)
        story(lazy)
        assert p.getNumBodies(physicsClientId=lazy.client_id) == n_units_scenery + 2  # pods 0 and 2
        for pod in range(3):
            np.testing.assert_allclose(lazy.pod_position(pod), eager.pod_position(pod), atol=1e-6)
            assert lazy.pod_carrier(pod) == eager.pod_carrier(pod)
        np.testing.assert_array_equal(lazy.pod_cells, eager.pod_cells)
        pods = lazy.pod_body_ids  # every pod has a body now
        assert (pods >= 0).all() and len(set(pods.tolist())) == 3
        assert p.getNumBodies(physicsClientId=lazy.client_id) == n_units_scenery + 3
    with World(small_spec(), gui=False, lazy_pods=True) as lazy:
        rgb = lazy.snapshot_rgb(width=64, height=48)  # a snapshot shows every pod
        assert rgb.shape == (48, 64, 3) and (lazy.pod_body_ids >= 0).all()


def test_a_noted_unit_lifts_and_sets_down_at_once_and_its_body_follows_at_the_next_sync(world):
    """Headless runs record a unit's cell for a lift or set-down without teleporting its body: the
    checks and the pod use the recorded pose, the body catches up at the next pose sync."""
    start = world.unit_pose(0)
    world.note_unit_cell(0, (3, 3), 0)
    world.lift_pod(0, 0)  # passes the is-it-under-the-pod check on the recorded pose
    np.testing.assert_allclose(world.pod_position(0), cell_xyz(3, 3, POD_LIFT_M), atol=1e-6)
    np.testing.assert_allclose(world.unit_pose(0), start, atol=1e-6)  # the body has not moved yet
    world.note_unit_cell(0, (4, 5), 1)
    assert world.set_down_pod(0, (4, 5)) == 0
    np.testing.assert_allclose(world.pod_position(0), cell_xyz(4, 5), atol=1e-6)
    # The sync moves the body even though its recorded pose already equals the target.
    target = poses_from_cells(np.array([[4, 5], [6, 8]]), np.array([1, 3]), CELL_SIZE_M)
    assert world.set_unit_poses(target) == 1
    x, y, yaw = world.unit_pose(0)
    np.testing.assert_allclose((x, y), target[0, :2], atol=1e-6)
    assert math.isclose(math.cos(yaw - target[0, 2]), 1.0, abs_tol=1e-9)
    assert world.set_unit_poses(target) == 0  # in step now: nothing left to move
    with pytest.raises(ValueError, match="not on pod 1"):
        world.note_unit_cell(0, (2, 3), 0)
        world.lift_pod(0, 1)


def test_lift_and_set_down_refuse_impossible_moves(world):
    with pytest.raises(ValueError, match="not on pod 1"):
        world.lift_pod(0, 1)  # unit 0 stands at (2, 3), pod 1 at (3, 4)
    with pytest.raises(ValueError, match="carries no pod"):
        world.set_down_pod(0, (3, 5))
    move_unit(world, 0, (3, 4))
    world.lift_pod(0, 1)
    with pytest.raises(ValueError, match="already carries"):
        world.lift_pod(0, 1)
    move_unit(world, 0, (4, 6))
    with pytest.raises(ValueError, match="already holds pod 2"):
        world.set_down_pod(0, (4, 6))
    move_unit(world, 0, (2, 6))
    with pytest.raises(ValueError, match="not a storage cell"):
        world.set_down_pod(0, (2, 6))


def test_only_units_whose_pose_changed_are_teleported(world):
    pose_world = poses_from_cells(world.spec.unit_cells, world.spec.unit_headings, CELL_SIZE_M)
    assert world.set_unit_poses(pose_world) == 0
    pose_world[1, 2] += 0.1
    assert world.set_unit_poses(pose_world) == 1
    with pytest.raises(ValueError, match="float\\[2, 3\\]"):
        world.set_unit_poses(pose_world[:1])
    pose_world[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        world.set_unit_poses(pose_world)


def test_interpolation_hits_both_ends_and_turns_the_short_way(world):
    prev_cells = np.array([[2, 3], [2, 3], [2, 3]])
    next_cells = np.array([[2, 4], [2, 3], [2, 3]])
    prev_headings = np.array([0, 0, 1], dtype=np.int8)
    next_headings = np.array([0, 3, 2], dtype=np.int8)
    start = world.interpolate(prev_cells, prev_headings, next_cells, next_headings, 0.0)
    end = world.interpolate(prev_cells, prev_headings, next_cells, next_headings, 1.0)
    half = world.interpolate(prev_cells, prev_headings, next_cells, next_headings, 0.5)
    same_yaw = np.cos(start[:, 2] - poses_from_cells(prev_cells, prev_headings, CELL_SIZE_M)[:, 2])
    np.testing.assert_allclose(same_yaw, 1.0)
    np.testing.assert_allclose(start[:, :2], poses_from_cells(prev_cells, prev_headings, CELL_SIZE_M)[:, :2])
    np.testing.assert_allclose(end[:, :2], poses_from_cells(next_cells, next_headings, CELL_SIZE_M)[:, :2])
    np.testing.assert_allclose(half[0, :2], cell_xyz(2, 3.5)[:2])
    # East -> north is a quarter turn left (+pi/2), not three quarters right; south -> west a quarter right.
    np.testing.assert_allclose(half[1:, 2], [math.pi / 4, -3 * math.pi / 4])
    # A half turn goes one consistent way and still ends facing backwards.
    flip = interpolate_poses(np.array([[0, 0, 0.0]]), np.array([[0, 0, -math.pi]]), 1.0)
    assert math.isclose(abs(flip[0, 2]), math.pi)


def test_render_step_in_direct_mode_jumps_to_the_end(world):
    prev = (world.spec.unit_cells, world.spec.unit_headings)
    nxt = (np.array([[2, 4], [5, 8]]), np.array([0, 3], dtype=np.int8))
    world.render_step(prev, nxt, 10.0)  # would take 10 s if it animated
    np.testing.assert_allclose(world.unit_pose(0)[:2], cell_xyz(2, 4)[:2], atol=1e-6)
    np.testing.assert_allclose(world.unit_pose(1)[:2], cell_xyz(5, 8)[:2], atol=1e-6)


def test_snapshot_is_a_png_of_the_floor_with_pods_on_it(world, tmp_path):
    path = world.snapshot_png(tmp_path / "floor.png", width=160, height=90)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (160, 90)
    rgb = world.snapshot_rgb(width=160, height=90).astype(int)
    pod_yellow = (rgb[:, :, 0] > 180) & (rgb[:, :, 1] > 140) & (rgb[:, :, 2] < 90)
    assert pod_yellow.any()


def test_a_world_can_share_a_client_it_does_not_own():
    client = p.connect(p.DIRECT)
    try:
        with World(small_spec(), client=client) as w:
            assert w.client_id == client
        assert p.isConnected(physicsClientId=client)
    finally:
        p.disconnect(physicsClientId=client)


def test_spec_rejects_a_pod_off_storage():
    spec = small_spec()
    with pytest.raises(ValueError, match="STORAGE"):
        WorldSpec(
            cell_size_m=1.0,
            cell_codes=spec.cell_codes,
            pod_cells=np.array([[2, 2]]),
            n_units=0,
            unit_cells=np.empty((0, 2)),
            unit_headings=np.empty(0),
        )


def test_require_display_without_display_raises_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailable, match="DISPLAY is unset.*xvfb-run"):
        require_display()


def run_python(
    code: str, env_update: dict[str, str | None], *, wrapper: list[str] = ()
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for key, value in env_update.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [*wrapper, sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


GUI_WITHOUT_DISPLAY = """
    import sys
    sys.path.insert(0, "tests")
    from test_world import small_spec
    from fctwin.sim.world import DisplayUnavailable, World
    try:
        World(small_spec(), gui=True)
    except DisplayUnavailable as exc:
        print("refused:", exc)
    print("interpreter survived")
"""


@pytest.mark.parametrize("display", [None, ":4242"], ids=["unset", "unreachable"])
def test_gui_without_a_display_fails_politely_and_the_interpreter_survives(display):
    result = run_python(GUI_WITHOUT_DISPLAY, {"DISPLAY": display})
    assert result.returncode == 0, result.stderr
    assert "refused: no X display" in result.stdout
    assert "xvfb-run" in result.stdout
    assert "interpreter survived" in result.stdout


GUI_STORY = """
    import sys
    import numpy as np
    sys.path.insert(0, "tests")
    from test_world import small_spec
    from fctwin.sim.world import World
    with World(small_spec(), gui=True) as world:
        cells = world.spec.unit_cells.copy()
        headings = world.spec.unit_headings.copy()
        for step in range(3):
            nxt = cells.copy()
            nxt[0, 1] += 1
            world.render_step((cells, headings), (nxt, (headings + 1) % 4), 0.2, fps=20)
            cells, headings = nxt, (headings + 1) % 4
        print("animated", world.unit_pose(0))
"""


@pytest.mark.gui
def test_gui_world_animates_under_xvfb():
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed: apt-get install xvfb to run the GUI test")
    result = run_python(GUI_STORY, {}, wrapper=["xvfb-run", "-a"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "animated" in result.stdout


def test_a_lazy_world_makes_pod_bodies_in_a_batch_where_the_pods_rest():
    """The fleet host gives the pods a backlog of world updates lifts their bodies in one batch first."""
    with World(small_spec()) as eager, World(small_spec(), lazy_pods=True) as lazy:
        lazy.make_pod_bodies([2, 0, 2])
        made = lazy._bodies.pods.copy()
        assert (made[[0, 2]] >= 0).all() and made[1] < 0 and made[0] != made[2]
        lazy.make_pod_bodies([0, 2])  # they have theirs: nothing changes
        lazy.make_pod_bodies([])
        np.testing.assert_array_equal(lazy._bodies.pods, made)
        for pod in (0, 2):
            np.testing.assert_allclose(lazy.pod_position(pod), eager.pod_position(pod), atol=1e-6)
        move_unit(lazy, 0, (3, 3))
        lazy.lift_pod(0, 0)  # the lift uses the body made in the batch
        assert lazy._bodies.pods[0] == made[0] and lazy.pod_carrier(0) == 0
        # asking for every pod makes the rest and brings the client's body list up to date
        n_units_scenery = len(lazy.unit_body_ids) + len(lazy.scenery_body_ids)
        pods = lazy.pod_body_ids
        assert len(set(pods.tolist())) == 3 and pods[0] == made[0] and pods[2] == made[2]
        assert p.getNumBodies(physicsClientId=lazy.client_id) == n_units_scenery + 3
