"""Sequoia's tote rack in PyBullet: rows x levels of tote slots and a gantry of prismatic joints.

Cell frame (metres): slots along +x (``row`` k at ``x = (k + 1) * pitch_x_m``), levels up +z; the
workstation port is at ``x = 0``, ``z = port_z_m``. The gantry is one multibody: carriage (prismatic x),
lift (prismatic z), fork (prismatic y, reaching into a slot at ``y = slot_y_m``). A tote rides the fork on
a fixed constraint. Cycle times are the simulated seconds the joints take under velocity limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from fctwin.robots.physics.engine import SIM_HZ, PhysicsClient

__all__ = ["SequoiaRack", "SequoiaRackParams", "nearest_free_slot"]

Slot = tuple[int, int]  # row, level


@dataclass(frozen=True, kw_only=True)
class SequoiaRackParams:
    rows: int = 8
    levels: int = 5
    pitch_x_m: float = 0.7
    pitch_z_m: float = 0.45
    port_z_m: float = 0.9
    slot_y_m: float = 0.6
    tote_m: tuple[float, float, float] = (0.6, 0.4, 0.3)
    speed_x_mps: float = 2.0
    speed_z_mps: float = 1.0
    speed_fork_mps: float = 0.6
    tol_m: float = 0.004


def nearest_free_slot(free: np.ndarray, params: SequoiaRackParams) -> Slot | None:
    """Default storage policy: the free slot the gantry reaches soonest from the port.

    ``free`` is bool[rows, levels]. Axes move together, so travel time is ``max(dx / vx, dz / vz)``;
    ties go to the lower row, then the lower level. None when the rack is full.
    """
    rows, levels = np.nonzero(free)
    if len(rows) == 0:
        return None
    dx = (rows + 1) * params.pitch_x_m
    dz = np.abs(levels * params.pitch_z_m + params.pitch_z_m / 2 - params.port_z_m)
    t = np.maximum(dx / params.speed_x_mps, dz / params.speed_z_mps)
    k = np.lexsort((levels, rows, np.round(t, 6)))[0]
    return int(rows[k]), int(levels[k])


class SequoiaRack:
    """The rack and its gantry; `store` and `retrieve` move one tote and return the cycle time (s)."""

    def __init__(self, *, params: SequoiaRackParams | None = None, client_id=None, origin_world=(0, 0, 0)):
        self.params = prm = params or SequoiaRackParams()
        self.pc = PhysicsClient(client_id=client_id, origin_world=origin_world)
        self.free = np.ones((prm.rows, prm.levels), dtype=bool)
        self.totes: dict[Slot, int] = {}
        self._build()
        self._held: int | None = None
        self._cons: int | None = None

    def _slot_z(self, level: int) -> float:
        return level * self.params.pitch_z_m + self.params.pitch_z_m / 2

    def _build(self) -> None:
        prm, pc, cid = self.params, self.pc, self.pc.cid
        for r in range(prm.rows):
            for lv in range(prm.levels):
                x, z = (r + 1) * prm.pitch_x_m, self._slot_z(lv) - prm.tote_m[2] / 2 - 0.01
                pc.box(
                    (prm.tote_m[0] / 2, prm.tote_m[1] / 2, 0.005),
                    (x, prm.slot_y_m, z),
                    rgba=(0.4, 0.4, 0.45, 1),
                )
        pc.box(
            (0.35, 0.25, (prm.port_z_m - prm.tote_m[2] / 2 - 0.005) / 2),  # stand holds a tote at port_z_m
            (0, prm.slot_y_m, (prm.port_z_m - prm.tote_m[2] / 2 - 0.005) / 2),
            rgba=(0.2, 0.6, 0.3, 1),
        )
        shapes = []
        for half in ((0.1, 0.1, 0.05), (0.08, 0.08, 0.08), (0.25, 0.15, 0.01)):
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=cid)
            vis = p.createVisualShape(
                p.GEOM_BOX, halfExtents=half, rgbaColor=(0.9, 0.5, 0.1, 1), physicsClientId=cid
            )
            shapes.append((col, vis))
        self.gantry = p.createMultiBody(
            baseMass=0,
            basePosition=pc.world((0, 0, 0)),
            linkMasses=[20.0, 10.0, 3.0],
            linkCollisionShapeIndices=[s[0] for s in shapes],
            linkVisualShapeIndices=[s[1] for s in shapes],
            linkPositions=[(0, 0, 0), (0, 0, 0), (0, 0, 0)],
            linkOrientations=[(0, 0, 0, 1)] * 3,
            linkInertialFramePositions=[(0, 0, 0)] * 3,
            linkInertialFrameOrientations=[(0, 0, 0, 1)] * 3,
            linkParentIndices=[0, 1, 2],
            linkJointTypes=[p.JOINT_PRISMATIC] * 3,
            linkJointAxis=[(1, 0, 0), (0, 0, 1), (0, 1, 0)],
            physicsClientId=cid,
        )
        pc.bodies.append(self.gantry)
        # The gantry moves in free space beside the rack: no contacts with the rack or the totes.
        p.setCollisionFilterGroupMask(self.gantry, -1, 0, 0, physicsClientId=cid)
        for link in range(3):
            p.setCollisionFilterGroupMask(self.gantry, link, 0, 0, physicsClientId=cid)
        self._move((0.0, prm.port_z_m, 0.0), record=False)

    def add_tote(self, slot: Slot) -> int:
        prm = self.params
        x, z = (slot[0] + 1) * prm.pitch_x_m, self._slot_z(slot[1])
        half = (prm.tote_m[0] / 2 - 0.01, prm.tote_m[1] / 2 - 0.01, prm.tote_m[2] / 2)
        body = self.pc.box(half, (x, prm.slot_y_m, z), mass_kg=8.0, rgba=(0.1, 0.3, 0.8, 1))
        self.totes[slot] = body
        self.free[slot] = False
        return body

    def _move(self, target, *, record: bool = True) -> float:
        """Drive (x, z, fork y) to ``target`` under the speed limits; returns simulated seconds."""
        prm, cid = self.params, self.pc.cid
        speeds = (prm.speed_x_mps, prm.speed_z_mps, prm.speed_fork_mps)
        for j in range(3):
            p.setJointMotorControl2(
                self.gantry,
                j,
                p.POSITION_CONTROL,
                targetPosition=target[j],
                maxVelocity=speeds[j],
                force=5000,
                positionGain=0.5,
                physicsClientId=cid,
            )
        start = self.pc.steps
        for _ in range(int(30 * SIM_HZ)):
            self.pc.step()
            q = [s[0] for s in p.getJointStates(self.gantry, [0, 1, 2], physicsClientId=cid)]
            if max(abs(a - b) for a, b in zip(q, target, strict=True)) < prm.tol_m:
                break
        return (self.pc.steps - start) / SIM_HZ if record else 0.0

    def _grab(self, tote: int) -> None:
        cid = self.pc.cid
        fork = p.getLinkState(self.gantry, 2, physicsClientId=cid)
        pos, orn = p.getBasePositionAndOrientation(tote, physicsClientId=cid)
        inv = p.invertTransform(fork[4], fork[5])
        rel = p.multiplyTransforms(inv[0], inv[1], pos, orn)
        self._cons = p.createConstraint(
            self.gantry, 2, tote, -1, p.JOINT_FIXED, (0, 0, 0), rel[0], (0, 0, 0), rel[1], physicsClientId=cid
        )
        p.changeConstraint(self._cons, maxForce=2000, physicsClientId=cid)
        self._held = tote

    def _drop(self) -> None:
        p.removeConstraint(self._cons, physicsClientId=self.pc.cid)
        self._cons, self._held = None, None

    def store(self, slot: Slot | None = None) -> tuple[float, Slot]:
        """A tote at the port goes into ``slot`` (nearest free by default): (cycle s, slot)."""
        prm = self.params
        slot = slot or nearest_free_slot(self.free, prm)
        if slot is None:
            raise ValueError("the rack is full")
        tote = self.pc.box(
            (prm.tote_m[0] / 2 - 0.01, prm.tote_m[1] / 2 - 0.01, prm.tote_m[2] / 2),
            (0, prm.slot_y_m, prm.port_z_m),
            mass_kg=8.0,
            rgba=(0.1, 0.3, 0.8, 1),
        )
        t = self._move((0.0, prm.port_z_m, prm.slot_y_m))
        self._grab(tote)
        x, z = (slot[0] + 1) * prm.pitch_x_m, self._slot_z(slot[1])
        t += self._move((0.0, prm.port_z_m + 0.02, 0.0))
        t += self._move((x, z + 0.02, 0.0))
        t += self._move((x, z + 0.02, prm.slot_y_m))
        self._drop()
        t += self._move((x, z - 0.02, prm.slot_y_m))
        t += self._move((x, z - 0.02, 0.0))
        t += self._move((0.0, prm.port_z_m, 0.0))
        self.totes[slot] = tote
        self.free[slot] = False
        return t, slot

    def retrieve(self, slot: Slot) -> float:
        """Bring the tote in ``slot`` to the port and back again (a pick presentation): cycle s."""
        prm = self.params
        tote = self.totes[slot]
        x, z = (slot[0] + 1) * prm.pitch_x_m, self._slot_z(slot[1])
        t = self._move((x, z - 0.02, 0.0))
        t += self._move((x, z - 0.02, prm.slot_y_m))
        self._grab(tote)
        t += self._move((x, z + 0.02, prm.slot_y_m))
        t += self._move((x, z + 0.02, 0.0))
        t += self._move((0.0, prm.port_z_m + 0.02, 0.0))
        self._drop()
        del self.totes[slot]
        self.free[slot] = True
        self.pc.remove(tote)
        return t

    def tote_position(self, slot: Slot) -> np.ndarray:
        return self.pc.position(self.totes[slot])

    def close(self) -> None:
        self.pc.close()
