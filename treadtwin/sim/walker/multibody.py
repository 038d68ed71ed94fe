"""Layer 3 of the walker: a pybullet biped whose feet are carried by the belt.

The biped is planar (sagittal plane): a pelvis carrying head, arms and trunk
(HAT) and two legs of thigh, shank and foot, with Winter's segment masses,
lengths and centre-of-mass positions [M] scaled by body mass and height.
The pelvis hangs on a "planariser" (a fixed base, a free slider along the
deck, a free slider normal to it, a pitch hinge): the sliders carry no
force, so the weight and every fore-aft force reach the deck only through
the feet; the pitch hinge holds the trunk upright with a torque, which
moves no load between the feet and the deck. Falling over is layer 2's
business; this layer supplies contact forces.

Gait trajectory (from :func:`.gait.gait_at`: stride time, stance fraction,
double support, speed): each stance foot is pinned to the belt, its ankle
passing under the hip at midstance; the foot lands on one edge and rolls
flat over the opening double support, and rolls onto its other edge over
the closing one (forwards: heel first, toe last; backwards, the forward
motion time-reversed in the walker's own frame: toe first, heel last). In
the treadmill frame the two directions then have the same foot paths, with
the body turned round: only the foot's orientation (where the ankle sits on
it) and the knee's bending side differ. The swing foot follows a
minimum-jerk path leaving and meeting the belt at belt speed. The hip rides
an inverted pendulum: its height is a cosine at step frequency, highest at
midstance, with the excursion of a rigid stance leg over single support
(geometry, [D]); its speed along the deck varies in antiphase so that the
pendulum trades potential and kinetic energy (ideal exchange, [D]). None of
layer 1's force shapes enters: the loads come out of the physics. Joint
angles follow by planar inverse kinematics and are driven by pybullet
position control (stiff: the biped follows the trajectory, as a walker's
stance leg does, not a muscle model).

The belt (method and its consequence for friction)
    pybullet has no conveyor contact. The deck is a fixed-base body (a
    static, infinitely heavy box) whose base velocity is set to the belt
    speed with ``resetBaseVelocity`` at every physics step. Bullet's
    contact solver takes a static body's velocity into its contact rows,
    so friction acts on the velocity of the foot relative to the moving
    top surface, exactly as on a real belt: a loaded foot sticks and is
    carried at belt speed, a foot that is pushed beyond Coulomb's limit
    (``mu`` = :data:`BELT_FRICTION`) slides. Bullet also integrates the
    static deck's position, so the deck really travels; it is shifted back
    ("re-centred") by :data:`RECENTRE_M` whenever it has gone that far.
    The top surface is a plane, so the shift changes no contact geometry,
    and friction, being velocity-level, is unaffected by it; only Bullet's
    cached contact points are rebuilt in that one step. The deck's speed is
    imposed (it cannot be slowed by the walker): the belt's response to
    these forces is the belt model's job, one step later, as for layer 2.
    Incline: gravity is tilted by the grade in the deck's frame (x towards
    the rear, z normal to the deck), so the deck itself stays level.

Physics step: 1 kHz (:data:`PHYSICS_DT_S`), the twin's own physics step, so
a foot's contact is resolved in the time base the belt model uses, and the
stiff position-controlled legs with rigid contact stay stable; at
pybullet's default 240 Hz the loading of a foot (about 0.1 s) would span
only some 25 steps. Forces are read every step with ``getContactPoints``
(normal force and both friction directions) and resampled by integrating
the impulse, so every output sample is a bin mean and stride means are
exact.

Sign convention as :class:`.gait.FootForces`: forces the feet exert on the
belt, fore-aft positive towards the rear of the deck, normal pressing into
the deck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...controllers.units import grade_pct_to_rad
from .gait import (
    GRADE_MAX_PCT,
    GRADE_MIN_PCT,
    HEIGHT_RANGE_M,
    MASS_RANGE_KG,
    MAX_HUMAN_SPEED_MPS,
    STANDARD_GRAVITY_MPS2,
    Facing,
    GaitParams,
    GaitState,
    check_range,
    gait_at,
    parse_facing,
    walks_backward,
)

PHYSICS_DT_S = 1e-3  # see the module docstring
BELT_FRICTION = 0.8  # [M] shoe on a rubber belt; walker-biomechanics.md 2.5: > 0.4
DECK_LENGTH_M = 60.0  # long enough that the walker never leaves it between re-centrings
RECENTRE_M = 5.0
MAX_DRIFT_M = 20.0  # largest walker travel over the deck in one run (speed != belt speed)
JOINT_TORQUE_LIMIT_NM_PER_KG = 40.0  # [D] stiff tracking: far above muscle torques
# Winter, Biomechanics and Motor Control of Human Movement, table 4.1 [M]:
# (mass fraction, length / height, centre of mass from the proximal end / length,
#  radius of gyration about the centre of mass / length)
HAT = (0.678, 0.818 - 0.530, 0.626, 0.496)  # greater trochanter to shoulder
THIGH = (0.100, 0.530 - 0.285, 0.433, 0.323)  # hip to knee
SHANK = (0.0465, 0.285 - 0.039, 0.433, 0.302)  # knee to ankle
FOOT = (0.0145, 0.152, 0.50, 0.475)  # heel to toe; ankle height 0.039 H
ANKLE_HEIGHT_PER_HEIGHT = 0.039  # [M] Winter fig. 4.1
FOOT_WIDTH_PER_HEIGHT = 0.055  # [M] Winter fig. 4.1
ANKLE_FROM_HEEL_PER_FOOT = 0.25  # [D] the ankle stands over the rear quarter of the foot
KNEE_FLEXION_MIDSTANCE_RAD = math.radians(15.0)  # [M] 5-20 degrees in midstance
FOOT_ANGLE_HEEL_STRIKE_RAD = math.radians(15.0)  # [D] below the real ~20 degrees [M]
FOOT_ANGLE_TOE_OFF_RAD = math.radians(45.0)  # [D] within the real 40-60 degrees [M]
SWING_CLEARANCE_PER_HEIGHT = 0.04  # [D] ankle lift in mid-swing, ~7 cm at 1.75 m
MAX_LEG_EXTENSION = 0.995  # hip-ankle distance / thigh + shank, never fully straight


@dataclass(frozen=True, slots=True)
class MultibodyRun:
    """Every physics step of one run: forces on the belt (N) and foot speeds (m/s).

    ``*_stance`` is the planned stance of each foot; ``*_foot_vx_mps`` the
    measured velocity of the foot along the deck, positive towards the rear.
    """

    t_s: np.ndarray  # start of each physics step
    fore_aft_n: np.ndarray
    normal_n: np.ndarray
    left_foot_vx_mps: np.ndarray
    right_foot_vx_mps: np.ndarray
    left_stance: np.ndarray
    right_stance: np.ndarray
    gait: GaitState


class MultibodyWalker:
    """A planar pybullet biped on a moving deck, one physics client per instance.

    Use as a context manager (or call :meth:`close`); every run resets the
    biped, so results do not depend on earlier calls.
    """

    def __init__(self, mass_kg: float, height_m: float, facing: Facing | str,
                 incline_pct: float = 0.0, dt_s: float = 0.001,
                 gait_params: GaitParams | None = None) -> None:
        import pybullet  # noqa: PLC0415 - optional dependency, only layer 3 needs it

        self.mass_kg = check_range("mass_kg", mass_kg, *MASS_RANGE_KG, " kg")
        self.height_m = check_range("height_m", height_m, *HEIGHT_RANGE_M, " m")
        self.facing = parse_facing(facing)
        self.incline_pct = check_range("incline_pct", incline_pct, GRADE_MIN_PCT, GRADE_MAX_PCT,
                                       " %")
        self.dt_s = check_range("dt_s", dt_s, 1e-4, 0.1, " s")
        self.gait_params = GaitParams() if gait_params is None else gait_params
        self._pb = pybullet
        self._anterior = 1.0 if self.facing is Facing.REAR else -1.0  # +x is the rear
        h = self.height_m
        self.thigh_m, self.shank_m = THIGH[1] * h, SHANK[1] * h
        self.leg_length_m = 0.530 * h  # greater trochanter height [M], as gait.py
        self.ankle_m = ANKLE_HEIGHT_PER_HEIGHT * h
        self.foot_m = FOOT[1] * h
        # Sole corners along x from the ankle: +x end and -x end of the foot.
        heel_m, toe_m = ANKLE_FROM_HEEL_PER_FOOT * self.foot_m, (1 - ANKLE_FROM_HEEL_PER_FOOT) * self.foot_m
        self._corner_plus_m = toe_m if self._anterior > 0 else heel_m
        self._corner_minus_m = -(heel_m if self._anterior > 0 else toe_m)
        self._cache: dict = {}
        self._client = pybullet.connect(pybullet.DIRECT)
        try:
            self._build()
        except Exception:
            self.close()
            raise

    # --- life cycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect the physics client (idempotent)."""
        client, self._client = getattr(self, "_client", None), None
        if client is not None and self._pb.isConnected(physicsClientId=client):
            self._pb.disconnect(physicsClientId=client)

    def __enter__(self) -> MultibodyWalker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # --- the model ----------------------------------------------------------------------
    def _build(self) -> None:
        pb, c, m, h = self._pb, self._client, self.mass_kg, self.height_m
        pb.setTimeStep(PHYSICS_DT_S, physicsClientId=c)
        deck_shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[DECK_LENGTH_M / 2, 0.5, 0.05],
                                             physicsClientId=c)
        self._deck = pb.createMultiBody(0.0, deck_shape, -1, [0, 0, -0.05], physicsClientId=c)
        half = [self.foot_m / 2, FOOT_WIDTH_PER_HEIGHT * h / 2, self.ankle_m / 2]
        foot_centre = [self._anterior * (0.5 - ANKLE_FROM_HEEL_PER_FOOT) * self.foot_m, 0,
                       -self.ankle_m / 2]
        foot_shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half,
                                             collisionFramePosition=foot_centre, physicsClientId=c)
        tiny_kg = 1e-3  # the planariser's sliders
        # (mass, inertia about the y axis, joint position in parent, centre of mass, parent, type, axis)
        links = [(tiny_kg, 1e-6, [0, 0, 0], [0, 0, 0], 0, pb.JOINT_PRISMATIC, [1, 0, 0]),
                 (tiny_kg, 1e-6, [0, 0, 0], [0, 0, 0], 1, pb.JOINT_PRISMATIC, [0, 0, 1]),
                 (*self._segment(HAT, up=True), 2, pb.JOINT_REVOLUTE, [0, 1, 0])]
        for _ in range(2):
            hip = len(links) + 1  # 1-based parent index of the pelvis is 3
            links += [(*self._segment(THIGH), 3, pb.JOINT_REVOLUTE, [0, 1, 0]),
                      (*self._segment(SHANK, at_m=-self.thigh_m), hip, pb.JOINT_REVOLUTE, [0, 1, 0]),
                      (*self._segment(FOOT, at_m=-self.shank_m), hip + 1, pb.JOINT_REVOLUTE,
                       [0, 1, 0])]
        shapes = [-1] * 5 + [foot_shape] + [-1] * 2 + [foot_shape]
        self._walker = pb.createMultiBody(
            0.0, -1, -1, [0, 0, 0],
            linkMasses=[lk[0] for lk in links], linkCollisionShapeIndices=shapes,
            linkVisualShapeIndices=[-1] * len(links), linkPositions=[lk[2] for lk in links],
            linkOrientations=[[0, 0, 0, 1]] * len(links),
            linkInertialFramePositions=[lk[3] for lk in links],
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
            linkParentIndices=[lk[4] for lk in links], linkJointTypes=[lk[5] for lk in links],
            linkJointAxis=[lk[6] for lk in links], physicsClientId=c)
        total_kg = 0.0
        for i, lk in enumerate(links):
            pb.changeDynamics(self._walker, i, localInertiaDiagonal=[lk[1]] * 3, linearDamping=0.0,
                              angularDamping=0.0, jointDamping=0.0, lateralFriction=BELT_FRICTION,
                              physicsClientId=c)
            total_kg += lk[0]
        pb.changeDynamics(self._deck, -1, lateralFriction=BELT_FRICTION, physicsClientId=c)
        for joint in (0, 1):  # free sliders: no motor
            pb.setJointMotorControl2(self._walker, joint, pb.VELOCITY_CONTROL, force=0.0,
                                     physicsClientId=c)
        self.model_mass_kg = total_kg
        self._joints = list(range(2, 9))
        self._max_torque_nm = [JOINT_TORQUE_LIMIT_NM_PER_KG * m] * len(self._joints)

    def _segment(self, seg: tuple, up: bool = False, at_m: float = 0.0) -> tuple:
        """Mass, inertia, joint position and centre of mass of a Winter segment."""
        frac, per_h, com, gyration = seg
        mass = frac * self.mass_kg - (2e-3 if up else 0.0)  # the sliders' mass is the HAT's
        length = per_h * self.height_m
        if seg is FOOT:
            com_xyz = [self._anterior * (com - ANKLE_FROM_HEEL_PER_FOOT) * length, 0, -self.ankle_m / 2]
        else:
            com_xyz = [0, 0, (1 if up else -1) * com * length]
        return mass, mass * (gyration * length) ** 2, [0, 0, at_m], com_xyz

    # --- the gait trajectory ------------------------------------------------------------
    def _plan(self, t_s: np.ndarray, gait: GaitState, belt_mps: float) -> dict:
        """Pelvis, ankles, foot angles and joint angles at times ``t_s`` (left contact at 0)."""
        stride_s, s, v = gait.stride_time_s, gait.stance_fraction, gait.speed_mps
        l1, l2 = self.thigh_m, self.shank_m
        # Hip-ankle distance with the midstance knee flexion, and the drop of a rigid leg
        # of that length over single support (the inverted pendulum's arc).
        mid_m = math.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * math.cos(KNEE_FLEXION_MIDSTANCE_RAD))
        half_single_m = min(0.5 * v * (1 - s) * stride_s, 0.9 * mid_m)
        drop_m = mid_m - math.sqrt(mid_m**2 - half_single_m**2)
        # Ideal pendulum exchange: (1/2)((v + c)^2 - (v - c)^2) = g drop.
        swing_mps = STANDARD_GRAVITY_MPS2 * drop_m / (2 * v) if v > 0 else 0.0
        omega = 4 * math.pi / stride_s
        t_mid_left_s = 0.5 * s * stride_s

        def pelvis(t: np.ndarray, crouch_m: float) -> tuple[np.ndarray, np.ndarray]:
            x = (belt_mps - v) * t - swing_mps / omega * np.sin(omega * (t - t_mid_left_s)
                                                                   + math.pi)
            z = (self.ankle_m + mid_m - 0.5 * drop_m - crouch_m
                 + 0.5 * drop_m * np.cos(omega * (t - t_mid_left_s)))
            return x, z

        feet = [self._foot(t_s, gait, belt_mps, phase) for phase in (0.0, 0.5)]
        # Lower the pelvis where a leg would otherwise have to be over-stretched.
        reach_m = MAX_LEG_EXTENSION * (l1 + l2)
        crouch_m = 0.0
        t_one = np.linspace(0.0, stride_s, 400)
        xh, zh = pelvis(t_one, 0.0)
        for phase in (0.0, 0.5):
            xa, za, _, _ = self._foot(t_one, gait, belt_mps, phase)
            dx = np.abs(xa - xh)
            if np.any(dx >= reach_m):
                raise ValueError(f"speed_mps = {v!r}: the steps are too long for legs of "
                                 f"{l1 + l2:.2f} m (height_m = {self.height_m!r})")
            crouch_m = max(crouch_m, float(np.max(zh - za - np.sqrt(reach_m**2 - dx**2))))
        xh, zh = pelvis(t_s, crouch_m)
        angles = [np.zeros_like(t_s)]  # pelvis pitch: upright
        for xa, za, foot_rad, _ in feet:
            angles += self._leg_angles(xh, zh, xa, za, foot_rad)
        return {"pelvis_x_m": xh, "pelvis_z_m": zh, "joints_rad": np.stack(angles, axis=1),
                "left_stance": feet[0][3], "right_stance": feet[1][3]}

    def _foot(self, t_s: np.ndarray, gait: GaitState, belt_mps: float, contact_phase: float):
        """Ankle position, foot angle and stance flag of the foot that lands at ``contact_phase``.

        Stance has three rockers (Perry [M]): the foot lands on one edge and rolls flat
        over the opening double support, stays flat, and from heel-off (half the stance)
        rolls onto its other edge until it lifts. Backwards the order, the windows and
        the angles are the forward ones time-reversed. The foot angle is a rotation
        about +y: positive lowers the foot's +x end.
        """
        stride_s, s, v = gait.stride_time_s, gait.stance_fraction, gait.speed_mps
        heel_w, toe_w = max(s - 0.5, 1e-3), 0.5 * s  # rocker windows, fractions of the stride
        first_w, last_w, first_rad, last_rad = (heel_w, toe_w, FOOT_ANGLE_HEEL_STRIKE_RAD,
                                                FOOT_ANGLE_TOE_OFF_RAD)
        if walks_backward(self.facing):
            first_w, last_w, first_rad, last_rad = last_w, first_w, last_rad, first_rad
        u = t_s / stride_s - contact_phase
        cycle = np.floor(u)
        w = u - cycle
        # The ankle of the flat foot passes under the (mean) hip mid-way through foot-flat.
        t_ref_s = (cycle + contact_phase + 0.5 * (first_w + s - last_w)) * stride_s

        def stance(t, t_ref, w):
            x_flat = (belt_mps - v) * t_ref + belt_mps * (t - t_ref)  # pinned to the belt
            on = np.clip(w / first_w, 0.0, 1.0)
            off = np.clip((w - (s - last_w)) / last_w, 0.0, 1.0)
            angle = np.where(w < first_w, first_rad * 0.5 * (1 + np.cos(np.pi * on)),
                             -last_rad * 0.5 * (1 - np.cos(np.pi * off)))
            # Rolling on an edge of the sole, which stays where it is on the belt.
            corner = np.where(w < first_w, self._corner_plus_m, self._corner_minus_m)
            x = x_flat + corner * (1 - np.cos(angle)) + self.ankle_m * np.sin(angle)
            z = corner * np.sin(angle) + self.ankle_m * np.cos(angle)
            return x, z, angle

        x, z, angle = stance(t_s, t_ref_s, np.minimum(w, s))
        # Swing: from lift-off to the next landing, leaving and meeting the belt at its speed.
        t_lift_s = (cycle + contact_phase + s) * stride_s
        x0, z0, a0 = stance(t_lift_s, t_ref_s, np.full_like(w, s))
        x1, z1, a1 = stance(t_lift_s + (1 - s) * stride_s, t_ref_s + stride_s, np.zeros_like(w))
        r = np.clip((w - s) / (1 - s), 0.0, 1.0)
        swing_s = (1 - s) * stride_s
        h0, h1 = 1 - 10 * r**3 + 15 * r**4 - 6 * r**5, r - 6 * r**3 + 8 * r**4 - 3 * r**5
        h3, h4 = 10 * r**3 - 15 * r**4 + 6 * r**5, -4 * r**3 + 7 * r**4 - 3 * r**5
        blend = 0.5 * (1 - np.cos(np.pi * r))
        lift_m = SWING_CLEARANCE_PER_HEIGHT * self.height_m * np.sin(np.pi * r) ** 2
        in_stance = w < s
        x = np.where(in_stance, x, h0 * x0 + h3 * x1 + (h1 + h4) * swing_s * belt_mps)
        z = np.where(in_stance, z, z0 + (z1 - z0) * blend + lift_m)
        angle = np.where(in_stance, angle, a0 + (a1 - a0) * blend)
        return x, z, angle, in_stance

    def _leg_angles(self, xh, zh, xa, za, foot_rad) -> list[np.ndarray]:
        """Hip, knee and ankle angles (about +y) placing the ankle at (xa, za), knee in front."""
        l1, l2 = self.thigh_m, self.shank_m
        dx, dz = xa - xh, za - zh
        d = np.clip(np.hypot(dx, dz), abs(l1 - l2) + 1e-3, l1 + l2 - 1e-6)
        ex, ez = dx / d, dz / d
        along = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
        across = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
        nx, nz = -self._anterior * ez, self._anterior * ex  # the knee bends towards the front
        kx, kz = xh + along * ex + across * nx, zh + along * ez + across * nz
        thigh = np.arctan2(-(kx - xh), -(kz - zh))
        shank = np.arctan2(-(xa - kx), -(za - kz))
        return [thigh, shank - thigh, foot_rad - shank]

    # --- running it ---------------------------------------------------------------------
    def _gait(self, speed_mps: float, incline_pct: float) -> GaitState:
        gait = gait_at(speed_mps, self.facing, incline_pct, self.gait_params, self.leg_length_m)
        if gait.running_required:
            raise ValueError(f"speed_mps = {speed_mps!r} needs running (walk-run speed "
                             f"{gait.walk_run_speed_mps:.2f} m/s); layer 3 only walks")
        return gait

    def simulate(self, speed_mps: float, belt_speed_mps: float | None = None,
                 n_strides: float = 2.0, incline_pct: float | None = None,
                 record_feet: bool = False) -> MultibodyRun:
        """Run the biped from a left foot contact for ``n_strides`` strides.

        ``speed_mps`` is the walking speed relative to the belt (it sets the gait);
        ``belt_speed_mps`` the speed of the belt's top surface (default: the same, so the
        walker holds its place). Returns the forces of every physics step.
        """
        pb, c = self._pb, self._client
        v = check_range("speed_mps", speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")
        belt = v if belt_speed_mps is None else check_range(
            "belt_speed_mps", belt_speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")
        grade = self.incline_pct if incline_pct is None else check_range(
            "incline_pct", incline_pct, GRADE_MIN_PCT, GRADE_MAX_PCT, " %")
        strides = check_range("n_strides", n_strides, 0.1, 100.0)
        gait = self._gait(v, grade)
        duration_s = strides * gait.stride_time_s
        if abs(belt - v) * duration_s > MAX_DRIFT_M:
            raise ValueError(f"belt_speed_mps = {belt!r} and speed_mps = {v!r} would carry the "
                             f"walker {abs(belt - v) * duration_s:.0f} m over the run; at most "
                             f"{MAX_DRIFT_M} m is allowed")
        n = math.ceil(duration_s / PHYSICS_DT_S)
        t = np.arange(n + 1) * PHYSICS_DT_S
        plan = self._plan(t, gait, belt)
        q = plan["joints_rad"]
        qd = np.gradient(q, PHYSICS_DT_S, axis=0)
        xd = np.gradient(plan["pelvis_x_m"], PHYSICS_DT_S)
        zd = np.gradient(plan["pelvis_z_m"], PHYSICS_DT_S)

        theta = grade_pct_to_rad(grade)  # front end up: gravity points towards the rear
        pb.setGravity(STANDARD_GRAVITY_MPS2 * math.sin(theta), 0.0,
                      -STANDARD_GRAVITY_MPS2 * math.cos(theta), physicsClientId=c)
        pb.resetBasePositionAndOrientation(self._deck, [0, 0, -0.05], [0, 0, 0, 1],
                                           physicsClientId=c)
        w = self._walker
        pb.resetJointState(w, 0, plan["pelvis_x_m"][0], xd[0], physicsClientId=c)
        pb.resetJointState(w, 1, plan["pelvis_z_m"][0], zd[0], physicsClientId=c)
        for j, joint in enumerate(self._joints):
            pb.resetJointState(w, joint, q[0, j], qd[0, j], physicsClientId=c)

        targets, rates = q[1:].tolist(), qd[1:].tolist()
        joints, torque = self._joints, self._max_torque_nm
        gains, damping = [1.0] * len(joints), [1.0] * len(joints)
        deck, belt_velocity, home = self._deck, [belt, 0.0, 0.0], [0.0, 0.0, -0.05]
        control, contacts = pb.POSITION_CONTROL, pb.getContactPoints
        force = np.zeros((n, 2))
        feet_vx = np.zeros((n, 2))
        deck_x_m = 0.0
        for k in range(n):
            pb.setJointMotorControlArray(w, joints, control, targetPositions=targets[k],
                                         targetVelocities=rates[k], forces=torque,
                                         positionGains=gains, velocityGains=damping,
                                         physicsClientId=c)
            pb.resetBaseVelocity(deck, belt_velocity, physicsClientId=c)
            pb.stepSimulation(physicsClientId=c)
            deck_x_m += belt * PHYSICS_DT_S
            if deck_x_m >= RECENTRE_M:  # the top surface is a plane: shift the deck back
                pb.resetBasePositionAndOrientation(deck, home, [0, 0, 0, 1], physicsClientId=c)
                deck_x_m = 0.0
            fx = fz = 0.0
            for cp in contacts(w, deck, physicsClientId=c):
                # Friction on the deck (B) is along +dir1/+dir2; the normal points from the
                # deck to the foot, so the foot presses the deck with normal force x n_z.
                fn, n_b, f1, d1, f2, d2 = cp[9], cp[7], cp[10], cp[11], cp[12], cp[13]
                fx += f1 * d1[0] + f2 * d2[0] - fn * n_b[0]
                fz += fn * n_b[2] - f1 * d1[2] - f2 * d2[2]
            force[k] = fx, fz
            if record_feet:
                states = pb.getLinkStates(w, [5, 8], computeLinkVelocity=1, physicsClientId=c)
                feet_vx[k] = states[0][6][0], states[1][6][0]
        return MultibodyRun(t[:-1], force[:, 0], force[:, 1], feet_vx[:, 0], feet_vx[:, 1],
                            plan["left_stance"][:-1], plan["right_stance"][:-1], gait)
