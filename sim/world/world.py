"""`World`: a PyBullet client holding the FC floor, its pods and its drive units, kept in step with the fleet.

The world is a view of the grid, not a physics model of it: drive units move kinematically cell to cell
(teleported, with interpolated in-between poses for display), a lifted pod rides on its unit, a set-down
pod rests on a storage cell. Every body here has mass 0, so stepping the client (for station arms loaded
by ``robots/`` into the same client, see `World.client_id`) never moves them and costs almost nothing.
Frames: see `fctwin.sim.world.frames`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pybullet as p

from fctwin.sim.world import assets
from fctwin.sim.world.assets import STORAGE
from fctwin.sim.world.bodies import BodyBuilder
from fctwin.sim.world.camera import png_bytes, snapshot_rgb
from fctwin.sim.world.display import connect_gui, release_gui
from fctwin.sim.world.frames import (
    IDENTITY_QUAT,
    Cell,
    interpolate_poses,
    poses_from_cells,
    quats_from_yaws,
    xy_from_cell,
    yaw_from_heading,
)
from fctwin.sim.world.spec import WorldSpec, floor_centre_xy, floor_size_xy


class World:
    """A PyBullet client holding the FC floor, its pods and its drive units.

    Args:
        spec: the layout and initial placement.
        gui: open the PyBullet GUI (checks for a display first) instead of DIRECT.
        client: build into an existing physics client instead of connecting (not closed by `close`).

    Raises:
        DisplayUnavailable: ``gui=True`` and no display can be opened.
        ValueError: both `gui` and `client` are given.
        RuntimeError: ``gui=True`` while another GUI world is open in this process.

    ``lazy_pods=True`` (headless runs, never with the GUI) gives a pod its body only when it first
    moves, or when something asks for pod bodies (`pod_body_ids`, `pod_position`, a snapshot): a pod
    that never leaves its cell has nothing to show or check that its cell does not say already.
    A 2,000-unit floor has 20,000 pods and moves a few thousand of them an hour; building all of
    them took most of the fleet host's start-up (and closing the client again, seconds at the end).
    """

    def __init__(
        self, spec: WorldSpec, *, gui: bool = False, client: int | None = None, lazy_pods: bool = False
    ) -> None:
        if gui and client is not None:
            raise ValueError("pass either gui=True or an existing client, not both")
        self.spec = spec
        self.gui = gui
        self.lazy_pods = bool(lazy_pods) and not gui
        # Bodies made in a batch the client's body list (getNumBodies) does not show until a
        # syncBodyInfo, which costs O(bodies) (~50 ms on a 2,000-unit floor): made lazily, it is done
        # when every pod is asked for (`_materialise_pods`). Nothing else in the world reads that list.
        self._client_list_stale = False
        self._owns_client = client is None
        if client is not None:
            self._client = client
        elif gui:
            self._client = connect_gui()
        else:
            self._client = p.connect(p.DIRECT)
        if self._client < 0:
            raise RuntimeError("PyBullet refused the connection")

        n_pods, n_units = len(spec.pod_cells), spec.n_units
        # Cached state: what the bodies show now (a unit's pose may lead its body, see note_unit_cell).
        # NaN poses force the first set_unit_poses to move all.
        self._unit_pose_world = np.full((n_units, 3), np.nan)
        # Units whose pose was recorded by `note_unit_cell` but whose body has not moved there yet.
        self._body_stale = np.zeros(n_units, dtype=bool)
        self._unit_payload = np.full(n_units, -1, dtype=np.int32)  # pod carried by each unit, or -1
        self._pod_carrier = np.full(n_pods, -1, dtype=np.int32)  # unit carrying each pod, or -1
        self._pod_cell = spec.pod_cells.copy()  # resting cell of each pod, (-1, -1) while carried
        self._resting_pod = np.full(spec.cell_codes.shape, -1, dtype=np.int32)  # pod resting on each cell
        self._resting_pod[spec.pod_cells[:, 0], spec.pod_cells[:, 1]] = np.arange(n_pods, dtype=np.int32)
        self._builder = BodyBuilder(spec, self._client)
        self._bodies = self._builder.bodies  # filled in by the builder
        self.station_bodies: dict[str, list[int]] = {}  # static station-unit models (add_station_model)

        try:
            self._build()
        except BaseException:
            self.close()  # do not leak a connection (or the process's one GUI slot) on a failed build
            raise

    def _build(self) -> None:
        if self.gui:
            # Building thousands of bodies with rendering on is slow; the side panels hide the floor.
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_RENDERING, 0)
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_GUI, 0)
        builder = self._builder
        builder.build_floor_and_walls()
        builder.build_markers()
        builder.build_station_furniture()
        if self.lazy_pods:
            self._bodies.pods = np.full(len(self.spec.pod_cells), -1, dtype=np.int32)
        else:
            builder.build_pods()
        builder.build_units()
        self._pb(p.syncBodyInfo)  # batch creation leaves getNumBodies() stale until synced
        self.set_units_from_cells(self.spec.unit_cells, self.spec.unit_headings)
        if self.gui:
            self._pb(p.configureDebugVisualizer, p.COV_ENABLE_RENDERING, 1)
            centre_x, centre_y = floor_centre_xy(self.spec)
            self._pb(
                p.resetDebugVisualizerCamera,
                cameraDistance=0.75 * max(floor_size_xy(self.spec)),
                cameraYaw=0,
                cameraPitch=-55,
                cameraTargetPosition=(centre_x, centre_y, 0),
            )

    # --- client plumbing ---------------------------------------------------------------------------

    def _pb(self, fn, *args, **kwargs):
        return fn(*args, physicsClientId=self._client, **kwargs)

    @property
    def client_id(self) -> int:
        """The PyBullet physics client id, for code that loads more bodies (station arms) into this world."""
        return self._client

    @property
    def pod_body_ids(self) -> np.ndarray:
        """int32[P]: PyBullet body id of each pod (a copy; a lazy world makes the missing ones first)."""
        self._materialise_pods()
        return self._bodies.pods.copy()

    def _pod_body(self, pod: int) -> int:
        """The body of `pod`, made now (at its resting cell) if this lazy world has none yet."""
        body = int(self._bodies.pods[pod])
        if body < 0:
            body = int(self._builder.create_pods(self._pod_cell[pod : pod + 1])[0])
            self._bodies.pods[pod] = body
        return body

    def make_pod_bodies(self, pods) -> None:
        """Give these pods their bodies now, in one batch, where they rest (a lazy world otherwise makes
        each at its first lift, one PyBullet call per pod: several times the cost per pod of a batch).
        Pods that have a body already are skipped."""
        if not self.lazy_pods:
            return
        pods = np.unique(np.asarray(pods, dtype=np.int64).reshape(-1))
        if not len(pods):
            return
        pods = pods[self._bodies.pods[pods] < 0]  # a pod without a body never moved: it rests
        if len(pods):
            self._bodies.pods[pods] = self._builder.create_pods(self._pod_cell[pods])
            self._client_list_stale |= len(pods) > 1

    def _materialise_pods(self) -> None:
        """Give every pod without a body one, at its resting cell (lazy worlds; else nothing to do)."""
        if not self.lazy_pods:
            return
        missing = np.flatnonzero(self._bodies.pods < 0)
        if len(missing):
            # A pod without a body never moved, so it rests (carried pods got theirs at the lift).
            self._bodies.pods[missing] = self._builder.create_pods(self._pod_cell[missing])
        if len(missing) or self._client_list_stale:
            self._pb(p.syncBodyInfo)
            self._client_list_stale = False

    @property
    def unit_body_ids(self) -> np.ndarray:
        """int32[N]: PyBullet body id of each drive unit (a copy)."""
        return self._bodies.units.copy()

    @property
    def scenery_body_ids(self) -> list[int]:
        """Body ids of the floor, walls, floor markers and station furniture."""
        return list(self._bodies.scenery)

    def close(self) -> None:
        """Disconnect the client if this world opened it. Idempotent."""
        if self._client is None:
            return
        if self._owns_client and p.isConnected(physicsClientId=self._client):
            p.disconnect(physicsClientId=self._client)
        release_gui(self._client)
        self._client = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def add_station_model(
        self, station_id: str, cell: Cell, unit_type: str, *, arms: int = 3, bodies: bool = True
    ) -> tuple[list[int], tuple[float, float, float]]:
        """Show a station unit (vulcan, bluejay, sequoia) beside its cell, outside the floor.

        Returns (body ids, origin): ``origin`` is the world point of the unit's cell frame (see
        `assets.station_model_parts`), placed 1.6 cells out past the operator so the model's
        footprint stays off the floor. ``bodies=False`` only places the frame (a physics cell is
        loaded there instead). A ``human`` station has its furniture already: no bodies.
        """
        ids, origin = self._builder.add_station_model(station_id, cell, unit_type, arms=arms, bodies=bodies)
        self.station_bodies[station_id] = ids
        return ids, origin

    # --- moving units and pods ---------------------------------------------------------------------

    def set_unit_poses(self, pose_world: np.ndarray) -> int:
        """Teleport every unit to float[N, 3] (x_m, y_m, yaw_rad); carried pods ride along.

        Only units whose pose changed since the last call are moved (and their pods), so a mostly idle
        fleet costs little. A carried pod keeps yaw 0: the lift turntable counter-rotates, as on Kiva
        units, so a pod never sweeps into its neighbours.

        Returns:
            The number of units moved.

        Raises:
            ValueError: `pose_world` is not N x 3 or not finite.
        """
        pose_world = np.asarray(pose_world, dtype=np.float64)
        if pose_world.shape != self._unit_pose_world.shape:
            raise ValueError(
                f"pose_world must be float[{self.spec.n_units}, 3], got shape {pose_world.shape}"
            )
        if not np.isfinite(pose_world).all():
            raise ValueError("pose_world holds NaN or inf (a unit without telemetry?)")
        changed = np.flatnonzero(np.any(pose_world != self._unit_pose_world, axis=1) | self._body_stale)
        if not len(changed):
            return 0
        self._body_stale[changed] = False
        moved = pose_world[changed]
        quats = quats_from_yaws(moved[:, 2]).tolist()
        bodies = self._bodies.units[changed].tolist()
        payloads = self._unit_payload[changed].tolist()
        pod_bodies = self._bodies.pods
        client = self._client
        reset = p.resetBasePositionAndOrientation  # bound once: this loop is the per-tick hot path
        for body, (x, y, _), quat, pod in zip(bodies, moved.tolist(), quats, payloads, strict=True):
            reset(body, (x, y, 0.0), quat, physicsClientId=client)
            if pod >= 0:
                reset(int(pod_bodies[pod]), (x, y, assets.POD_LIFT_M), IDENTITY_QUAT, physicsClientId=client)
        self._unit_pose_world[changed] = moved
        return len(changed)

    def set_unit_cell(self, unit: int, cell: Cell, heading: int) -> None:
        """Teleport one unit (and its pod) to a cell centre; cheaper than `set_unit_poses` for one unit.

        Headless fast runs sync poses lazily and bring a unit up to date just before it lifts or sets
        down a pod, which happens thousands of times a shift.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        x, y = xy_from_cell(int(cell[0]), int(cell[1]), self.spec.cell_size_m)
        x, y, yaw = float(x), float(y), float(yaw_from_heading(int(heading)))
        if (self._unit_pose_world[unit] == (x, y, yaw)).all() and not self._body_stale[unit]:
            return
        client = self._client
        quat = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))  # as quats_from_yaws
        p.resetBasePositionAndOrientation(
            int(self._bodies.units[unit]), (x, y, 0.0), quat, physicsClientId=client
        )
        pod = int(self._unit_payload[unit])
        if pod >= 0:
            p.resetBasePositionAndOrientation(
                self._pod_body(pod), (x, y, assets.POD_LIFT_M), IDENTITY_QUAT, physicsClientId=client
            )
        self._unit_pose_world[unit] = (x, y, yaw)
        self._body_stale[unit] = False

    def note_unit_cell(self, unit: int, cell: Cell, heading: int) -> None:
        """Record that a unit stands at a cell centre now, without moving its body yet.

        For headless fast runs, whose bodies are synced once a simulated minute: the lift and set-down
        checks, and a pod lifted from here, use the recorded pose at once; the unit's body (and a pod
        it carries) moves there at the next `set_unit_poses` / `set_units_from_cells`, and until then
        `unit_pose` (read from PyBullet) shows where it was. Teleporting the body at every lift and
        set-down (`set_unit_cell`) cost 13 us per call alone and ~90 us in an fc_small run (cold
        caches beside the dispatcher), over a thousand times a simulated hour, for poses nobody sees.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        x, y = xy_from_cell(int(cell[0]), int(cell[1]), self.spec.cell_size_m)
        self._unit_pose_world[unit] = (float(x), float(y), float(yaw_from_heading(int(heading))))
        self._body_stale[unit] = True

    def set_units_from_cells(self, cells: np.ndarray, headings: np.ndarray) -> int:
        """Teleport units to int32[N, 2] (row, col) cell centres facing int8[N] headings."""
        return self.set_unit_poses(poses_from_cells(cells, headings, self.spec.cell_size_m))

    def place_units(self, units, cells, headings) -> int:
        """Teleport some units (indices int[K]) to cells int[K, 2] facing headings int[K]; the others stay.

        For units whose pose comes from elsewhere (an external unit's telemetry).
        """
        units = np.asarray(units, dtype=np.int64).reshape(-1)
        for k in units.tolist():
            self._check_index("unit", k, self.spec.n_units)
        pose_world = self._unit_pose_world.copy()
        pose_world[units] = poses_from_cells(
            np.asarray(cells, dtype=np.int32).reshape(-1, 2),
            np.asarray(headings, dtype=np.int8).reshape(-1),
            self.spec.cell_size_m,
        )
        return self.set_unit_poses(pose_world)

    def interpolate(
        self,
        prev_cells: np.ndarray,
        prev_headings: np.ndarray,
        next_cells: np.ndarray,
        next_headings: np.ndarray,
        frac: float,
    ) -> np.ndarray:
        """Display poses float64[N, 3] a fraction `frac` (0..1) of the way between two cell states.

        Pure: does not move any body. Yaw turns the short way.
        """
        cs = self.spec.cell_size_m
        return interpolate_poses(
            poses_from_cells(prev_cells, prev_headings, cs),
            poses_from_cells(next_cells, next_headings, cs),
            frac,
        )

    def _as_poses(self, state) -> np.ndarray:
        if isinstance(state, tuple):  # (cells int32[N, 2], headings int8[N])
            return poses_from_cells(state[0], state[1], self.spec.cell_size_m)
        return np.asarray(state, dtype=np.float64)

    def render_step(self, prev, next, duration_wall_s: float, *, fps: float = 30) -> None:  # noqa: A002
        """Show the units going from `prev` to `next`, each a (cells, headings) tuple or float[N, 3] poses.

        GUI: animates interpolated poses over `duration_wall_s` wall seconds at `fps`, paced on deadlines so
        frames do not drift (realtime with a speed-up: the caller passes ``step_s / speedup``). DIRECT: sets
        the final poses at once.
        """
        pose_next = self._as_poses(next)
        if not self.gui or duration_wall_s <= 0:
            self.set_unit_poses(pose_next)
            return
        pose_prev = self._as_poses(prev)
        n_frames = max(1, round(duration_wall_s * fps))
        start_s = time.perf_counter()
        for k in range(1, n_frames + 1):
            self.set_unit_poses(interpolate_poses(pose_prev, pose_next, k / n_frames))
            delay_s = start_s + k * duration_wall_s / n_frames - time.perf_counter()
            if delay_s > 0:
                time.sleep(delay_s)

    def _check_index(self, kind: str, index: int, count: int) -> int:
        if not 0 <= index < count:
            raise ValueError(f"{kind} {index} does not exist (0..{count - 1})")
        return int(index)

    def _check_at(self, unit: int, row: int, col: int, what: str) -> None:
        """A unit must stand on (within half a cell of) the cell where it lifts or sets down a pod."""
        x, y = xy_from_cell(row, col, self.spec.cell_size_m)
        ux, uy, _ = self._unit_pose_world[unit]
        if not math.hypot(ux - x, uy - y) <= 0.5 * self.spec.cell_size_m:
            raise ValueError(f"unit {unit} at ({ux:.2f}, {uy:.2f}) m is not on {what} at cell ({row}, {col})")

    def lift_pod(self, unit: int, pod: int) -> None:
        """Unit `unit` lifts pod `pod` from its storage cell; the pod then rides on the unit.

        Raises:
            ValueError: the unit already carries a pod, the pod is carried, or the unit is not under it.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        pod = self._check_index("pod", pod, len(self._pod_carrier))
        if self._unit_payload[unit] >= 0:
            raise ValueError(f"unit {unit} already carries pod {self._unit_payload[unit]}")
        if self._pod_carrier[pod] >= 0:
            raise ValueError(f"pod {pod} is already carried by unit {self._pod_carrier[pod]}")
        row, col = self._pod_cell[pod].tolist()
        self._check_at(unit, row, col, f"pod {pod}")
        body = self._pod_body(pod)  # before the pod leaves its cell: a lazy world makes it there
        self._resting_pod[row, col] = -1
        self._pod_cell[pod] = (-1, -1)
        self._pod_carrier[pod] = unit
        self._unit_payload[unit] = pod
        x, y, _ = self._unit_pose_world[unit].tolist()
        self._pb(p.resetBasePositionAndOrientation, body, (x, y, assets.POD_LIFT_M), IDENTITY_QUAT)

    def set_down_pod(self, unit: int, cell: Cell) -> int:
        """Unit `unit` sets its pod down on storage cell `cell` (row, col), where it stays.

        Returns:
            The pod id.

        Raises:
            ValueError: the unit carries no pod, the cell is not a free STORAGE cell, or the unit is not
                on it.
        """
        unit = self._check_index("unit", unit, self.spec.n_units)
        pod = int(self._unit_payload[unit])
        if pod < 0:
            raise ValueError(f"unit {unit} carries no pod")
        row, col = int(cell[0]), int(cell[1])
        rows, cols = self.spec.cell_codes.shape
        if not (0 <= row < rows and 0 <= col < cols) or self.spec.cell_codes[row, col] != STORAGE:
            raise ValueError(f"cell ({row}, {col}) is not a storage cell")
        if self._resting_pod[row, col] >= 0:
            raise ValueError(f"storage cell ({row}, {col}) already holds pod {self._resting_pod[row, col]}")
        self._check_at(unit, row, col, "the storage cell")
        self._unit_payload[unit] = -1
        self._pod_carrier[pod] = -1
        self._pod_cell[pod] = (row, col)
        self._resting_pod[row, col] = pod
        x, y = xy_from_cell(row, col, self.spec.cell_size_m)
        self._pb(p.resetBasePositionAndOrientation, self._pod_body(pod), (x, y, 0.0), IDENTITY_QUAT)
        return pod

    # --- queries -----------------------------------------------------------------------------------

    def pod_position(self, pod: int) -> tuple[float, float, float]:
        """World (x_m, y_m, z_m) of a pod's footprint centre, read from PyBullet (z = 0 resting)."""
        pod = self._check_index("pod", pod, len(self._pod_carrier))
        return tuple(self._pb(p.getBasePositionAndOrientation, self._pod_body(pod))[0])

    def unit_pose(self, unit: int) -> tuple[float, float, float]:
        """World (x_m, y_m, yaw_rad) of a unit, read from PyBullet."""
        unit = self._check_index("unit", unit, self.spec.n_units)
        position, quat = self._pb(p.getBasePositionAndOrientation, int(self._bodies.units[unit]))
        return position[0], position[1], p.getEulerFromQuaternion(quat)[2]

    def unit_poses_world(self) -> np.ndarray:
        """float64[N, 3]: the (x_m, y_m, yaw_rad) of every unit as last set (a copy; no PyBullet call)."""
        return self._unit_pose_world.copy()

    def pod_carrier(self, pod: int) -> int:
        """The unit carrying `pod`, or -1 if it rests on a storage cell."""
        return int(self._pod_carrier[self._check_index("pod", pod, len(self._pod_carrier))])

    @property
    def pod_cells(self) -> np.ndarray:
        """int32[P, 2]: resting (row, col) of each pod, (-1, -1) while carried (a copy)."""
        return self._pod_cell.copy()

    # --- appearance --------------------------------------------------------------------------------

    def set_unit_color(self, unit: int, rgba: tuple[float, float, float, float]) -> None:
        """Recolour a unit's body, e.g. `assets.RGBA_UNIT_FAILED` or `RGBA_UNIT_EXTERNAL`."""
        unit = self._check_index("unit", unit, self.spec.n_units)
        self._pb(p.changeVisualShape, int(self._bodies.units[unit]), -1, rgbaColor=tuple(rgba))

    def add_label(self, text: str, position_world: tuple[float, float, float], *, rgb=(0, 0, 0)) -> int:
        """A text label in the GUI (debug text); returns its id, or -1 in DIRECT mode (nothing to show)."""
        if not self.gui:
            return -1
        return self._pb(p.addUserDebugText, text, position_world, textColorRGB=rgb, textSize=1.2)

    def set_camera(self, view: str) -> None:
        """GUI camera: "top" (straight down, the map's orientation) or "oblique" (the opening view)."""
        if not self.gui:
            return
        centre_x, centre_y = floor_centre_xy(self.spec)
        size_x, size_y = floor_size_xy(self.spec)
        size = max(size_x, size_y)
        if view == "top":
            # The floor and its labels fill most of the default 1024x768 window: at distance d the top view
            # shows about 2.6 d across and 1.9 d top to bottom (measured under xvfb); 0.9 * size
            # left a wide floor at 43% of the window's width.
            pitch, dist = -89.9, 1.4 * max(size_x / 2.6, size_y / 1.9)
        else:
            pitch, dist = -55, 0.75 * size
        self._pb(
            p.resetDebugVisualizerCamera,
            cameraDistance=dist,
            cameraYaw=0,
            cameraPitch=pitch,
            cameraTargetPosition=(centre_x, centre_y, 0),
        )

    def camera_keys(self) -> str | None:
        """GUI: "top" or "oblique" when the T or O key was pressed since the last call (else None)."""
        if not self.gui:
            return None
        keys = self._pb(p.getKeyboardEvents)
        for key, state in keys.items():
            if state & p.KEY_WAS_TRIGGERED:
                if key == ord("t"):
                    return "top"
                if key == ord("o"):
                    return "oblique"
        return None

    def snapshot_rgb(
        self, *, width: int = 960, height: int = 540, focus_cell: Cell | None = None, radius_cells: float = 5
    ) -> np.ndarray:
        """uint8[height, width, 3] TinyRenderer image (works in DIRECT mode).

        Shows the whole floor from the south, or a close-up of the cells within `radius_cells` of
        `focus_cell` (row, col).
        """
        self._materialise_pods()
        return snapshot_rgb(
            self.spec,
            self._client,
            width=width,
            height=height,
            focus_cell=focus_cell,
            radius_cells=radius_cells,
        )

    def snapshot_png(
        self,
        path: str | Path,
        *,
        width: int = 960,
        height: int = 540,
        focus_cell: Cell | None = None,
        radius_cells: float = 5,
    ) -> Path:
        """Write a PNG of the floor or a close-up (see `snapshot_rgb`); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rgb = self.snapshot_rgb(width=width, height=height, focus_cell=focus_cell, radius_cells=radius_cells)
        path.write_bytes(png_bytes(rgb))
        return path
