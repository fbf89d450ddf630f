"""One PyBullet client with simulated time, and a position-controlled arm driven by IK.

Time is counted in steps of ``1 / SIM_HZ`` s: every duration a cell reports is ``steps / SIM_HZ``,
never wall-clock time.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data

from fctwin.robots.line_runner import gate_physics_step

__all__ = ["SIM_HZ", "PhysicsClient", "Arm", "kuka_with_tool_urdf"]

SIM_HZ = 240.0
GRAVITY_MPS2 = 9.81


class PhysicsClient:
    """A DIRECT client of its own, or a borrowed one (``client_id``, e.g. the world's GUI client).

    ``origin_world`` offsets everything a cell builds, so several cells can share one client.
    """

    def __init__(self, *, client_id: int | None = None, origin_world=(0.0, 0.0, 0.0)):
        self.owned = client_id is None
        self.cid = p.connect(p.DIRECT) if client_id is None else int(client_id)
        self.origin_world = np.asarray(origin_world, dtype=np.float64)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.cid)
        if self.owned:
            p.setGravity(0, 0, -GRAVITY_MPS2, physicsClientId=self.cid)
            p.setTimeStep(1.0 / SIM_HZ, physicsClientId=self.cid)
        self.steps = 0
        self.bodies: list[int] = []

    @property
    def t_s(self) -> float:
        """Simulated time since the client was made (s)."""
        return self.steps / SIM_HZ

    def world(self, xyz) -> list[float]:
        """Cell-frame point -> world frame (cells are translated, not rotated)."""
        return list(self.origin_world + np.asarray(xyz, dtype=np.float64))

    def local(self, xyz_world) -> np.ndarray:
        return np.asarray(xyz_world, dtype=np.float64) - self.origin_world

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.cid)
        self.steps += n
        # Inside a station line that runs on the floor's clock, wait for the floor to catch up.
        gate_physics_step(n)

    def box(self, half_m, centre, *, mass_kg=0.0, rgba=(0.6, 0.6, 0.6, 1.0), friction=0.6) -> int:
        """A box body at cell-frame ``centre`` (half extents ``half_m``, metres); static when mass is 0."""
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=list(half_m), physicsClientId=self.cid)
        vis = p.createVisualShape(
            p.GEOM_BOX, halfExtents=list(half_m), rgbaColor=list(rgba), physicsClientId=self.cid
        )
        body = p.createMultiBody(mass_kg, col, vis, self.world(centre), physicsClientId=self.cid)
        p.changeDynamics(body, -1, lateralFriction=friction, physicsClientId=self.cid)
        self.bodies.append(body)
        return body

    def aabb(self, body: int, link: int = -1) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = p.getAABB(body, link, physicsClientId=self.cid)
        return self.local(lo), self.local(hi)

    def position(self, body: int) -> np.ndarray:
        return self.local(p.getBasePositionAndOrientation(body, physicsClientId=self.cid)[0])

    def remove(self, body: int) -> None:
        p.removeBody(body, physicsClientId=self.cid)
        if body in self.bodies:
            self.bodies.remove(body)

    def close(self) -> None:
        if self.owned:
            p.disconnect(self.cid)
        else:
            for body in list(self.bodies):
                self.remove(body)


_KUKA_DIR = Path(pybullet_data.getDataPath()) / "kuka_iiwa"
_TOOL_CACHE: dict[tuple, str] = {}


def kuka_with_tool_urdf(
    *, tool_len_m: float, tool_w_m: float, tool_h_m: float, tool_mass_kg: float = 0.4, slide_m: float = 0.0
) -> str:
    """Path of a KUKA iiwa URDF with a paddle tool on the flange, joined by a fixed joint ``tool_joint``.

    The tool is a thin plate along the flange's z axis (``tool_len_m`` long, ``tool_w_m`` thick along
    the flange y axis, ``tool_h_m`` along the flange x axis, which is vertical with `tool_forward_orn`);
    its tip is the suction face. A fixed joint (not a constraint) lets
    ``enableJointForceTorqueSensor`` on it read the wrist wrench the tool feels. With ``slide_m > 0``
    the arm rides on a prismatic rail along +x (0..``slide_m``), as Vulcan's arm rides its gantry: the
    rail lets a 7-DoF arm reach both the front and the back of a bin.
    """
    key = (
        round(tool_len_m, 4),
        round(tool_w_m, 4),
        round(tool_h_m, 4),
        round(tool_mass_kg, 3),
        round(slide_m, 3),
    )
    if key in _TOOL_CACHE and Path(_TOOL_CACHE[key]).exists():
        return _TOOL_CACHE[key]
    text = (_KUKA_DIR / "model.urdf").read_text()
    text = text.replace('filename="meshes/', f'filename="{_KUKA_DIR}/meshes/')
    sx, sy, sz = tool_h_m, tool_w_m, tool_len_m
    tool = f"""
  <joint name="tool_joint" type="fixed">
    <parent link="lbr_iiwa_link_7"/>
    <child link="tool"/>
    <origin xyz="0 0 {0.045 + sz / 2}" rpy="0 0 0"/>
  </joint>
  <link name="tool">
    <inertial><origin xyz="0 0 0"/><mass value="{tool_mass_kg}"/>
      <inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/></inertial>
    <visual><geometry><box size="{sx} {sy} {sz}"/></geometry>
      <material name="paddle"><color rgba="0.95 0.55 0.1 1"/></material></visual>
    <collision><geometry><box size="{sx} {sy} {sz}"/></geometry></collision>
  </link>
