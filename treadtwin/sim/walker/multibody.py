"""Layer 3 of the walker: a pybullet biped whose feet are carried by the belt.

The biped is planar (sagittal plane): a pelvis carrying head, arms and trunk
(HAT) and two legs of thigh, shank and foot, with Winter's segment masses,
lengths, centres of mass and radii of gyration [M] scaled by body mass and
height. The pelvis hangs on a "planariser" (a fixed base, a free slider
along the deck, a free slider normal to it, a pitch hinge): the sliders
carry no force, so the weight and every fore-aft force reach the deck only
through the feet; the hinge holds the trunk upright with a torque, which
moves no load between the feet and the deck. Falling over is layer 2's
business; this layer supplies contact forces.

Gait (timing from :func:`.gait.gait_at`: stride time, stance fraction,
double support, speed). Each stance foot is pinned to the belt and rolls on
three rockers (Perry [M]): it lands on its heel and rolls flat over the
opening double support, stays flat, and from heel-off at half the stance
rolls onto its toe until it lifts. Backwards, the same motion runs
time-reversed in the walker's own frame: toe first, heel last. Both feet use
the mean stance fraction (the gait's asymmetry parameters are not modelled
here). In the treadmill frame both directions then have the same foot paths
with the body turned round; the foot's orientation, the knee's bending side
and the rocker windows and angles differ. The swing foot follows minimum-jerk
paths from lift-off to landing, keeping its lift-off and landing velocities for a
tenth of the swing at each end (a sole that brushes the belt a little early
or late does not scuff it), lifted just enough to clear the belt. The hip
rides an inverted pendulum: its height is a cosine at step frequency,
highest at midstance, with the drop of a rigid stance leg over single
support (geometry, [D]); its speed along the deck varies in antiphase so
that the pendulum trades potential and kinetic energy (ideal exchange,
[D]). None of layer 1's force shapes enters: the loads come out of the
physics. Joint angles follow by planar inverse kinematics and are driven by
pybullet position control, stiff (a kinematic walker, not a muscle model).
Heel and toe are small spheres on a stiff, damped sole spring (pybullet's
contact stiffness and damping), so that a foot rolls without slipping and
the closed chain of two stiff legs on the belt in double support stays
well posed.

The belt (method and its consequence for friction)
    pybullet has no conveyor contact. The deck is a fixed-base body (static,
    infinitely heavy; a plane) whose base velocity is set to the belt speed
    with ``resetBaseVelocity`` at every physics step. Bullet's contact
    solver puts a static body's velocity into its contact rows, so friction
    acts on the velocity of the sole relative to the moving top surface, as
    on a real belt: a loaded foot sticks and is carried at belt speed, and a
    foot pushed beyond Coulomb's limit (``mu`` = :data:`BELT_FRICTION`)
    slides. Bullet also integrates the static deck's position, so the deck
    really travels; it is shifted back ("re-centred") whenever it has gone
    :data:`RECENTRE_M`. A plane is unchanged by the shift and friction is
    velocity-level: runs with and without re-centring give bit-identical
    forces. The belt speed is imposed (the walker cannot slow the deck):
    the belt's response to these forces is the belt model's job, as for
    layer 2. Incline: gravity is tilted by the grade in the deck's frame
    (x towards the rear, z normal to the deck); the deck itself stays level.

Physics step: pybullet's defaults, 240 Hz (:data:`PHYSICS_DT_S`; the
``physics_dt_s`` argument changes it) and 50 solver iterations. At 1 kHz the
biped runs at only 10-20x real time (a contact-rich multibody step costs
50-100 us in pybullet, plus the Python calls each step), far from the 50x
this layer must reach, while at 240 Hz a footfall's loading (about 0.1 s)
still spans 25 steps. Fewer solver iterations leave the contact impulses
visibly unconverged. Forces are read after every step with
``getContactPoints`` (normal force and both friction directions) and
resampled to ``dt_s`` by integrating the impulse, so every output sample is
a bin mean and stride means are exact.

Agreement with layer 2 (tests/test_walker_multibody.py): stride means are
physics and agree to a fraction of a percent. Peaks do not come from the
same model: after a 25 ms moving average (force plates are read through a
10-20 Hz low-pass) the stride's peak normal force lies 5-20 % above
layer 1's at ordinary speeds (more above 1.6 m/s, where the ideal pendulum
exchange overstates the bounce); unfiltered, each heel landing adds a
transient of a few milliseconds up to about 2 body weights, and the
fore-aft peaks are 2-3.5 times layer 1's, the swing leg's own acceleration
being passed to the belt in full.

Sign convention as :class:`.gait.FootForces`: forces the feet exert on the
belt, fore-aft positive towards the rear of the deck, normal pressing into
the deck.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from ...controllers.units import grade_pct_to_rad
from .gait import (
    GRADE_MAX_PCT,
    GRADE_MIN_PCT,
    HEIGHT_RANGE_M,
    LEG_LENGTH_PER_HEIGHT,
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

PHYSICS_DT_S = 1.0 / 240.0  # see the module docstring
SOLVER_ITERATIONS = 50  # pybullet's default; fewer leave the contact impulses visibly unconverged
BELT_FRICTION = 0.8  # [M] shoe on a rubber belt: it holds above 0.4 (docs/references.md)
SOLE_STIFFNESS_N_PER_M = 1e6  # [D] per contact point (heel, toe): stiff, but not rigid
SOLE_DAMPING_NS_PER_M = 1e4  # [D] about critical for the body on one sole point
RECENTRE_M = 5.0  # deck travel before it is shifted back
MAX_DRIFT_M = 100.0  # largest walker travel along the deck in one run (speed != belt speed)
JOINT_TORQUE_LIMIT_NM_PER_KG = 40.0  # [D] stiff tracking: far above muscle torques
# Winter, Biomechanics and Motor Control of Human Movement, table 4.1 [M]:
# (mass fraction, length / height, centre of mass from the proximal end / length,
#  radius of gyration about the centre of mass / length)
HAT = (0.678, 0.818 - 0.530, 0.626, 0.496)  # greater trochanter to shoulder
THIGH = (0.100, 0.530 - 0.285, 0.433, 0.323)  # hip to knee
SHANK = (0.0465, 0.285 - 0.039, 0.433, 0.302)  # knee to ankle
FOOT = (0.0145, 0.152, 0.50, 0.475)  # heel to toe
ANKLE_HEIGHT_PER_HEIGHT = 0.039  # [M] Winter fig. 4.1
ANKLE_FROM_HEEL_PER_FOOT = 0.25  # [D] the ankle stands over the rear quarter of the foot
SOLE_RADIUS_M = 0.01  # [D] heel and toe are spheres of this radius (rolling contact)
KNEE_FLEXION_MIDSTANCE_RAD = math.radians(15.0)  # [M] 5-20 degrees in midstance
FOOT_ANGLE_HEEL_STRIKE_RAD = math.radians(15.0)  # [D] below the real ~20 degrees [M]
FOOT_ANGLE_TOE_OFF_RAD = math.radians(45.0)  # [D] within the real 40-60 degrees [M]
SWING_GRIP_FRACTION = 0.1  # [D] of the swing, at each end, the foot moves with the belt
SWING_CLEARANCE_M = 0.015  # [M] least toe clearance in swing, 1-2 cm
MAX_LEG_EXTENSION = 0.995  # hip-ankle distance / (thigh + shank): never quite straight
STEP_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class MultibodyRun:
    """Every physics step of one run: forces on the belt (N), foot speeds (m/s).

    ``*_stance`` and ``*_flat`` are each foot's planned stance and foot-flat;
    ``*_foot_vx_mps`` the measured velocity of its ankle along the deck,
    positive towards the rear.
    """

    t_s: np.ndarray  # start of each physics step
    fore_aft_n: np.ndarray
    normal_n: np.ndarray
    left_foot_vx_mps: np.ndarray
    right_foot_vx_mps: np.ndarray
    left_stance: np.ndarray
    right_stance: np.ndarray
    left_flat: np.ndarray  # planned foot-flat: the whole sole on the belt
    right_flat: np.ndarray
    gait: GaitState
    physics_dt_s: float

    def binned(self, start_s: float, n: int, dt_s: float, strides: int = 1):
        """Bin means of (fore-aft, normal) over ``n`` bins of ``dt_s`` from ``start_s``,
        averaged over ``strides`` consecutive strides (exact impulse, no aliasing)."""
        edges = np.concatenate((self.t_s, [self.t_s[-1] + self.physics_dt_s]))
        out = []
        for force in (self.fore_aft_n, self.normal_n):
            impulse = np.concatenate(([0.0], np.cumsum(force * self.physics_dt_s)))
            stride_s = self.gait.stride_time_s
            total = np.zeros(n)
            for j in range(strides):
                at = start_s + j * stride_s + np.arange(n + 1) * dt_s
                total += np.diff(np.interp(at, edges, impulse)) / dt_s
            out.append(total / strides)
        return out[0], out[1]


class MultibodyWalker:
    """A planar pybullet biped on a moving deck, one physics client per instance.

    Use as a context manager (or call :meth:`close`). Every run starts the
    biped afresh, so results do not depend on earlier calls. ``dt_s`` is the
    output sampling interval, ``physics_dt_s`` pybullet's step.
    """

    def __init__(self, mass_kg: float, height_m: float, facing: Facing | str,
                 incline_pct: float = 0.0, dt_s: float = 0.001,
                 gait_params: GaitParams | None = None, *,
                 physics_dt_s: float = PHYSICS_DT_S) -> None:
        import pybullet  # an optional dependency: only layer 3 needs it

        self._client = None
        self.mass_kg = check_range("mass_kg", mass_kg, *MASS_RANGE_KG, " kg")
        self.height_m = check_range("height_m", height_m, *HEIGHT_RANGE_M, " m")
        self.facing = parse_facing(facing)
        self.incline_pct = check_range("incline_pct", incline_pct, GRADE_MIN_PCT,
                                       GRADE_MAX_PCT, " %")
        self.dt_s = check_range("dt_s", dt_s, 1e-4, 0.1, " s")
        self.physics_dt_s = check_range("physics_dt_s", physics_dt_s, 1e-4, 0.01, " s")
        self.gait_params = GaitParams() if gait_params is None else gait_params
        self._pb = pybullet
        self._anterior = 1.0 if self.facing is Facing.REAR else -1.0  # +x is the rear
        h = self.height_m
        self.leg_length_m = LEG_LENGTH_PER_HEIGHT * h  # as layers 1 and 2
        self.thigh_m, self.shank_m = THIGH[1] * h, SHANK[1] * h
        self.ankle_m, self.foot_m = ANKLE_HEIGHT_PER_HEIGHT * h, FOOT[1] * h
        # Centres of the sole spheres along x from the ankle: the +x one and the -x one.
        heel_m = ANKLE_FROM_HEEL_PER_FOOT * self.foot_m - SOLE_RADIUS_M
        toe_m = (1 - ANKLE_FROM_HEEL_PER_FOOT) * self.foot_m - SOLE_RADIUS_M
        self._plus_m, self._minus_m = ((toe_m, -heel_m) if self._anterior > 0
                                       else (heel_m, -toe_m))
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
        with contextlib.suppress(Exception):  # at interpreter exit pybullet may be gone
            self.close()

    # --- the model ----------------------------------------------------------------------
    def _build(self) -> None:
        pb, c = self._pb, self._client
        pb.setTimeStep(self.physics_dt_s, physicsClientId=c)
        pb.setPhysicsEngineParameter(numSolverIterations=SOLVER_ITERATIONS, physicsClientId=c)
        self._deck = pb.createMultiBody(0.0, pb.createCollisionShape(pb.GEOM_PLANE,
                                                                     physicsClientId=c),
                                        physicsClientId=c)
        # Heel and toe spheres at the sole, in the foot's frame (origin at the ankle).
        sole_z = SOLE_RADIUS_M - self.ankle_m
        foot_shape = pb.createCollisionShapeArray(
            [pb.GEOM_SPHERE] * 2, radii=[SOLE_RADIUS_M] * 2,
            collisionFramePositions=[[self._plus_m, 0, sole_z], [self._minus_m, 0, sole_z]],
            physicsClientId=c)
        tiny_kg = 1e-3  # each slider of the planariser; taken off the HAT
        y_axis = [0, 1, 0]
        # (mass, inertia about y, joint position in the parent, centre of mass, parent, type, axis)
        links = [(tiny_kg, 1e-6, [0, 0, 0], [0, 0, 0], 0, pb.JOINT_PRISMATIC, [1, 0, 0]),
                 (tiny_kg, 1e-6, [0, 0, 0], [0, 0, 0], 1, pb.JOINT_PRISMATIC, [0, 0, 1]),
                 (*self._segment(HAT, -2 * tiny_kg), 2, pb.JOINT_REVOLUTE, y_axis)]
        for _ in range(2):
            thigh = len(links) + 1  # parent indices count the base as 0
            links += [(*self._segment(THIGH), 3, pb.JOINT_REVOLUTE, y_axis),
                      (*self._segment(SHANK, at_m=-self.thigh_m), thigh, pb.JOINT_REVOLUTE,
                       y_axis),
                      (*self._segment(FOOT, at_m=-self.shank_m), thigh + 1, pb.JOINT_REVOLUTE,
                       y_axis)]
        self._walker = pb.createMultiBody(
            0.0, -1, -1, [0, 0, 0],
            linkMasses=[lk[0] for lk in links],
            linkCollisionShapeIndices=[-1] * 5 + [foot_shape] + [-1] * 2 + [foot_shape],
            linkVisualShapeIndices=[-1] * len(links), linkPositions=[lk[2] for lk in links],
            linkOrientations=[[0, 0, 0, 1]] * len(links),
            linkInertialFramePositions=[lk[3] for lk in links],
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * len(links),
            linkParentIndices=[lk[4] for lk in links], linkJointTypes=[lk[5] for lk in links],
            linkJointAxis=[lk[6] for lk in links], physicsClientId=c)
        for i, lk in enumerate(links):
            pb.changeDynamics(self._walker, i, localInertiaDiagonal=[lk[1]] * 3,
                              linearDamping=0.0, angularDamping=0.0, jointDamping=0.0,
                              lateralFriction=BELT_FRICTION, physicsClientId=c)
        for foot in (5, 8):
            pb.changeDynamics(self._walker, foot, contactStiffness=SOLE_STIFFNESS_N_PER_M,
                              contactDamping=SOLE_DAMPING_NS_PER_M, physicsClientId=c)
        pb.changeDynamics(self._deck, -1, lateralFriction=BELT_FRICTION, physicsClientId=c)
        for joint in (0, 1):  # free sliders: no motor
            pb.setJointMotorControl2(self._walker, joint, pb.VELOCITY_CONTROL, force=0.0,
                                     physicsClientId=c)
        self.model_mass_kg = float(sum(lk[0] for lk in links))
        self._joints = list(range(2, 9))  # pelvis pitch; left hip, knee, ankle; right ...
        limit_nm = JOINT_TORQUE_LIMIT_NM_PER_KG * self.mass_kg
        self._max_torque_nm = [100 * limit_nm] + [limit_nm] * 6  # the trunk is held firmly

    def _segment(self, seg: tuple, less_kg: float = 0.0, at_m: float = 0.0) -> tuple:
        """Mass, inertia, joint position and centre of mass of one Winter segment."""
        frac, per_h, com, gyration = seg
        mass, length = frac * self.mass_kg + less_kg, per_h * self.height_m
        if seg is FOOT:
            com_xyz = [self._anterior * (com - ANKLE_FROM_HEEL_PER_FOOT) * length, 0,
                       -0.5 * self.ankle_m]
        else:
            com_xyz = [0, 0, (1 if seg is HAT else -1) * com * length]
        return mass, mass * (gyration * length) ** 2, [0, 0, at_m], com_xyz

    # --- the gait trajectory ------------------------------------------------------------
    def _plan(self, t_s: np.ndarray, gait: GaitState, belt_mps: float) -> dict:
        """Pelvis position, joint angles (pelvis pitch, left hip, knee, ankle, right hip,
        knee, ankle) and each foot's planned stance at times ``t_s`` (left contact at 0)."""
        grid = np.linspace(0.0, gait.stride_time_s, 400)
        for lift_m in np.arange(0.0, 0.3, 0.005):  # the least lift that clears the belt
            if self._clearance_m(grid, gait, belt_mps, lift_m) >= SWING_CLEARANCE_M:
                break
        xh, zh = self._pelvis(gait, belt_mps, lift_m, grid)(t_s)
        first_w, last_w, _, _ = self._rockers(gait)
        plan = {"pelvis_x_m": xh, "pelvis_z_m": zh}
        angles = [np.zeros_like(t_s)]  # the pelvis is held upright
        for phase, side in ((0.0, "left"), (0.5, "right")):
            xa, za, foot, on = self._ankle(t_s, gait, belt_mps, phase, lift_m)
            thigh, knee = self._leg_angles(xh, zh, xa, za)
            angles += [thigh, knee, foot - thigh - knee]
            w = np.mod(t_s / gait.stride_time_s - phase, 1.0)
            plan[f"{side}_stance"] = on
            plan[f"{side}_flat"] = (w >= first_w) & (w <= gait.stance_fraction - last_w)
        plan["joints_rad"] = np.stack(angles, axis=1)
        return plan

    def _pelvis(self, gait: GaitState, belt_mps: float, lift_m: float, grid: np.ndarray):
        """The hip's path as a function of time: an inverted pendulum over the stance foot."""
        stride_s, s, v = gait.stride_time_s, gait.stance_fraction, gait.speed_mps
        l1, l2 = self.thigh_m, self.shank_m
        # Hip-ankle distance with the midstance knee flexion, and the drop of a rigid leg
        # of that length over single support (the pendulum's arc).
        mid_m = math.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * math.cos(KNEE_FLEXION_MIDSTANCE_RAD))
        half_single_m = min(0.5 * v * (1 - s) * stride_s, 0.9 * mid_m)
        drop_m = mid_m - math.sqrt(mid_m**2 - half_single_m**2)
        # Ideal exchange of potential and kinetic energy: (1/2)((v + c)^2 - (v - c)^2) = g drop.
        surge_mps = STANDARD_GRAVITY_MPS2 * drop_m / (2 * v) if v > 0 else 0.0
        omega = 4 * math.pi / stride_s
        t_high_s = 0.5 * s * stride_s  # left midstance: hip highest and slowest
        # The sole springs give under the weight (two contact points on a flat foot).
        sink_m = self.mass_kg * STANDARD_GRAVITY_MPS2 / (2 * SOLE_STIFFNESS_N_PER_M)

        def path(t: np.ndarray, crouch_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
            x = (belt_mps - v) * t + surge_mps / omega * np.sin(omega * (t - t_high_s))
            z = (self.ankle_m + mid_m - 0.5 * drop_m - crouch_m - sink_m
                 + 0.5 * drop_m * np.cos(omega * (t - t_high_s)))
            return x, z

        # Lower the hip where a leg would otherwise be over-stretched.
        reach_m = MAX_LEG_EXTENSION * (l1 + l2)
        xh, zh = path(grid)
        crouch_m = 0.0
        for phase in (0.0, 0.5):
            xa, za, _, _ = self._ankle(grid, gait, belt_mps, phase, lift_m)
            dx = np.abs(xa - xh)
            if np.any(dx >= reach_m):
                raise ValueError(f"speed_mps = {v!r}: the steps are too long for legs of "
                                 f"{l1 + l2:.2f} m (height_m = {self.height_m!r})")
            crouch_m = max(crouch_m, float(np.max(zh - za - np.sqrt(reach_m**2 - dx**2))))
        return lambda t: path(t, crouch_m)

    def _rockers(self, gait: GaitState) -> tuple[float, float, float, float]:
        """Windows (fractions of the stride) and foot angles of the first and last rocker.

        Forwards (Perry [M]): the heel lands and the foot rolls flat over the opening
        double support; from heel-off at half the stance it rolls onto the toe until it
        lifts. Backwards: the same, time-reversed.
        """
        s = gait.stance_fraction
        heel_w, toe_w = max(s - 0.5, 1e-3), 0.5 * s
        if walks_backward(self.facing):
            return toe_w, heel_w, FOOT_ANGLE_TOE_OFF_RAD, FOOT_ANGLE_HEEL_STRIKE_RAD
        return heel_w, toe_w, FOOT_ANGLE_HEEL_STRIKE_RAD, FOOT_ANGLE_TOE_OFF_RAD

    def _stance(self, t_s, gait: GaitState, belt_mps: float, phase: float, cycle, w):
        """Ankle position and foot angle in stance (stride ``cycle``, stance phase ``w``).

        The sole is pinned to the belt; on a rocker it rolls on its heel or toe sphere
        without slipping. The flat foot's ankle passes under the mean hip half-way
        through foot-flat. The foot angle turns about +y (positive lowers the +x end).
        """
        stride_s, s, v = gait.stride_time_s, gait.stance_fraction, gait.speed_mps
        first_w, last_w, first_rad, last_rad = self._rockers(gait)
        t_ref = (cycle + phase + 0.5 * (first_w + s - last_w)) * stride_s
        x_flat = (belt_mps - v) * t_ref + belt_mps * (t_s - t_ref)
        on = np.clip(w / first_w, 0.0, 1.0)
        off = np.clip((w - (s - last_w)) / last_w, 0.0, 1.0)
        # The foot turns fastest as it lands and as it lifts, and joins foot-flat
        # smoothly; the time-reversed shape is the same, so it serves both directions.
        first, last = 1 - np.sin(0.5 * np.pi * on), 1 - np.cos(0.5 * np.pi * off)
        angle = np.where(w < first_w, first_rad * first, -last_rad * last)
        c = np.where(w < first_w, self._plus_m, self._minus_m)
        rise_m = self.ankle_m - SOLE_RADIUS_M
        x = x_flat + c + SOLE_RADIUS_M * angle - c * np.cos(angle) + rise_m * np.sin(angle)
        z = SOLE_RADIUS_M + c * np.sin(angle) + rise_m * np.cos(angle)
        return x, z, angle

    def _ankle(self, t_s: np.ndarray, gait: GaitState, belt_mps: float, phase: float,
               lift_m: float):
        """Ankle position, foot angle and stance flag of the foot landing at stride ``phase``.

        Swing: ankle and foot angle on minimum-jerk paths from lift-off to the next
        landing, matching position and rate at both ends (the foot leaves and meets the
        belt at belt speed), the ankle raised by a further ``lift_m`` mid-swing.
        """
        stride_s, s = gait.stride_time_s, gait.stance_fraction
        cycle = np.floor(t_s / stride_s - phase)
        w = t_s / stride_s - phase - cycle
        x, z, angle = self._stance(t_s, gait, belt_mps, phase, cycle, np.minimum(w, s))
        eps_s = 1e-4 * stride_s
        ends = []  # (value, rate) of x, z and foot angle at lift-off and at the next landing
        for t_end, shift, w_end, sign in ((s - w, 0.0, s, -1.0), (1.0 - w, 1.0, 0.0, 1.0)):
            t = t_s + t_end * stride_s
            a = self._stance(t, gait, belt_mps, phase, cycle + shift, w_end)
            b = self._stance(t + sign * eps_s, gait, belt_mps, phase, cycle + shift,
                             w_end + sign * eps_s / stride_s)
            ends.append([(p, (q - p) / (sign * eps_s)) for p, q in zip(a, b, strict=True)])
        r = np.clip((w - s) / (1 - s), 0.0, 1.0)
        span_s = (1 - s) * stride_s
        (x0, v0), (z0, vz0), (a0, va0) = ends[0]
        (x1, v1), (z1, vz1), (a1, va1) = ends[1]
        z_swing = self._min_jerk(r, span_s, z0, vz0, z1, vz1) + lift_m * np.sin(np.pi * r) ** 2
        angle_swing = self._min_jerk(r, span_s, a0, va0, a1, va1)
        # Along the deck the ankle keeps its lift-off and landing velocities for a while
        # (the sole leaves and meets the belt at belt speed), so that a sole that brushes
        # the belt a little early or late does not scuff it.
        grip_s = SWING_GRIP_FRACTION * span_s
        r_mid = np.clip((r * span_s - grip_s) / (span_s - 2 * grip_s), 0.0, 1.0)
        x_mid = self._min_jerk(r_mid, span_s - 2 * grip_s, x0 + v0 * grip_s, v0,
                               x1 - v1 * grip_s, v1)
        x_swing = np.where(r * span_s < grip_s, x0 + v0 * r * span_s,
                           np.where((1 - r) * span_s < grip_s, x1 - v1 * (1 - r) * span_s,
                                    x_mid))
        swing = (x_swing, z_swing, angle_swing)
        on = w < s
        return (*(np.where(on, a, b) for a, b in zip((x, z, angle), swing, strict=True)), on)

    @staticmethod
    def _min_jerk(r, span_s, p0, v0, p1, v1):
        """Quintic from (p0, v0) to (p1, v1) over ``span_s``, zero acceleration at both ends."""
        h0, h1 = 1 - 10 * r**3 + 15 * r**4 - 6 * r**5, r - 6 * r**3 + 8 * r**4 - 3 * r**5
        h3, h4 = 10 * r**3 - 15 * r**4 + 6 * r**5, -4 * r**3 + 7 * r**4 - 3 * r**5
        return h0 * p0 + h1 * span_s * v0 + h3 * p1 + h4 * span_s * v1

    def _clearance_m(self, grid: np.ndarray, gait: GaitState, belt_mps: float,
                     lift_m: float) -> float:
        """Mid-swing height of the lowest point of the sole (less if it touches earlier)."""
        _, za, foot, on = self._ankle(grid, gait, belt_mps, 0.0, lift_m)
        sole = (za - (self.ankle_m - SOLE_RADIUS_M) * np.cos(foot) - SOLE_RADIUS_M
                - np.maximum(self._plus_m * np.sin(foot), self._minus_m * np.sin(foot)))
        r = (grid / gait.stride_time_s - gait.stance_fraction) / (1 - gait.stance_fraction)
        mid = ~on & (np.abs(r - 0.5) < 0.25)
        return min(float(np.min(sole[~on], initial=math.inf)) + SWING_CLEARANCE_M,
                   float(np.min(sole[mid], initial=math.inf)))

    def _leg_angles(self, xh, zh, xa, za) -> tuple[np.ndarray, np.ndarray]:
        """Thigh and knee angles (about +y) putting the ankle at (xa, za), knee in front."""
        l1, l2 = self.thigh_m, self.shank_m
        dx, dz = xa - xh, za - zh
        d = np.clip(np.hypot(dx, dz), abs(l1 - l2) + 1e-3, l1 + l2 - 1e-6)
        ex, ez = dx / d, dz / d
        along = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
        across = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
        nx, nz = -self._anterior * ez, self._anterior * ex  # the knee bends towards the front
        kx, kz = xh + along * ex + across * nx, zh + along * ez + across * nz
        thigh = np.arctan2(-(kx - xh), -(kz - zh))
        return thigh, np.arctan2(-(xa - kx), -(za - kz)) - thigh

    # --- running it ---------------------------------------------------------------------
    def _gait(self, speed_mps: float, incline_pct: float) -> GaitState:
        gait = gait_at(speed_mps, self.facing, incline_pct, self.gait_params, self.leg_length_m)
        if gait.running_required:
            raise ValueError(f"speed_mps = {speed_mps!r} needs running (walk-run speed "
                             f"{gait.walk_run_speed_mps:.2f} m/s); the biped only walks")
        return gait

    def simulate(self, speed_mps: float, belt_speed_mps: float | None = None,
                 n_strides: float = 3.0, incline_pct: float | None = None,
                 record_feet: bool = False) -> MultibodyRun:
        """Run the biped for ``n_strides`` strides from a left foot contact at t = 0.

        ``speed_mps`` is the walking speed relative to the belt (it sets the gait),
        ``belt_speed_mps`` the speed of the belt's top surface (default: the same, so
        the walker keeps its place; otherwise it drifts along the deck). Returns the
        forces on the belt after every physics step.
        """
        pb, c = self._pb, self._client
        if c is None:
            raise ValueError("the MultibodyWalker is closed")
        v = check_range("speed_mps", speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")
        belt = v if belt_speed_mps is None else check_range(
            "belt_speed_mps", belt_speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")
        grade = self.incline_pct if incline_pct is None else check_range(
            "incline_pct", incline_pct, GRADE_MIN_PCT, GRADE_MAX_PCT, " %")
        strides = check_range("n_strides", n_strides, 0.1, 1000.0)
        gait = self._gait(v, grade)
        duration_s = strides * gait.stride_time_s
        if abs(belt - v) * duration_s > MAX_DRIFT_M:
            raise ValueError(f"belt_speed_mps = {belt!r} with speed_mps = {v!r} carries the "
                             f"walker {abs(belt - v) * duration_s:.0f} m along the deck in "
                             f"{duration_s:.0f} s; at most {MAX_DRIFT_M} m is allowed")
        h = self.physics_dt_s
        n = math.ceil(duration_s / h)
        t = np.arange(n + 1) * h
        plan = self._plan(t, gait, belt)
        q = plan["joints_rad"]
        qd = np.gradient(q, h, axis=0)

        theta = grade_pct_to_rad(grade)  # front end up: gravity points towards the rear
        pb.setGravity(STANDARD_GRAVITY_MPS2 * math.sin(theta), 0.0,
                      -STANDARD_GRAVITY_MPS2 * math.cos(theta), physicsClientId=c)
        deck, walker, home = self._deck, self._walker, [0.0, 0.0, 0.0]
        pb.resetBasePositionAndOrientation(deck, home, [0, 0, 0, 1], physicsClientId=c)
        for joint, key in ((0, "pelvis_x_m"), (1, "pelvis_z_m")):
            pb.resetJointState(walker, joint, plan[key][0],
                               (plan[key][1] - plan[key][0]) / h, physicsClientId=c)
        for j, joint in enumerate(self._joints):
            pb.resetJointState(walker, joint, q[0, j], qd[0, j], physicsClientId=c)

        joints, torque_nm = self._joints, self._max_torque_nm
        targets, rates = q[1:].tolist(), qd[1:].tolist()
        gains = [1.0] * len(joints)
        control, contacts = pb.POSITION_CONTROL, pb.getContactPoints
        belt_velocity = [belt, 0.0, 0.0]
        force = np.zeros((n, 2))
        feet_vx = np.zeros((n, 2))
        deck_x_m = 0.0
        for k in range(n):
            pb.setJointMotorControlArray(walker, joints, control, targetPositions=targets[k],
                                         targetVelocities=rates[k], forces=torque_nm,
                                         positionGains=gains, velocityGains=gains,
                                         physicsClientId=c)
            pb.resetBaseVelocity(deck, belt_velocity, physicsClientId=c)
            pb.stepSimulation(physicsClientId=c)
            deck_x_m += belt * h
            if deck_x_m >= RECENTRE_M:  # a plane is unchanged by the shift
                pb.resetBasePositionAndOrientation(deck, home, [0, 0, 0, 1], physicsClientId=c)
                deck_x_m = 0.0
            fx = fz = 0.0
            for cp in contacts(walker, deck, physicsClientId=c):
                # The normal force pushes the foot (A) along the normal, from the deck (B)
                # towards A; for this pair (sole sphere on the deck plane) the friction
                # forces act on the foot along +dir1 and +dir2 (pybullet's convention
                # depends on the shape pair; the incline test pins it down).
                fn, nb, f1, d1, f2, d2 = cp[9], cp[7], cp[10], cp[11], cp[12], cp[13]
                fx -= fn * nb[0] + f1 * d1[0] + f2 * d2[0]
                fz += fn * nb[2] + f1 * d1[2] + f2 * d2[2]
            force[k] = fx, fz
            if record_feet:
                left, right = pb.getLinkStates(walker, [5, 8], computeLinkVelocity=1,
                                               physicsClientId=c)
                feet_vx[k] = left[6][0], right[6][0]
        return MultibodyRun(t[:-1], force[:, 0], force[:, 1], feet_vx[:, 0], feet_vx[:, 1],
                            plan["left_stance"][:-1], plan["right_stance"][:-1],
                            plan["left_flat"][:-1], plan["right_flat"][:-1], gait, h)

    def stride_forces(self, speed_mps: float, belt_speed_mps: float | None = None,
                      n_strides: int = 2, warmup_strides: int = 1,
                      incline_pct: float | None = None):
        """One steady stride, from a left foot contact: ``(t_s, fore_aft_n, normal_n)``
        sampled every ``dt_s`` (bin means), averaged over ``n_strides`` strides after
        ``warmup_strides`` strides from the planned start."""
        n_avg = int(check_range("n_strides", n_strides, 1, 100))
        warm = int(check_range("warmup_strides", warmup_strides, 0, 20))
        run = self.simulate(speed_mps, belt_speed_mps, warm + n_avg + 0.05, incline_pct)
        n = max(1, round(run.gait.stride_time_s / self.dt_s))
        fore_aft, normal = run.binned(warm * run.gait.stride_time_s, n, self.dt_s, n_avg)
        return np.arange(n) * self.dt_s, fore_aft, normal

    def step_forces(self, speed_mps: float, incline_pct: float, left: bool, dt_s: float):
        """Fore-aft force and normal load on the belt over one step, sampled every ``dt_s``
        from that foot's contact: the first two outputs of layer 2's
        ``Walker._step_forces`` (steady walking, belt speed = walking speed)."""
        dt = check_range("dt_s", dt_s, 1e-4, 0.1, " s")
        key = (float(speed_mps), float(incline_pct))
        run = self._cache.get(key)
        if run is None:
            run = self.simulate(speed_mps, None, 3.6, incline_pct)
            if len(self._cache) >= STEP_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = run
        stride_s = run.gait.stride_time_s
        n = max(1, round(0.5 * stride_s / dt))
        start_s = stride_s * (1.0 if left else 1.5)  # after a warm-up stride
        return run.binned(start_s, n, dt, 2)
