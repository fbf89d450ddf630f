"""Vulcan's cell in PyBullet: a KUKA iiwa with a paddle tool in front of a fabric pod face.

Cell frame (metres, z up): the arm base stands on a pedestal at the origin; the pod face is the plane
``x = face_x_m`` with bins extending into +x (``depth_m``). A bin's ``u`` (across) maps to +y, its
``v`` (into the bin) to +x, rows stack upwards from ``face_bottom_z_m``.

Each bin's opening is closed by an elastic band, modelled as a flap hinged at the top of the opening
on a revolute joint driven by a spring torque ``-k theta - c theta_dot`` (a compliant barrier the tool
and item push past; it then rests on the item). The tool is rigid on the flange through a fixed joint
carrying a force-torque sensor (`enableJointForceTorqueSensor`): the wrist wrench it reads, less the
static baseline, detects jams and limits the paddle's push. Suction is a compliant cup: a constraint
between tool tip and item that pulls with at most the cup's limit, so the item lags the tool when more
is asked; the seal breaks (the constraint is removed) when the lag, read as spring load, exceeds it.

Durations are simulated seconds: physics time of the motions plus the non-motion parts drawn from
the distributions named in `VulcanCellParams`: induction (scan and measure; polybag film defeats
barcode reads, so bags are rescanned), perception (image the pod face and segment the items in the
bins the arm may use: time grows with how full the face is) and grasp or slot planning, and a
verification image after the move. Their parameters are assumptions; see docs/stations.md.

Item packaging (`fctwin.robots.data.item_mix.KINDS`) matters: the arm refuses items that are too big
for every bin, too heavy for the cup, fragile, or bags too floppy for the paddle (`VulcanCell.refusal`).
A polybag is two box segments joined at the seam by a bending spring (a compliant hinge): its leading
half sags under its own weight and can catch the bin lip or the band; its film is slippery and
seals worse under the cup. Pods hold items stacked on one another (``stack`` in `place_for_pick`): an
item lying on top of the one picked can ride out with it (a multi-pick) or fall out of the bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from fctwin.robots.bins import CLEARANCE_M, Bin, PodFace, StowPlan, direct_slot, make_pod_face, plan_stow
from fctwin.robots.physics.engine import (
    SIM_HZ,
    Arm,
    PhysicsClient,
    kuka_with_tool_urdf,
    move_linear,
    tool_forward_orn,
    wait,
)
from fctwin.robots.vulcan_params import VulcanCellParams, refusal_reason

__all__ = ["PickResult", "StowResult", "VulcanCell", "VulcanCellParams"]

GRAVITY_MPS2 = 9.81
CARRY_CLEAR_M = 0.03  # a held item stays this far in front of the pod face while the arm crosses it


@dataclass
class StowResult:
    """Outcome of one stow: success, or ``to_person`` when the arm gave the item up."""

    success: bool
    to_person: bool
    duration_s: float
    attempts: int = 0
    jams: int = 0
    bin_id: int = -1
    reason: str = ""
    peak_force_n: float = 0.0
    pushed: bool = False


@dataclass
class PickResult:
    success: bool
    duration_s: float
    broke: bool = False
    peak_force_n: float = 0.0
    reason: str = ""
    dragged: int = 0  # other items that left the bin with it (a multi-pick)
    regrasps: int = 0  # grasps again after the item dropped back into its bin
    reseats: int = 0  # cup set down again after a weak seal was read before the pull
    first_grasp_ok: bool = False  # the first grasp held the item out to the carry pose
    break_phase: str = ""  # where along the pull the last grasp's seal broke (lift, slide, carry, hold)
    # The wrist F/T sensor weighs what the tool holds at the carry pose (`VulcanCell.weigh_kg`): nan
    # when nothing is held. ``weight_flag``: the reading exceeds the item's catalogue mass by more than
    # the check's tolerance (a second item on the tool). Where each dragged item ended: "on the tool"
    # (riding on the picked item), "hanging from the bin" (partly out), "out of the pod" (fell).
    held_kg: float = float("nan")
    weight_flag: bool = False
    dragged_where: tuple = ()


@dataclass
class _Item:
    body: int  # the body the cup holds (a bag's front segment)
    size_m: tuple[float, float, float]  # (w across, d deep, h high)
    mass_kg: float
    bin_id: int = -1
    kind: str = "box"
    bodies: tuple = ()  # every body of the item (a bag: front and back segment)
    seal_n: float = 45.0  # the force the cup's seal on this item holds


@dataclass
class _Bin3D:
    y0_m: float  # y of u = 0
    z_floor_m: float
    band: int = -1  # body id of the band flap
    band_len_m: float = 0.0


class VulcanCell:
    """The cell: build once, then `load_pod` (random fill), `stow` and `pick` items.

    ``rows_for_people``: the lowest rows people work; the arm prefers the rows above them.
    """

    def __init__(
        self,
        *,
        params: VulcanCellParams | None = None,
        client_id: int | None = None,
        origin_world=(0.0, 0.0, 0.0),
        rows_for_people: int = 0,
        seed: int | None = 0,
    ):
        self.params = prm = params or VulcanCellParams()
        self.rows_for_people = rows_for_people
        self.rng = np.random.default_rng(seed)  # non-motion times, seals (physics draws nothing)
        self.pc = PhysicsClient(client_id=client_id, origin_world=origin_world)
        self.orn = tool_forward_orn()
        urdf = kuka_with_tool_urdf(
            tool_len_m=prm.tool_len_m, tool_w_m=prm.tool_w_m, tool_h_m=prm.tool_h_m, slide_m=prm.rail_m
        )
        rail_half = (0.15 + prm.rail_m / 2, 0.15, prm.pedestal_h_m / 2)
        self.pc.box(rail_half, (-0.25 + prm.rail_m / 2, 0, prm.pedestal_h_m / 2), rgba=(0.3, 0.3, 0.35, 1))
        self.arm = Arm(self.pc, urdf, (-0.25, 0, prm.pedestal_h_m + 0.002))
        self.tool_joint = self.arm.ee_link  # the fixed joint into the tool link carries the sensor
        p.enableJointForceTorqueSensor(self.arm.body, self.tool_joint, True, physicsClientId=self.pc.cid)
        self.home_xyz = np.array([0.50, 0.0, prm.pedestal_h_m + 0.45])
        self.arm.reset_to(self.home_xyz, self.orn)
        move_linear(self.pc, self.arm, self.home_xyz, self.orn, speed_mps=1.0, tol_m=0.02)
        self.face: PodFace = make_pod_face(prm.rows, face_width_m=prm.face_width_m, depth_m=prm.depth_m)
        self.bins3d: list[_Bin3D] = []
        self._build_pod()
        self.items: dict[int, _Item] = {}
        self._next_item = 0
        self._suction: int | None = None
        self._suction_item: int | None = None
        self._f_filt = np.zeros(3)
        # The sensor's tare: what it reads at rest holding nothing (the tool's own weight). The tool
        # keeps one orientation (`tool_forward_orn`), so this is the reading any held mass adds to.
        self._tare_n = self.wrist_force_n()
        self._hold_wrist: list[np.ndarray] = []
        self.last_stacked = False  # `place_for_pick` laid an item on top of the last item it placed
        self._held_open: set[int] = set()
        self.break_phase = ""  # where the last pull lost its seal
        self.pc.steps = 0
        self._taken_step: int | None = None  # step at which the arm last took an item off the induction
        self._taken_extra_s = 0.0  # non-motion time spent since then (verification image)

    # ------------------------------------------------------------------ building

    def _build_pod(self) -> None:
        prm, pc = self.params, self.pc
        t, w, d = prm.wall_t_m, prm.face_width_m, prm.depth_m
        fabric = (0.25, 0.35, 0.55, 1.0)
        z = prm.face_bottom_z_m
        x_mid = prm.face_x_m + d / 2
        for n, h in prm.rows:
            pc.box((d / 2, w / 2 + t, t / 2), (x_mid, 0, z - t / 2), rgba=fabric)  # bin floors
            bw = w / n
            for c in range(n + 1):  # dividers and side walls
                pc.box((d / 2, t / 2, h / 2), (x_mid, -w / 2 + c * bw, z + h / 2), rgba=fabric)
            for c in range(n):
                self.bins3d.append(_Bin3D(y0_m=-w / 2 + c * bw + t / 2, z_floor_m=z))
            z += h + t
        pc.box((d / 2, w / 2 + t, t / 2), (x_mid, 0, z - t / 2), rgba=fabric)  # top
        pc.box(
            (t / 2, w / 2 + t, (z - prm.face_bottom_z_m) / 2),
            (prm.face_x_m + d + t / 2, 0, (z + prm.face_bottom_z_m) / 2),
            rgba=fabric,
        )
        for b, b3 in zip(self.face.bins, self.bins3d, strict=True):
            b.width_m -= prm.wall_t_m  # usable width between dividers
            b3.band, b3.band_len_m = self._band(b, b3)

    def _band(self, b: Bin, b3: _Bin3D) -> tuple[int, float]:
        """A flap hinged about +y at the top of the opening, hanging to ``band_clear_m`` above the floor."""
        prm, cid = self.params, self.pc.cid
        length = b.height_m - prm.band_clear_m
        half = (0.003, b.width_m / 2 - 0.004, length / 2)
        # The flap hangs below its hinge: shapes offset half a length down from the joint frame.
        below = (0, 0, -length / 2)
        col = p.createCollisionShape(
            p.GEOM_BOX, halfExtents=half, collisionFramePosition=below, physicsClientId=cid
        )
        vis = p.createVisualShape(
            p.GEOM_BOX,
            halfExtents=half,
            visualFramePosition=below,
            rgbaColor=(0.9, 0.9, 0.2, 0.8),
            physicsClientId=cid,
        )
        hinge = self.pc.world(
            (prm.face_x_m - 0.006, b3.y0_m + b.width_m / 2, b3.z_floor_m + b.height_m - 0.004)
        )
        body = p.createMultiBody(
            baseMass=0,
            basePosition=hinge,
            linkMasses=[0.05],
            linkCollisionShapeIndices=[col],
            linkVisualShapeIndices=[vis],
            linkPositions=[(0, 0, 0)],
            linkOrientations=[(0, 0, 0, 1)],
            linkInertialFramePositions=[(0, 0, -length / 2)],
            linkInertialFrameOrientations=[(0, 0, 0, 1)],
            linkParentIndices=[0],
            linkJointTypes=[p.JOINT_REVOLUTE],
            linkJointAxis=[(0, 1, 0)],
            physicsClientId=cid,
        )
        p.changeDynamics(
            body,
            0,
            jointLowerLimit=-1.4,
            jointUpperLimit=1.4,
            lateralFriction=prm.band_friction,
            physicsClientId=cid,
        )
        p.setJointMotorControl2(body, 0, p.VELOCITY_CONTROL, force=0, physicsClientId=cid)
        self.pc.bodies.append(body)
        return body, length

    # ------------------------------------------------------------------ pod contents

    def clear_pod(self) -> None:
        for item_id in list(self.items):
            self._remove_item(item_id)
        for b in self.face.bins:
            b.items.clear()
            b.item_heights_m.clear()

    def load_pod(
        self, rng: np.random.Generator, *, fill_frac: float = 0.5, size_max_m=(0.14, 0.12, 0.14)
    ) -> None:
        """Replace the pod by one whose bins are filled to about ``fill_frac`` of their width, scattered."""
        self.clear_pod()
        for b in self.face.bins:
            target = fill_frac * b.width_m * rng.uniform(0.4, 1.4)
            used = 0.0
            for _ in range(6):
                w = float(rng.uniform(0.03, size_max_m[0]))
                if used + w + 2 * CLEARANCE_M > min(target, b.width_m):
                    break
                d = float(rng.uniform(0.05, min(size_max_m[1], b.depth_m - 0.01)))
                h = float(rng.uniform(0.04, min(size_max_m[2], b.height_m * 0.8)))
                gaps = [u for u in np.arange(CLEARANCE_M, b.width_m - w - CLEARANCE_M, 0.01)]
                rng.shuffle(gaps)
                for u in gaps:
                    if direct_slot_at(b, float(u), w, d):
                        self._place(b, float(u), (w, d, h), float(rng.uniform(0.1, 1.5)))
                        used += w
                        break
        self.pc.step(int(0.2 * SIM_HZ))  # let the items settle
        self.pc.steps = 0
        self._taken_step = None  # a new pod: no scan of the next item is counted as done (conservative)

    def _place(self, b: Bin, u_m: float, size_m, mass_kg: float, kind: str = "box") -> int:
        w, d, h = size_m
        b3 = self.bins3d[b.bin_id]
        centre = (
            self.params.face_x_m + b.depth_m - d / 2 - 0.002,
            b3.y0_m + u_m + w / 2,
            b3.z_floor_m + h / 2 + 0.001,
        )
        item_id = self._new_item(size_m, centre, mass_kg, kind, (0.8, 0.6, 0.4, 1), b.bin_id)
        b.add(item_id, u_m, w, d, h)
        return item_id

    def _new_item(self, size_m, centre, mass_kg: float, kind: str, rgba, bin_id: int = -1) -> int:
        """Build an item's bodies at cell-frame ``centre`` and register it: one box, or a polybag.

        A bag is two segments (front and back half of its depth) joined at the seam by a ball joint;
        `_bend_bags` adds the seam's bending spring while the arm works near it. The segments do not
        collide with each other (the bag folds through itself instead of jittering).
        """
        w, d, h = (float(x) for x in size_m)
        prm, cid = self.params, self.pc.cid
        if kind == "bag":
            c = np.asarray(centre, dtype=np.float64)
            half = (d / 4, w / 2, h / 2)
            fr = prm.bag_friction
            front = self.pc.box(
                half, c - (d / 4, 0, 0), mass_kg=mass_kg / 2, rgba=(0.75, 0.8, 0.9, 1), friction=fr
            )
            back = self.pc.box(
                half, c + (d / 4, 0, 0), mass_kg=mass_kg / 2, rgba=(0.75, 0.8, 0.9, 1), friction=fr
            )
            p.createConstraint(
                front,
                -1,
                back,
                -1,
                p.JOINT_POINT2POINT,
                (0, 0, 0),
                (d / 4, 0, 0),
                (-d / 4, 0, 0),
                physicsClientId=cid,
            )
            p.setCollisionFilterPair(front, back, -1, -1, 0, physicsClientId=cid)
            body, bodies = front, (front, back)
            seal = float(self.rng.uniform(*prm.bag_seal_n))  # film wrinkles where the cup lands
        else:
            body = self.pc.box(
                (d / 2, w / 2, h / 2), centre, mass_kg=mass_kg, rgba=rgba, friction=prm.item_friction
            )
            bodies, seal = (body,), prm.suction_limit_n
        item_id = self._next_item
        self._next_item += 1
        self.items[item_id] = _Item(body, (w, d, h), mass_kg, bin_id, kind, bodies, seal)
        return item_id

    def _remove_item(self, item_id: int) -> None:
        for body in self.items.pop(item_id).bodies:  # removing a body removes its constraints
            self.pc.remove(body)

    def item_aabb(self, item_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell-frame AABB of every body of an item."""
        boxes = [self.pc.aabb(body) for body in self.items[item_id].bodies]
        return np.min([lo for lo, _ in boxes], axis=0), np.max([hi for _, hi in boxes], axis=0)

    def place_for_pick(self, size_m, mass_kg: float, kind: str = "box", *, stack: bool = False) -> int | None:
        """Put an item of ``size_m`` (w, d, h) into a bin with room (top rows first); its id, or None.

        ``stack``: a polybag is laid on top of it, as items lie in a real pod (when the bin is tall
        enough), so that picking it can drag the bag out too.
        """
        w, d, h = size_m
        plan = plan_stow(self.face, w, d, h, rows_for_people=self.rows_for_people)
        if plan is None or plan.push:
            return None
        b = self.face.bin(plan.bin_id)
        item_id = self._place(b, plan.u_m, (w, d, h), mass_kg, kind)
        top_h = 0.025
        self.last_stacked = False
        if stack and h + top_h < b.height_m - self.params.band_clear_m - 0.01:
            b3 = self.bins3d[b.bin_id]
            top_d = min(b.depth_m - 0.01, d * 1.1)
            top_w = min(w, 0.9 * (b.width_m - plan.u_m))
            centre = (
                self.params.face_x_m + b.depth_m - top_d / 2 - 0.002,
                b3.y0_m + plan.u_m + w / 2,
                b3.z_floor_m + h + top_h / 2 + 0.003,
            )
            top = self._new_item(
                (top_w, top_d, top_h), centre, float(self.rng.uniform(0.1, 0.4)), "bag", None, b.bin_id
            )
            b.item_heights_m[top] = h + top_h  # lies on the item: no footprint of its own
            self.last_stacked = True
        self.pc.step(int(0.1 * SIM_HZ))
        return item_id

    def add_obstacle(self, bin_id: int, u_m: float, width_m: float) -> int:
        """An object the occupancy map does not know about (a misread bin), fixed to the back wall."""
        b, b3 = self.face.bin(bin_id), self.bins3d[bin_id]
        prm = self.params
        half = (0.06, width_m / 2, b.height_m * 0.35)
        centre = (
            prm.face_x_m + b.depth_m - 0.06 - 0.001,
            b3.y0_m + u_m + width_m / 2,
            b3.z_floor_m + half[2] + 0.001,
        )
        return self.pc.box(half, centre, rgba=(0.8, 0.1, 0.1, 1))

    def sync_bin(self, bin_id: int) -> None:
        """Re-read the footprints of a bin's items from physics (after a push, or to verify)."""
        b, b3 = self.face.bin(bin_id), self.bins3d[bin_id]
        for item_id in list(b.items):
            lo, hi = self.item_aabb(item_id)
            u0, u1 = lo[1] - b3.y0_m, hi[1] - b3.y0_m
            v0, v1 = lo[0] - self.params.face_x_m, hi[0] - self.params.face_x_m
            from shapely.geometry import box as _box

            b.items[item_id] = _box(max(0.0, u0), max(0.0, v0), min(b.width_m, u1), min(b.depth_m, v1))

    def item_inside_bin(self, item_id: int, bin_id: int, tol_m: float = 0.004) -> bool:
        """Physics check: the item's AABB lies within the bin's volume (walls, floor, back, opening)."""
        lo, hi = self.item_aabb(item_id)
        blo, bhi = self.bin_aabb(bin_id)
        return bool(np.all(lo >= blo - tol_m) and np.all(hi <= bhi + tol_m))

    def bin_aabb(self, bin_id: int) -> tuple[np.ndarray, np.ndarray]:
        b, b3 = self.face.bin(bin_id), self.bins3d[bin_id]
        x0 = self.params.face_x_m
        lo = np.array([x0, b3.y0_m, b3.z_floor_m])
        hi = np.array([x0 + b.depth_m, b3.y0_m + b.width_m, b3.z_floor_m + b.height_m])
        return lo, hi

    # ------------------------------------------------------------------ sensing

    def wrist_force_n(self) -> np.ndarray:
        """Force (N, sensor frame) the tool joint's force-torque sensor reads (raw, one step)."""
        return np.asarray(p.getJointState(self.arm.body, self.tool_joint, physicsClientId=self.pc.cid)[2][:3])

    def filtered_force_n(self) -> np.ndarray:
        """The wrist force low-passed with time constant ``force_filter_s`` (call once per step).

        The raw reading carries solver and inertial noise of tens of newtons while the arm
        accelerates; a real F/T pipeline filters the same way before thresholding.
        """
        alpha = min(1.0, 1.0 / (SIM_HZ * self.params.force_filter_s))
        self._f_filt = self._f_filt + alpha * (self.wrist_force_n() - self._f_filt)
        return self._f_filt

    def _springs(self, bin_ids) -> None:
        self._bend_bags(bin_ids)
        for bin_id in bin_ids:
            if bin_id in self._held_open:
                continue
            band = self.bins3d[bin_id].band
            theta, omega = p.getJointState(band, 0, physicsClientId=self.pc.cid)[:2]
            tau = (
                -self.params.band_stiffness_nm_per_rad * theta - self.params.band_damping_nms_per_rad * omega
            )
            p.setJointMotorControl2(band, 0, p.TORQUE_CONTROL, force=tau, physicsClientId=self.pc.cid)

    def _bend_bags(self, bin_ids) -> None:
        """The seam's bending spring on the bags in ``bin_ids`` and on the bag on the cup (per step).

        Torque ``-k angle`` about the axis of the segments' relative rotation, ``k`` =
        ``bag_bend_nm_per_rad`` x the bag's mass, plus damping. The leading half then sags by
        ``(m/2) g (d/4) / k = g d / (8 k / m)``: about 0.08 rad for a 10 cm bag, 0.16 rad for 20 cm.
        """
        cid = self.pc.cid
        held = self._suction_item
        for item_id, item in self.items.items():
            if item.kind != "bag" or (item.bin_id not in bin_ids and item_id != held):
                continue
            a, b = item.bodies
            _, qa = p.getBasePositionAndOrientation(a, physicsClientId=cid)
            _, qb = p.getBasePositionAndOrientation(b, physicsClientId=cid)
            _, qa_inv = p.invertTransform((0, 0, 0), qa)
            _, q_rel = p.multiplyTransforms((0, 0, 0), qa_inv, (0, 0, 0), qb)
            axis, angle = p.getAxisAngleFromQuaternion(q_rel)
            if angle > np.pi:
                angle -= 2 * np.pi
            axis_w = np.asarray(p.getMatrixFromQuaternion(qa)).reshape(3, 3) @ np.asarray(axis)
            w_rel = np.subtract(
                p.getBaseVelocity(b, physicsClientId=cid)[1], p.getBaseVelocity(a, physicsClientId=cid)[1]
            )
            k = self.params.bag_bend_nm_per_rad * max(item.mass_kg, 0.05)
            tau = -k * angle * axis_w - 0.05 * k * w_rel
            p.applyExternalTorque(b, -1, tau.tolist(), p.WORLD_FRAME, physicsClientId=cid)
            p.applyExternalTorque(a, -1, (-tau).tolist(), p.WORLD_FRAME, physicsClientId=cid)

    def _suction_force_n(self) -> float:
        if self._suction is None:
            return 0.0
        return float(np.linalg.norm(p.getConstraintState(self._suction, physicsClientId=self.pc.cid)[:3]))

    def _hold_load_n(self, item: _Item, v_prev: list) -> float:
        """Load on the cup (N): its spring rate times how far the item lags where the cup holds it.

        A rigid weld turned the arm's tracking error into tens of newtons of contact force between a
        100 g item and the bin floor (and the old estimate, ``m (a - g)`` plus contact normals, read
        them as cup load: half of all picks "broke"). The spring cup lets the item comply instead,
        and only a sustained pull (friction, a wedged item, weight) stretches it.
        """
        cid = self.pc.cid
        tool = p.getLinkState(self.arm.body, self.arm.ee_link, physicsClientId=cid)
        want, _ = p.multiplyTransforms(tool[4], tool[5], *self._suction_rel)
        have = p.getBasePositionAndOrientation(item.body, physicsClientId=cid)[0]
        stretch = float(np.linalg.norm(np.subtract(have, want)))
        return stretch * self.params.suction_limit_n / self.params.break_stretch_m

    def seal_n(self, item_id: int) -> float:
        """What the cup's seal on this item holds (N): 45 N on a carton, less on wrinkled film."""
        return min(self.items[item_id].seal_n, self.params.suction_limit_n)

    def _attach(self, item_id: int, tip_offset_m) -> None:
        """Suction on: fix the item to the tool tip (item pose relative to the tool as it is now)."""
        cid = self.pc.cid
        tool = p.getLinkState(self.arm.body, self.arm.ee_link, physicsClientId=cid)
        item_pos, item_orn = p.getBasePositionAndOrientation(self.items[item_id].body, physicsClientId=cid)
        inv_pos, inv_orn = p.invertTransform(tool[4], tool[5])
        rel_pos, rel_orn = p.multiplyTransforms(inv_pos, inv_orn, item_pos, item_orn)
        self._suction_rel = (rel_pos, rel_orn)
        self._suction = p.createConstraint(
            self.arm.body,
            self.arm.ee_link,
            self.items[item_id].body,
            -1,
            p.JOINT_FIXED,
            (0, 0, 0),
            rel_pos,
            (0, 0, 0),
            rel_orn,
            physicsClientId=cid,
        )
        p.changeConstraint(self._suction, maxForce=self.seal_n(item_id), erp=0.2, physicsClientId=cid)
        # The cup is compliant: tool and held item must not also fight through a rigid contact.
        p.setCollisionFilterPair(
            self.arm.body, self.items[item_id].body, self.arm.ee_link, -1, 0, physicsClientId=cid
        )
        self._suction_item = item_id

    def _release(self) -> None:
        if self._suction is not None:
            p.removeConstraint(self._suction, physicsClientId=self.pc.cid)
            body = self.items[self._suction_item].body
            p.setCollisionFilterPair(
                self.arm.body, body, self.arm.ee_link, -1, 1, physicsClientId=self.pc.cid
            )
        self._suction = None
        self._suction_item = None

    # ------------------------------------------------------------------ stow

    def tip_xyz(self, bin_id: int, u_centre_m: float, v_m: float, z_above_floor_m: float) -> np.ndarray:
        """Tool tip target for a point of a bin (u across, v into the bin, height above the floor)."""
        b3 = self.bins3d[bin_id]
        return np.array([self.params.face_x_m + v_m, b3.y0_m + u_centre_m, b3.z_floor_m + z_above_floor_m])

    def _tool_centre(self, tip_xyz) -> np.ndarray:
        # The controlled link's origin is the tool's centre; its tip is half a length further along +x.
        return np.asarray(tip_xyz) - np.array([self.params.tool_len_m / 2, 0.0, 0.0])

    # ------------------------------------------------------------------ non-motion times

    def _lognormal_s(self, median_s: float, log_sd: float) -> float:
        return float(median_s * np.exp(log_sd * self.rng.standard_normal()))

    def induct_s(self, kind: str = "box") -> float:
        """Scan, identify and measure the item, feed it onto the tool; film defeats barcode reads."""
        prm = self.params
        t = self._lognormal_s(prm.induct_median_s, prm.induct_log_sd)
        if kind == "bag":
            for _ in range(3):  # at most three rescans, then the item is read by hand at the person
                if self.rng.random() >= prm.rescan_p:
                    break
                t += prm.rescan_s
        return t

    def perceive_s(self) -> float:
        """Image the face and segment the items in the bins the arm may use, then plan (~100 ms)."""
        prm = self.params
        visible = sum(len(b.item_heights_m) for b in self.face.bins if b.row >= self.rows_for_people)
        median = prm.image_s + prm.segment_per_item_s * visible
        return self._lognormal_s(median, prm.perceive_log_sd) + prm.plan_s

    def refusal(self, size_m, mass_kg: float, kind: str = "box") -> str:
        """Why the arm will not take this item ("" when it will): decided at induction from the catalogue
        (`fctwin.robots.vulcan_params.refusal_reason`, shared with the fast model)."""
        return refusal_reason(size_m, mass_kg, kind, self.params)

    # ------------------------------------------------------------------ stow

    def stow(self, size_m, mass_kg: float, *, friction: float | None = None, kind: str = "box") -> StowResult:
        """Stow one item of ``size_m`` = (w across, d deep, h high) m, ``mass_kg`` and packaging ``kind``.

        Refuse it at induction if the arm cannot handle it (`refusal`). Otherwise image the face and
        plan a bin (shapely occupancy, top rows first), push items aside if the bin is fragmented,
        insert past the band, watch the wrist force for a jam; verify with an image. On a failure
        re-image and retry once in another bin, then hand the item to a person. Success means the
        item ends inside the bin (AABB check).
        """
        prm = self.params
        w, d, h = (float(x) for x in size_m)
        start = self.pc.steps
        # The induction station scans the next item while the arm is still busy with the one it took
        # last (a conveyor-fed tool: scanning and arm motion are separate machines). The arm waits
        # only for the part of the scan not already done; right after a pod change nothing is done.
        fixed_s = max(0.0, self.induct_s(kind) - self._induct_lead_s())
        self._taken_step = None
        res = StowResult(success=False, to_person=True, duration_s=0.0)
        refused = self.refusal((w, d, h), mass_kg, kind)
        if refused:
            res.reason = f"refused: {refused}"
            res.duration_s = fixed_s
            self._taken_step, self._taken_extra_s = self.pc.steps, 0.0  # the next scan starts now
            return res
        tried: set[int] = set()
        for _attempt in range(2):  # first try plus one retry in another spot
            plan = plan_stow(
                self.face, w, d, h, rows_for_people=self.rows_for_people, exclude=frozenset(tried)
            )
            if plan is None:
                res.reason = res.reason or "no bin with room"
                break
            res.attempts += 1
            tried.add(plan.bin_id)
            fixed_s += self.perceive_s() + prm.verify_s
            outcome, peak, pushed = self._try_stow(
                plan, (w, d, h), mass_kg, friction or prm.item_friction, kind
            )
            res.peak_force_n = max(res.peak_force_n, peak)
            res.pushed = res.pushed or pushed
            res.bin_id = plan.bin_id
            if outcome == "ok":
                res.success, res.to_person, res.reason = True, False, ""
                break
            if outcome == "jam":
                res.jams += 1
            res.reason = outcome
        if res.attempts == 0:
            fixed_s += self.perceive_s()  # imaged the face and found no bin with room
        if self._taken_step is None:  # never took the item (no bin with room): the next scan starts now
            self._taken_step, self._taken_extra_s = self.pc.steps, 0.0
        else:  # the verification image after the last move also lies after the item left the induction
            self._taken_extra_s = prm.verify_s
        res.duration_s = (self.pc.steps - start) / SIM_HZ + fixed_s
        return res

    def _induct_lead_s(self) -> float:
        """Time the induction station has had for the next item: since the arm took the last one."""
        if self._taken_step is None:
            return 0.0
        return (self.pc.steps - self._taken_step) / SIM_HZ + self._taken_extra_s

    def _try_stow(
        self, plan: StowPlan, size_m, mass_kg: float, friction: float, kind: str = "box"
    ) -> tuple[str, float, bool]:
        prm = self.params
        w, d, h = size_m
        b = self.face.bin(plan.bin_id)
        bins = [plan.bin_id]
        tick = lambda: self._springs(bins)  # noqa: E731
        pushed = False
        u = plan.u_m
        if plan.push:
            pushed = True
            self._sweep(plan.bin_id)
            u = direct_slot(b, w, d)
            if u is None:
                self._go_home(bins)
                return "no room after push", 0.0, pushed
        # Fetch the item at the induction point beside the pod (a real round trip per item), held at
        # the tip by suction, then carry it home. Home is pulled back for deep items: at the plain
        # home pose a deep item reached into the pod face.
        move_linear(
            self.pc,
            self.arm,
            self.home_xyz + np.asarray(prm.induct_offset_m),
            self.orn,
            speed_mps=prm.free_speed_mps,
            on_tick=tick,
            tol_m=0.02,
        )
        tool_pos = self.arm.ee_pose()[0]
        tip = tool_pos + np.array([prm.tool_len_m / 2, 0, 0])
        # Carry the item 12 mm above the bin floor (arm sag under load is a few mm); release drops it.
        lift = max(0.0, prm.tool_h_m / 2 + 0.004 - (h / 2 + 0.012))  # tool centre above item centre
        item_centre = tip + np.array([d / 2 + 0.001, 0.0, -lift])
        item_id = self._new_item((w, d, h), item_centre, mass_kg, kind, (0.2, 0.7, 0.3, 1))
        if kind != "bag" and friction != prm.item_friction:
            p.changeDynamics(
                self.items[item_id].body, -1, lateralFriction=friction, physicsClientId=self.pc.cid
            )
        self._attach(item_id, None)
        wait(self.pc, prm.transfer_s, on_tick=tick)
        self._taken_step = self.pc.steps  # the induction point is free: the next item's scan may start
        self._go_home(bins, depth_m=d)
        # Approach in front of the slot, then insert past the band to the back wall.
        z_tip = h / 2 + 0.012 + lift
        u_c = u + w / 2
        front = self.tip_xyz(plan.bin_id, u_c, -d - 0.05, z_tip)
        back = self.tip_xyz(plan.bin_id, u_c, b.depth_m - d - 0.004, z_tip)
        move_linear(
            self.pc, self.arm, self._tool_centre(front), self.orn, speed_mps=prm.free_speed_mps, on_tick=tick
        )
        self._f_filt = self.wrist_force_n()
        wait(self.pc, 0.15, on_tick=lambda: self._springs(bins) or self.filtered_force_n() is None)
        base = self._f_filt.copy()
        peak = [0.0]

        def watch() -> str:
            self._springs(bins)
            f = float(np.linalg.norm(self.filtered_force_n() - base))
            peak[0] = max(peak[0], f)
            if f > prm.jam_force_n:
                return "jam"
            return ""

        outcome = move_linear(
            self.pc,
            self.arm,
            self._tool_centre(back),
            self.orn,
            speed_mps=prm.insert_speed_mps,
            on_tick=watch,
            settle_s=0.5,
        )
        # A timeout is the arm settling short of the back wall (at the edge of its reach in the top
        # rows, ~2 cm short) without a force rise: not a jam. It used to be counted as one, and the
        # item, already wholly inside the bin, was pulled out again. Let go and let physics decide.
        if outcome == "ok" or (outcome == "timeout" and peak[0] <= prm.jam_force_n):
            self._release()
            wait(self.pc, 0.15, on_tick=tick)
            self._withdraw(plan.bin_id, front, bins)
            wait(self.pc, 0.3, on_tick=tick)
            if self.item_inside_bin(item_id, plan.bin_id):
                self.items[item_id].bin_id = plan.bin_id
                b.add(item_id, u, w, d, h)
                self.sync_bin(plan.bin_id)  # the footprint where physics left it
                return "ok", peak[0], pushed
            outcome = "not in bin"
        else:
            # Jam (or a slip): back out with the item still on the tool.
            self._withdraw(plan.bin_id, front, bins)
            self._release()
        self._remove_item(item_id)
        self._go_home(bins)
        return outcome if outcome != "timeout" else "jam", peak[0], pushed

    def _withdraw(self, bin_id: int, front_tip, bins) -> None:
        tick = lambda: self._springs(bins)  # noqa: E731
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(front_tip),
            self.orn,
            speed_mps=self.params.insert_speed_mps * 1.5,
            on_tick=tick,
            settle_s=0.5,
        )

    def carry_xyz(self, depth_m: float = 0.0, clear_m: float = CARRY_CLEAR_M) -> np.ndarray:
        """Home pose of the tool centre, pulled back so a held item ``depth_m`` deep clears the face.

        The tip sits ``tool_len_m / 2`` in front of the tool centre and the item in front of the tip:
        both must stay ``CARRY_CLEAR_M`` short of the pod face while the arm moves across it.
        """
        prm = self.params
        x_max = prm.face_x_m - clear_m - depth_m - prm.tool_len_m / 2
        return np.array([min(self.home_xyz[0], x_max), self.home_xyz[1], self.home_xyz[2]])

    def _go_home(self, bins, depth_m: float = 0.0) -> None:
        tick = lambda: self._springs(bins)  # noqa: E731
        move_linear(
            self.pc,
            self.arm,
            self.carry_xyz(depth_m),
            self.orn,
            speed_mps=self.params.free_speed_mps,
            on_tick=tick,
            tol_m=0.02,
        )

    def _sweep(self, bin_id: int) -> float:
        """Push the bin's items towards u = 0 with the paddle, stopping at the push force limit."""
        prm = self.params
        b = self.face.bin(bin_id)
        bins = [bin_id]
        edges = sorted((poly.bounds[0], poly.bounds[2]) for poly in b.items.values())
        # Enter in the widest gap, at its right edge (the paddle then sweeps the items left of it).
        u_prev = 0.0
        gaps = []
        for lo, hi in edges:
            gaps.append((lo - u_prev, u_prev, lo))
            u_prev = max(u_prev, hi)
        gaps.append((b.width_m - u_prev, u_prev, b.width_m))
        width, g0, g1 = max(gaps)
        u_enter = g1 - prm.tool_w_m / 2 - 0.004
        z_tip = prm.tool_h_m / 2 + 0.006
        v_in = b.depth_m - 0.06
        front = self.tip_xyz(bin_id, u_enter, -0.04, z_tip)
        inside = self.tip_xyz(bin_id, u_enter, v_in - prm.tool_len_m * 0, z_tip)
        inside[0] = min(inside[0], self.params.face_x_m + b.depth_m - 0.01)
        tick = lambda: self._springs(bins)  # noqa: E731
        move_linear(
            self.pc, self.arm, self._tool_centre(front), self.orn, speed_mps=prm.free_speed_mps, on_tick=tick
        )
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(inside),
            self.orn,
            speed_mps=prm.insert_speed_mps,
            on_tick=tick,
            settle_s=0.3,
        )
        self._f_filt = self.wrist_force_n()
        wait(self.pc, 0.15, on_tick=lambda: self._springs(bins) or self.filtered_force_n() is None)
        base = self._f_filt.copy()
        peak = [0.0]

        def limit() -> str:
            self._springs(bins)
            f = float(np.linalg.norm(self.filtered_force_n() - base))
            peak[0] = max(peak[0], f)
            return "limit" if f > prm.push_force_limit_n else ""

        target = inside.copy()
        target[1] = self.bins3d[bin_id].y0_m + prm.tool_w_m / 2 + 0.003
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(target),
            self.orn,
            speed_mps=prm.sweep_speed_mps,
            on_tick=limit,
            settle_s=0.2,
        )
        # Back off a little sideways before leaving so the paddle does not drag the items out.
        here = self.arm.ee_pose()[0] + np.array([prm.tool_len_m / 2, 0, 0])
        here[1] += 0.01
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(here),
            self.orn,
            speed_mps=prm.sweep_speed_mps,
            on_tick=tick,
            settle_s=0.2,
        )
        out = here.copy()
        out[0] = front[0]
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(out),
            self.orn,
            speed_mps=prm.insert_speed_mps,
            on_tick=tick,
            settle_s=0.3,
        )
        wait(self.pc, 0.2, on_tick=tick)
        self.sync_bin(bin_id)
        return peak[0]

    # ------------------------------------------------------------------ pick

    def seal_needed_n(self, mass_kg: float) -> float:
        """The seal a pull of this item needs (N): a suction cup on a vertical face lifting and pulling
        the item holds it by friction, ``m (g + a) S / mu`` (the vacuum-gripper design rule for this
        load case, safety factor S = 2)."""
        prm = self.params
        return mass_kg * (GRAVITY_MPS2 + prm.pull_accel_mps2) * prm.seal_safety / prm.cup_friction

    def pick(self, item_id: int) -> PickResult:
        """Pick a stowed item by suction on its front face and pull it out to the home pose.

        The suction breaks when the cup's spring load (`_hold_load_n`, filtered) exceeds the seal
        (the item then drops); success means the item is still on the tool, out of every bin, at the
        carry pose (`carry_xyz`). A weak seal read before the pull is re-seated once (`_pull`); a seal
        lost during the pull is read at once by the vacuum sensor, and if the item fell back into its
        bin the arm re-images and grasps it again, once (``regrasps``). Both belong to the same pick
        attempt, whose time they add to.
        """
        prm = self.params
        start = self.pc.steps
        item = self.items[item_id]
        bin_id = item.bin_id
        b = self.face.bin(bin_id)
        bins = [bin_id]
        fixed_s = 0.0
        regrasps = reseats = 0
        peak = 0.0
        first_ok = None
        for attempt in range(1 + prm.pick_regrasps):
            outcome, broke, peak_n, reseated = self._pull(item_id)
            peak, reseats = max(peak, peak_n), reseats + reseated
            held = self._suction is not None and self._suction_item == item_id
            if first_ok is None:
                first_ok = held and not broke
            if held or attempt == prm.pick_regrasps or not self.item_inside_bin(item_id, bin_id, 0.02):
                break
            # Dropped back into its bin: re-image (it lies elsewhere now) and grasp it again.
            self._go_home(bins)
            fixed_s += self.perceive_s()
            regrasps += 1
        broke = [broke]
        held = self._suction is not None and self._suction_item == item_id
        held_kg = self.weigh_kg() if held else float("nan")
        tol_kg = prm.weigh_tol_kg + prm.weigh_tol_frac * item.mass_kg
        weight_flag = bool(held and held_kg - item.mass_kg > tol_kg)
        ilo, ihi = self.item_aabb(item_id)
        clear = ilo[0] > prm.face_x_m or ihi[0] < prm.face_x_m - 0.01
        success = held and not broke[0] and clear and not self.item_inside_bin(item_id, bin_id)
        reason = "" if success else ("dropped" if broke[0] or not held else "not out of the bin")
        self._release()
        # The item leaves the cell (into the order tote) either way; a dropped item goes to a person.
        self._remove_item(item_id)
        b.items.pop(item_id, None)
        b.item_heights_m.pop(item_id, None)
        # Multi-pick: anything else of this bin that left it (dragged out on top of the item, or
        # knocked out) is a defect a person must fix, and the pick does not count as clean.
        dragged = [
            k
            for k, it in self.items.items()
            if it.bin_id == bin_id and not self.item_inside_bin(k, bin_id, 0.02)
        ]
        where = tuple(self._where_dragged(k, ilo, ihi) for k in dragged)
        for k in dragged:
            self._remove_item(k)
            b.items.pop(k, None)
            b.item_heights_m.pop(k, None)
        if dragged and success:
            success, reason = False, "multi-pick"
        if not held:
            self._go_home(bins)
        # Locate the item (image, segment, plan the grasp), then scan it on the tool to verify.
        duration = (self.pc.steps - start) / SIM_HZ + self.perceive_s() + self.induct_s(item.kind) + fixed_s
        if self._taken_step is not None:  # picking is not the stow induction's lead time
            self._taken_step += self.pc.steps - start
        return PickResult(
            success=success,
            duration_s=duration,
            broke=broke[0],
            peak_force_n=peak,
            reason=reason,
            dragged=len(dragged),
            regrasps=regrasps,
            reseats=reseats,
            first_grasp_ok=bool(first_ok),
            break_phase=self.break_phase if broke[0] else "",
            held_kg=held_kg,
            weight_flag=weight_flag,
            dragged_where=where,
        )

    def weigh_kg(self) -> float:
        """The mass the tool holds (kg), weighed by the wrist F/T sensor at the carry pose.

        The mean reading over the pick's final hold (0.3 s, arm still) less the tare, projected on the
        tare's direction (gravity in the sensor frame: the tool's orientation never changes). It reads
        what hangs on the cup, including anything lying on the held item; it does not read an item that
        was dragged out and fell. No physics step and no random draw: weighing changes nothing.
        """
        if not self._hold_wrist:
            return float("nan")
        tare = np.asarray(self._tare_n, dtype=np.float64)
        down = tare / max(float(np.linalg.norm(tare)), 1e-9)
        load = np.mean(self._hold_wrist, axis=0) - tare
        return float(load @ down) / GRAVITY_MPS2

    def _where_dragged(self, item_id: int, held_lo, held_hi) -> str:
        """Where an item that left its bin with a pick is (checked at the carry pose, before release)."""
        lo, hi = self.item_aabb(item_id)
        over = lo[1] < held_hi[1] and hi[1] > held_lo[1] and lo[0] < held_hi[0] and hi[0] > held_lo[0]
        if over and held_hi[2] - 0.01 <= lo[2] <= held_hi[2] + 0.03:
            return "on the tool"
        if hi[0] < self.params.face_x_m:
            return "out of the pod"
        return "hanging from the bin"

    def _pull(self, item_id: int) -> tuple[str, bool, float, bool]:
        """One grasp: approach the item's front face, seal (re-seat once on a weak seal), pull it out
        past the held-open band and carry it to the carry pose. (outcome, broke, peak N, re-seated)."""
        prm = self.params
        item = self.items[item_id]
        bin_id = item.bin_id
        bins = [bin_id]
        lo, hi = self.item_aabb(item_id)
        b3 = self.bins3d[bin_id]
        u_c = (lo[1] + hi[1]) / 2 - b3.y0_m
        h = hi[2] - lo[2]
        lift = max(0.0, prm.tool_h_m / 2 + 0.004 - h / 2)
        z_tip = h / 2 + lift + 0.001
        v_face = lo[0] - prm.face_x_m
        front = self.tip_xyz(bin_id, u_c, -0.05, z_tip + 0.01)
        touch = self.tip_xyz(bin_id, u_c, v_face - 0.002, z_tip)
        tick = lambda: self._springs(bins)  # noqa: E731
        move_linear(
            self.pc, self.arm, self._tool_centre(front), self.orn, speed_mps=prm.free_speed_mps, on_tick=tick
        )
        move_linear(
            self.pc,
            self.arm,
            self._tool_centre(touch),
            self.orn,
            speed_mps=prm.insert_speed_mps,
            on_tick=tick,
            settle_s=0.4,
        )
        # The band lies on the item; pulling the item out would wedge it, so the tool's hook holds the
        # band up and open (as Vulcan's end-of-arm tool does) until the item is out. Negative angles
        # swing the flap into the bin (held at -1.35 rad). A real band is stretched
        # up by the hook; our rigid flap instead sweeps an arc through a tall item's top and pressed
        # it down hard enough to break the cup (picks of items taller than ~0.7 bin heights all
        # failed), so when the arc reaches the item's front-top edge the flap ignores that item.
        # The held-open flap lies under the bin top, reaching 3 cm down over its first 14 cm of depth,
        # where a stretched band lies flat against the top: items taller than ~0.8 bin heights were
        # pinned by its edge as they slid out (checking only the arc missed them). So the held-open
        # flap ignores the item being picked; it still acts on every other item.
        band = self.bins3d[bin_id].band
        self._held_open.add(bin_id)
        for body in item.bodies:
            p.setCollisionFilterPair(band, body, 0, -1, 0, physicsClientId=self.pc.cid)
        p.setJointMotorControl2(
            band, 0, p.POSITION_CONTROL, targetPosition=-1.35, force=5.0, physicsClientId=self.pc.cid
        )
        self._attach(item_id, None)
        wait(self.pc, 0.25, on_tick=tick)  # vacuum builds up, band lifted
        reseated = False
        if item.seal_n < min(self.seal_needed_n(item.mass_kg), prm.suction_limit_n):
            # The vacuum sensor reads a leaky seal (wrinkled film) too weak for this item: lift the
            # cup and set it down again elsewhere on the face (a new seal) before pulling.
            self._release()
            wait(self.pc, prm.reseat_s, on_tick=tick)
            item.seal_n = float(self.rng.uniform(*prm.bag_seal_n))
            self._attach(item_id, None)
            wait(self.pc, 0.25, on_tick=tick)
            reseated = True
        peak = [0.0]
        broke = [False]
        self.break_phase = ""
        self._hold_wrist: list[np.ndarray] = []
        phase = ["lift"]

        f_filt = [item.mass_kg * GRAVITY_MPS2]
        seal_n = self.seal_n(item_id)
        alpha = min(1.0, 1.0 / (SIM_HZ * prm.force_filter_s))
        v_prev: list[np.ndarray] = []

        def hold() -> str:
            self._springs(bins)
            if phase[0] == "hold":  # the wrist F/T sensor weighs what the tool holds (`weigh_kg`)
                self._hold_wrist.append(self.wrist_force_n())
            f_filt[0] += alpha * (self._hold_load_n(item, v_prev) - f_filt[0])
            f = f_filt[0]
            peak[0] = max(peak[0], f)
            if f > seal_n:
                self._release()
                broke[0] = True
                self.break_phase = phase[0]
                return "broke"
            return ""

        # Lift off the bin floor a little, slide out, carry to the home pose.
        up = touch + np.array([-0.003, 0.0, 0.012])
        outcome = move_linear(
            self.pc, self.arm, self._tool_centre(up), self.orn, speed_mps=0.05, on_tick=hold, settle_s=0.3
        )
        out = self.tip_xyz(bin_id, u_c, -(hi[0] - lo[0]) - 0.03, 0.0)  # the whole item clear of the face
        out[2] = up[2]
        if outcome in ("ok", "timeout"):
            phase[0] = "slide"
            outcome = move_linear(
                self.pc,
                self.arm,
                self._tool_centre(out),
                self.orn,
                speed_mps=prm.insert_speed_mps,
                on_tick=hold,
                settle_s=0.4,
            )
        self._held_open.discard(bin_id)
        p.setJointMotorControl2(band, 0, p.VELOCITY_CONTROL, force=0, physicsClientId=self.pc.cid)
        if outcome in ("ok", "timeout") and prm.pick_retreat_clear_m > CARRY_CLEAR_M:
            # Post-grasp retreat: straight back along the pull axis until the item is
            # `pick_retreat_clear_m` off the face, before any move across it. The bands of the other
            # bins bulge out of the face plane where they lie over items that stick out and as they
            # snap back; a carry that set off across the face 3 cm from its plane swept the held item
            # through them (45 N of contact on the item: the seal broke and the item fell).
            phase[0] = "retreat"
            back = self.carry_xyz(hi[0] - lo[0], prm.pick_retreat_clear_m)
            back = np.array([min(back[0], self._tool_centre(out)[0]), *self._tool_centre(out)[1:]])
            outcome = move_linear(
                self.pc, self.arm, back, self.orn, speed_mps=prm.insert_speed_mps, on_tick=hold, settle_s=0.3
            )
        if outcome in ("ok", "timeout"):
            phase[0] = "carry"
            outcome = move_linear(
                self.pc,
                self.arm,
                self.carry_xyz(hi[0] - lo[0], prm.pick_retreat_clear_m),
                self.orn,
                speed_mps=prm.free_speed_mps,
                on_tick=hold,
                tol_m=0.02,
            )
        if outcome in ("ok", "timeout"):
            phase[0] = "hold"
            outcome = wait(self.pc, 0.3, on_tick=hold)
        return outcome, broke[0], peak[0], reseated

    def close(self) -> None:
        self.pc.close()


def direct_slot_at(b: Bin, u_m: float, w_m: float, d_m: float) -> bool:
    """True when the footprint at ``u_m`` (against the back wall) is free with clearance."""
    from shapely.geometry import box

    need = box(u_m - CLEARANCE_M, b.depth_m - d_m, u_m + w_m + CLEARANCE_M, b.depth_m)
    if need.bounds[0] < 0 or need.bounds[2] > b.width_m:
        return False
    return b.free_region().contains(need.buffer(-1e-6))


__all__ += ["direct_slot_at"]