</robot>"""
    text = text.replace("</robot>", tool)
    if slide_m > 0:
        rail = f"""
  <link name="rail"><inertial><mass value="0"/>
    <inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial></link>
  <joint name="rail_joint" type="prismatic">
    <parent link="rail"/><child link="lbr_iiwa_link_0"/><axis xyz="1 0 0"/>
    <limit lower="0" upper="{slide_m}" effort="2000" velocity="0.6"/>
  </joint>"""
        head, _, rest = text.partition('<link name="lbr_iiwa_link_0">')
        text = head + rail.strip() + '\n  <link name="lbr_iiwa_link_0">' + rest
    out = Path(tempfile.gettempdir()) / f"fctwin_kuka_tool_{abs(hash(key))}.urdf"
    # Atomically: processes building the same arm (calibrate --jobs, parallel test runs) share this
    # path, and a plain write_text truncates the file under another process's loadURDF ("Cannot load
    # URDF file", seen in CI). A rename shows a reader the whole old file or the whole new one.
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _TOOL_CACHE[key] = str(out)
    return str(out)


_MOVABLE = (p.JOINT_REVOLUTE, p.JOINT_PRISMATIC)


class Arm:
    """A fixed-base 7-DoF arm under joint position control, moved by IK towards Cartesian targets.

    ``ee_link`` is the link whose pose is controlled (the tool). Joint speeds are capped at
    ``max_joint_speed_rps`` (an industrial arm moving near people, not the URDF's 10 rad/s).
    """

    def __init__(
        self,
        pc: PhysicsClient,
        urdf: str,
        base_xyz,
        *,
        base_yaw_rad: float = 0.0,
        ee_link: int | None = None,
        max_joint_speed_rps: float = 1.5,
        max_joint_torque_nm: float = 300.0,
        home_q=None,
    ):
        self.pc = pc
        orn = p.getQuaternionFromEuler((0, 0, base_yaw_rad))
        self.body = p.loadURDF(urdf, pc.world(base_xyz), orn, useFixedBase=True, physicsClientId=pc.cid)
        pc.bodies.append(self.body)
        n = p.getNumJoints(self.body, physicsClientId=pc.cid)
        self.joints = [
            j for j in range(n) if p.getJointInfo(self.body, j, physicsClientId=pc.cid)[2] in _MOVABLE
        ]
        self.ee_link = n - 1 if ee_link is None else ee_link
        self.max_joint_speed_rps = max_joint_speed_rps
        self.max_joint_torque_nm = max_joint_torque_nm
        info = [p.getJointInfo(self.body, j, physicsClientId=pc.cid) for j in self.joints]
        # Rails (prismatic joints) move at most 0.5 m/s; revolute joints at max_joint_speed_rps.
        self.max_speed = [0.5 if i[2] == p.JOINT_PRISMATIC else max_joint_speed_rps for i in info]
        self.lower = [i[8] for i in info]
        self.upper = [i[9] for i in info]
        default_q = [0.0, 0.4, 0.0, -1.6, 0.0, 1.1, 0.0]
        self.home_q = list(home_q) if home_q is not None else [0.0] * (len(self.joints) - 7) + default_q
        for j, q in zip(self.joints, self.home_q, strict=True):
            p.resetJointState(self.body, j, q, physicsClientId=pc.cid)
        self.q_target = list(self.home_q)
        self.command(self.home_q)

    def q(self) -> np.ndarray:
        states = p.getJointStates(self.body, self.joints, physicsClientId=self.pc.cid)
        return np.array([s[0] for s in states])

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool position (cell frame, m) and orientation quaternion (x, y, z, w)."""
        st = p.getLinkState(
            self.body, self.ee_link, computeForwardKinematics=True, physicsClientId=self.pc.cid
        )
        return self.pc.local(st[4]), np.asarray(st[5])

    def ik(self, xyz, orn) -> list[float]:
        rest = list(self.home_q)
        q = p.calculateInverseKinematics(
            self.body,
            self.ee_link,
            self.pc.world(xyz),
            orn,
            lowerLimits=self.lower,
            upperLimits=self.upper,
            jointRanges=[u - lo for lo, u in zip(self.lower, self.upper, strict=True)],
            restPoses=rest,
            maxNumIterations=60,
            residualThreshold=1e-4,
            physicsClientId=self.pc.cid,
        )
        return list(q[: len(self.joints)])

    def command(self, q) -> None:
        self.q_target = list(q)
        for j, qj, vmax in zip(self.joints, q, self.max_speed, strict=True):
            p.setJointMotorControl2(
                self.body,
                j,
                p.POSITION_CONTROL,
                targetPosition=qj,
                force=self.max_joint_torque_nm,
                maxVelocity=vmax,
                positionGain=0.8,
                physicsClientId=self.pc.cid,
            )

    def aim(self, xyz, orn) -> None:
        self.command(self.ik(xyz, orn))

    def reset_to(self, xyz, orn, iterations: int = 30) -> float:
        """Teleport the joints to an IK solution for the tool pose (set-up only, not a motion).

        Returns the remaining position error (m).
        """
        for _ in range(iterations):
            q = np.clip(self.ik(xyz, orn), self.lower, self.upper)
            for j, qj in zip(self.joints, q, strict=True):
                p.resetJointState(self.body, j, qj, physicsClientId=self.pc.cid)
        self.home_q = list(self.q())
        self.command(self.home_q)
        return float(np.linalg.norm(self.ee_pose()[0] - np.asarray(xyz)))

    def joint_error_rad(self) -> float:
        return float(np.max(np.abs(self.q() - np.asarray(self.q_target))))


def tool_down_orn() -> tuple:
    """Tool pointing straight down (-z)."""
    return p.getQuaternionFromEuler((math.pi, 0.0, 0.0))


def tool_forward_orn() -> tuple:
    """Tool pointing along +x (into a pod face standing in front of the arm), plate vertical."""
    return p.getQuaternionFromEuler((0.0, math.pi / 2, 0.0))


def move_linear(
    pc: PhysicsClient,
    arm: Arm,
    goal_xyz,
    orn,
    *,
    speed_mps: float,
    accel_mps2: float = 2.0,
    on_tick=None,
    tol_m: float = 0.012,
    settle_s: float = 1.0,
    ik_every: int = 2,
) -> str:
    """Move the tool along a straight line to ``goal_xyz`` (cell frame, m), trapezoidal speed profile.

    Every ``ik_every`` steps the next point on the line is solved by IK and commanded (120 Hz
    control over 240 Hz physics). ``on_tick()`` runs after each physics step; a non-empty string
    it returns stops the move and is returned (e.g. ``"jam"``). Returns ``"ok"`` when the tool is
    within ``tol_m`` of the goal, ``"timeout"`` if it has not settled ``settle_s`` after the path.
    """
    start = arm.ee_pose()[0]
    goal = np.asarray(goal_xyz, dtype=np.float64)
    dist = float(np.linalg.norm(goal - start))
    # Trapezoid (or triangle) profile: time to cover dist with speed and acceleration limits.
    t_acc = speed_mps / accel_mps2
    if dist < speed_mps * t_acc:
        t_acc = math.sqrt(dist / accel_mps2)
        v_top = accel_mps2 * t_acc
        t_path = 2 * t_acc
    else:
        v_top = speed_mps
        t_path = dist / speed_mps + t_acc

    def covered(t: float) -> float:
        if t >= t_path:
            return dist
        if t < t_acc:
            return 0.5 * accel_mps2 * t * t
        if t > t_path - t_acc:
            r = t_path - t
            return dist - 0.5 * accel_mps2 * r * r
        return 0.5 * v_top * t_acc + v_top * (t - t_acc)

    n_path = max(1, math.ceil(t_path * SIM_HZ))
    n_total = n_path + int(settle_s * SIM_HZ)
    direction = (goal - start) / dist if dist > 1e-9 else np.zeros(3)
    for k in range(n_total):
        if k % ik_every == 0:
            arm.aim(start + direction * covered((k + ik_every) / SIM_HZ), orn)
        pc.step()
        if on_tick is not None:
            stop = on_tick()
            if stop:
                return stop
        if k >= n_path - 1 and k % ik_every == 0 and np.linalg.norm(arm.ee_pose()[0] - goal) < tol_m:
            return "ok"
    return "timeout"


def wait(pc: PhysicsClient, seconds: float, on_tick=None) -> str:
    """Step for ``seconds`` of simulated time (e.g. suction build-up, release)."""
    for _ in range(max(1, int(seconds * SIM_HZ))):
        pc.step()
        if on_tick is not None:
            stop = on_tick()
            if stop:
                return stop
    return "ok"
