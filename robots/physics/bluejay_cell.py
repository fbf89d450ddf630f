"""Blue Jay's cell in PyBullet: 1-4 KUKA iiwa arms around one shared table, with workspace reservation.

Cell frame (metres, z up, table top at z = 0): arm ``k`` stands at angle ``k * 90 deg`` on a circle
of radius ``base_radius_m`` around the table centre, facing it. Tote spots on the table:

* ``C``: the order tote in the centre (consolidation target, shared by every arm);
* ``K{k}``: a tote between arm ``k`` and arm ``k+1`` (shared by those two);
* ``O{k}``: arm ``k``'s own storage tote, in front of it.

Task kinds (each moves one item from one spot to another by suction, straight-line moves at 120 Hz
IK control over 240 Hz physics): ``pick`` (own storage tote -> a shared tote), ``stow`` (a shared
tote -> own storage tote) and ``consolidate`` (a shared tote -> the centre order tote).

Workspace reservation: every arm always holds its parking zone (the floor-plan shadow of the arm at
home). Before a task the arm reserves the zone its motion sweeps - the convex hull of its base, the
task's two spots and its home point, buffered by ``link_clearance_m`` (shapely) - and may start only
when that zone is disjoint from every zone another arm holds; the zone is released when the arm is
back home. An arm that holds nothing but its parking zone cannot block anyone who waits, so the
scheme cannot deadlock. With ``reserve=False`` the arms start as soon as they are free (for tests
that show the contact check catches collisions).

Durations are simulated seconds (``steps / SIM_HZ``); ``perceive_s`` (imaging a tote and choosing a
grasp) is an assumed dwell at home, not physics.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pybullet as p
import shapely
from shapely.geometry import MultiPoint

from fctwin.robots.physics.engine import SIM_HZ, Arm, PhysicsClient, kuka_with_tool_urdf

__all__ = ["BlueJayCell", "BlueJayParams", "Task", "task_zone", "tool_down_orn_for"]

KINDS = ("pick", "stow", "consolidate")


@dataclass(frozen=True, kw_only=True)
class BlueJayParams:
    """Geometry, speeds and non-motion times (SI units)."""

    base_radius_m: float = 0.65
    home_reach_m: float = 0.20  # home (parked) tool point: this far from the base towards the centre,
    home_z_m: float = 0.70  # and this high: folded up and back, clear of the shared totes
    own_spot_radial_m: float = 0.30  # O{k}: this far from the centre towards arm k ...
    own_spot_side_m: float = 0.25  # ... and this far to the arm's right
    shared_spot_radius_m: float = 0.45  # K{k}: at 45 deg between arms k and k+1
    travel_z_m: float = 0.30  # tool tip height for moves between spots
    item_half_m: float = 0.03  # items are 6 cm cubes
    item_mass_kg: float = 0.3
    tool_len_m: float = 0.06
    speed_mps: float = 0.9
    vertical_speed_mps: float = 0.5
    grasp_s: float = 0.3  # vacuum build-up
    release_s: float = 0.2
    perceive_s: float = 0.8  # image the tote, choose the grasp (assumed)
    link_clearance_m: float = 0.10  # task-zone buffer round the base-tool skeleton: link radius plus margin
    parking_margin_m: float = 0.02  # buffer round the parked arm's measured link boxes
    tote_half_m: float = 0.10  # an item must land within this of the spot centre


@dataclass(frozen=True)
class Task:
    """Move one item from spot ``src`` to spot ``dst`` (names as in the module docstring)."""

    kind: str
    src: str
    dst: str


def task_zone(base_xy, points_xy, clearance_m: float) -> shapely.Geometry:
    """Floor-plan zone an arm sweeps between its base and ``points_xy``: convex hull, buffered (m)."""
    return MultiPoint([tuple(base_xy), *(tuple(q) for q in points_xy)]).convex_hull.buffer(clearance_m)


def tool_down_orn_for(base_angle_rad: float) -> tuple:
    """Tool pointing down (-z), turned about z with an arm standing at ``base_angle_rad`` round the table.

    One world orientation for every arm (as before) asked arm ``k`` to turn its wrist by k x 90 deg
    from its natural pose: arm 2 needed 180 deg against the iiwa's +-175 deg A7 limit, so IK tilted
    the cup and its grasps missed or dropped items (3 of 18 tasks with 3 arms).
    """
    return p.getQuaternionFromEuler((math.pi, 0.0, base_angle_rad))


@dataclass
class _ArmState:
    arm: Arm
    index: int
    base_xy: np.ndarray
    home_xyz: np.ndarray
    parking: shapely.Geometry
    orn: tuple = (0.0, 0.0, 0.0, 1.0)  # tool down, wrist turned with the arm (`tool_down_orn_for`)
    held: shapely.Geometry | None = None  # the task zone it holds, beyond parking
    task: Task | None = None
    path: deque = field(default_factory=deque)  # pending segments: ("move", xyz, speed) | ("wait", s, tag)
    seg_start: np.ndarray | None = None
    seg_goal: np.ndarray | None = None
    seg_speed: float = 0.0
    seg_k: int = 0
    seg_n: int = 0
    wait_left: int = 0
    wait_tag: str = ""
    item: int | None = None
    suction: int | None = None
    rng_pending: list = field(default_factory=list)  # candidate tasks (random mix)
    waited_steps: int = 0


class BlueJayCell:
    """``arms`` (1-4) arms on one table; `run` steps them all through tasks and counts units."""

    def __init__(
        self,
        *,
        arms: int = 3,
        params: BlueJayParams | None = None,
        reserve: bool = True,
        seed: int = 0,
        client_id: int | None = None,
        origin_world=(0.0, 0.0, 0.0),
    ):
        if not 1 <= arms <= 4:
            raise ValueError(f"a Blue Jay cell has 1-4 arms, not {arms}")
        self.params = prm = params or BlueJayParams()
        self.reserve = reserve
        self.rng = np.random.default_rng(seed)
        self.pc = PhysicsClient(client_id=client_id, origin_world=origin_world)
        self.pc.box((1.1, 1.1, 0.02), (0, 0, -0.02), rgba=(0.55, 0.5, 0.45, 1))  # the shared table
        self.spots = self._spots()
        for xy in self.spots.values():  # tote outlines (visual cue only, flush with the table)
            self.pc.box((prm.tote_half_m, prm.tote_half_m, 0.001), (*xy, 0.001), rgba=(0.2, 0.4, 0.8, 1))
        urdf = kuka_with_tool_urdf(tool_len_m=prm.tool_len_m, tool_w_m=0.05, tool_h_m=0.05)
        self.arms: list[_ArmState] = []
        for k in range(arms):
            phi = k * math.pi / 2
            u = np.array([math.cos(phi), math.sin(phi)])
            base_xy = prm.base_radius_m * u
            arm = Arm(self.pc, urdf, (*base_xy, 0.0), base_yaw_rad=phi + math.pi)
            home_xy = base_xy - prm.home_reach_m * u
            orn = tool_down_orn_for(phi)
            arm.reset_to(np.array([*home_xy, prm.home_z_m]), orn)
            home = arm.ee_pose()[0]  # where IK actually put the tool (the zone must match the arm)
            self.arms.append(_ArmState(arm, k, base_xy, home, self._parked_shadow(arm), orn=orn))
        self.pc.step(int(0.3 * SIM_HZ))
        self.pc.steps = 0
        self.units_done = 0
        self.units_failed = 0
        self.arm_contact_steps = 0  # steps with any arm-arm contact point
        self.max_zone_overlap_m2 = 0.0
        self.wait_steps = 0  # arm-steps spent waiting for a zone

    def _parked_shadow(self, arm: Arm) -> shapely.Geometry:
        """Floor-plan shadow of the parked arm: hull of its links' measured boxes, plus a margin."""
        corners = []
        for link in range(-1, p.getNumJoints(arm.body, physicsClientId=self.pc.cid)):
            lo, hi = self.pc.aabb(arm.body, link)
            corners += [(lo[0], lo[1]), (lo[0], hi[1]), (hi[0], lo[1]), (hi[0], hi[1])]
        return MultiPoint(corners).convex_hull.buffer(self.params.parking_margin_m)

    # ------------------------------------------------------------------ layout and tasks

    def _spots(self) -> dict[str, np.ndarray]:
        prm = self.params
        spots = {"C": np.zeros(2)}
        for k in range(4):
            phi = k * math.pi / 2
            u = np.array([math.cos(phi), math.sin(phi)])
            right = np.array([math.sin(phi), -math.cos(phi)])  # the arm faces -u; its right is this
            spots[f"O{k}"] = prm.own_spot_radial_m * u + prm.own_spot_side_m * right
            spots[f"K{k}"] = prm.shared_spot_radius_m * np.array(
                [math.cos(phi + math.pi / 4), math.sin(phi + math.pi / 4)]
            )
        return spots

    def random_task(self, k: int) -> Task:
        """A task for arm ``k``: pick, stow or consolidate, through one of its two shared totes."""
        kind = KINDS[int(self.rng.integers(3))]
        shared = f"K{k}" if self.rng.random() < 0.5 else f"K{(k - 1) % 4}"
        if kind == "pick":
            return Task(kind, f"O{k}", shared)
        if kind == "stow":
            return Task(kind, shared, f"O{k}")
        return Task(kind, shared, "C")

    def zone_of(self, st: _ArmState, task: Task) -> shapely.Geometry:
        pts = [st.home_xyz[:2], self.spots[task.src], self.spots[task.dst]]
        return task_zone(st.base_xy, pts, self.params.link_clearance_m).union(st.parking)

    def _held_by_others(self, st: _ArmState) -> list[shapely.Geometry]:
        return [o.held if o.held is not None else o.parking for o in self.arms if o is not st]

    def _try_start(self, st: _ArmState, task: Task) -> bool:
        zone = self.zone_of(st, task)
        if self.reserve and any(zone.intersects(z) for z in self._held_by_others(st)):
            return False
        st.held, st.task = zone, task
        self._plan(st, task)
        return True

    def _plan(self, st: _ArmState, task: Task) -> None:
        prm = self.params
        half_tool = prm.tool_len_m / 2
        grip_z = 2 * prm.item_half_m + half_tool + 0.002  # tool centre with the tip on the item top
        up_z = prm.travel_z_m + half_tool

        def at(name, z):
            return np.array([*self.spots[name], z])

        st.path = deque(
            [
                ("wait", prm.perceive_s, "spawn"),
                ("move", at(task.src, up_z), prm.speed_mps),
                ("move", at(task.src, grip_z), prm.vertical_speed_mps),
                ("wait", prm.grasp_s, "grasp"),
                ("move", at(task.src, up_z), prm.vertical_speed_mps),
                ("move", at(task.dst, up_z), prm.speed_mps),
                ("move", at(task.dst, grip_z + 0.01), prm.vertical_speed_mps),
                ("wait", prm.release_s, "release"),
                ("move", at(task.dst, up_z), prm.vertical_speed_mps),
                ("move", st.home_xyz.copy(), prm.speed_mps),
                ("wait", 0.0, "done"),
            ]
        )
        self._next_segment(st)

    # ------------------------------------------------------------------ stepping

    def _next_segment(self, st: _ArmState) -> None:
        while st.path:
            seg = st.path.popleft()
            if seg[0] == "move":
                st.seg_start = st.arm.ee_pose()[0] if st.seg_goal is None else st.seg_goal
                st.seg_goal, st.seg_speed = np.asarray(seg[1]), seg[2]
                dist = float(np.linalg.norm(st.seg_goal - st.seg_start))
                st.seg_n = max(2, math.ceil(dist / st.seg_speed * SIM_HZ))
                st.seg_k = 0
                return
            _, seconds, tag = seg
            self._event(st, tag)
            if seconds > 0:
                st.wait_left, st.wait_tag = int(round(seconds * SIM_HZ)), tag
                return
        st.seg_goal = None

    def _event(self, st: _ArmState, tag: str) -> None:
        prm, cid = self.params, self.pc.cid
        if tag == "spawn":  # the item the task moves appears in the source tote
            xy = self.spots[st.task.src] + self.rng.uniform(-0.02, 0.02, 2)
            h = prm.item_half_m
            st.item = self.pc.box(
                (h, h, h), (*xy, h + 0.001), mass_kg=prm.item_mass_kg, rgba=(0.9, 0.5, 0.2, 1)
            )
        elif tag == "grasp":
            tip = st.arm.ee_pose()[0] - np.array([0, 0, prm.tool_len_m / 2])
            item_pos = self.pc.position(st.item)
            if np.linalg.norm(tip - (item_pos + [0, 0, prm.item_half_m])) < 0.03:  # cup on the item
                tool = p.getLinkState(st.arm.body, st.arm.ee_link, physicsClientId=cid)
                inv = p.invertTransform(tool[4], tool[5])
                pos, orn = p.getBasePositionAndOrientation(st.item, physicsClientId=cid)
                rel_pos, rel_orn = p.multiplyTransforms(inv[0], inv[1], pos, orn)
                st.suction = p.createConstraint(
                    st.arm.body, st.arm.ee_link, st.item, -1, p.JOINT_FIXED, (0, 0, 0), rel_pos, (0, 0, 0),
                    rel_orn, physicsClientId=cid,
                )  # fmt: skip
                p.changeConstraint(st.suction, maxForce=60.0, physicsClientId=cid)
        elif tag == "release" and st.suction is not None:
            p.removeConstraint(st.suction, physicsClientId=cid)
            st.suction = None
        elif tag == "done":
            # Success: the item rests in the destination tote (physics position, not the plan).
            pos = self.pc.position(st.item)
            ok = np.all(np.abs(pos[:2] - self.spots[st.task.dst]) < prm.tote_half_m) and pos[2] < 0.1
            self.units_done += bool(ok)
            self.units_failed += not ok
            self.pc.remove(st.item)  # the tote is emptied downstream; keeps the table clear
            st.item, st.task, st.held = None, None, None

    def _tick_arm(self, st: _ArmState) -> None:
        if st.wait_left > 0:
            st.wait_left -= 1
            if st.wait_left == 0:
                self._next_segment(st)
            return
        if st.seg_goal is None:
            return
        st.seg_k += 1
        s = min(1.0, st.seg_k / st.seg_n)
        s = s * s * (3 - 2 * s)  # smooth start and stop
        if st.seg_k % 2 == 1 or st.seg_k >= st.seg_n:  # IK at 120 Hz
            st.arm.aim(st.seg_start + s * (st.seg_goal - st.seg_start), st.orn)
        if st.seg_k >= st.seg_n + int(0.15 * SIM_HZ) or (
            st.seg_k >= st.seg_n and np.linalg.norm(st.arm.ee_pose()[0] - st.seg_goal) < 0.01
        ):
            self._next_segment(st)

    def _dispatch(self, st: _ArmState, tasks: list[Task] | None) -> None:
        if st.task is not None:
            return
        if tasks is not None:  # scripted tasks (tests): start the next one only
            if tasks and self._try_start(st, tasks[0]):
                tasks.pop(0)
            elif tasks:
                self.wait_steps += 1
            return
        # Two candidates per arm: the cell controller starts whichever is clear (first preferred).
        while len(st.rng_pending) < 2:
            st.rng_pending.append(self.random_task(st.index))
        for i, task in enumerate(st.rng_pending):
            if self._try_start(st, task):
                st.rng_pending.pop(i)
                st.waited_steps = 0
                return
        self.wait_steps += 1
        st.waited_steps += 1
        if st.waited_steps >= SIM_HZ:  # blocked for 1 s: hand the oldest candidate back, draw another
            st.rng_pending.pop(0)
            st.waited_steps = 0

    def step(self, scripted: dict[int, list[Task]] | None = None) -> None:
        """One 1/240 s physics step: dispatch, advance every arm, count arm-arm contact."""
        for st in self.arms:
            self._dispatch(st, None if scripted is None else scripted.get(st.index, []))
        for st in self.arms:
            self._tick_arm(st)
        self.pc.step()
        if self.contact_points() > 0:
            self.arm_contact_steps += 1
        held = [o.held if o.held is not None else o.parking for o in self.arms]
        for i in range(len(held)):
            for j in range(i + 1, len(held)):
                self.max_zone_overlap_m2 = max(self.max_zone_overlap_m2, held[i].intersection(held[j]).area)

    def contact_points(self) -> int:
        """Arm-arm contact points now (every pair, from `p.getContactPoints`)."""
        n = 0
        for i in range(len(self.arms)):
            for j in range(i + 1, len(self.arms)):
                a, b = self.arms[i].arm.body, self.arms[j].arm.body
                n += len(p.getContactPoints(bodyA=a, bodyB=b, physicsClientId=self.pc.cid))
        return n

    def busy_arms(self) -> int:
        return sum(st.task is not None for st in self.arms)

    def run(self, seconds: float, scripted: dict[int, list[Task]] | None = None) -> dict:
        """Step ``seconds`` of simulated time; returns units, failures, contact steps and units/h."""
        t0, done0, fail0 = self.pc.steps, self.units_done, self.units_failed
        for _ in range(int(seconds * SIM_HZ)):
            self.step(scripted)
        sim_s = (self.pc.steps - t0) / SIM_HZ
        units = self.units_done - done0
        return {
            "sim_s": sim_s,
            "units": units,
            "failed": self.units_failed - fail0,
            "units_per_h": 3600.0 * (units + self.units_failed - fail0) / sim_s,
            "arm_contact_steps": self.arm_contact_steps,
        }

    def run_units(self, n_units: int, max_s: float = 600.0) -> tuple[float, int, int]:
        """Step until at least ``n_units`` more tasks end; (simulated s, successes, failures).

        Several arms can finish in the same step, so successes + failures may exceed ``n_units``:
        every one is reported (this used to return only the successes and callers read "1" as the
        one unit: a step where two arms finished counted one unit, and as a failure).
        """
        t0, done0, fail0 = self.pc.steps, self.units_done, self.units_failed
        while (self.units_done + self.units_failed) - (done0 + fail0) < n_units:
            if (self.pc.steps - t0) / SIM_HZ > max_s:
                break
            self.step()
        return (self.pc.steps - t0) / SIM_HZ, self.units_done - done0, self.units_failed - fail0

    def close(self) -> None:
        self.pc.close()
