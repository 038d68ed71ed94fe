"""Layer 2 of the walker: a person keeping (or losing) their place on the deck.

The walker acts at each foot contact, and every 0.1 s in between adjusts its
speed to the belt; the plant plays back the forces of each step
(:mod:`.gait`) and integrates the walker's place on the deck:
``dp/dt = v_belt - u``, with ``u`` the walker's speed relative to the belt
towards the console (forwards or backwards, the walker travels towards the
console to stay in place).

At each contact (and, for its speed, in between) the walker

1. sets its speed to the belt speed it expects (:mod:`.perception`: what it
   felt a reaction delay ago, the median over its last step, carried forward
   along the ramp it felt) plus a correction towards its preferred place,
   capped at the walk-run speed of its direction (no running gait is
   modelled, so a faster belt carries the walker back: drift), and changed
   at a bounded rate;
2. tracks its balance error, the extrapolated centre of mass off its base
   (Hof et al. 2005 [C]): belt motion the walker did not expect moves the
   base from under the body; while the walker has not yet reacted (a
   stepping response needs at least 300 ms, Hof et al. 2010 [C]) the
   inverted pendulum lets that error grow as ``exp(omega0 t)`` with
   ``omega0 = sqrt(g / l)``; after that, ankle, hip and swing leg hold it
   for the next foot placement, and the ankle alone absorbs a few
   centimetres (2 cm sideways in Hof 2010 [C]; the foot is longer than it
   is wide, so the fore-aft allowance is a parameter [U]). Adopting a new
   belt speed moves the needed foot placement by ``dv / omega0`` (Hof 2008
   [C]). A step that lands the foot the error further along cancels it;
   what happened within the reaction delay before a contact waits for the
   next step. Growth is capped at the reaction delay rather than left to run
   a whole slow step, because people adjust the swinging foot mid-step:
   this is the layer's main simplification;
3. classifies the correction: within the normal step-to-step adjustment it
   just walks on; beyond it but within what one or two recovery steps can
   reach (maximum step length less the current step; rails add reach) it
   stumbles (balance returns within two steps, Hof 2010 [C]); beyond that it
   falls.

A fallen walker lies on the belt and is carried to the rear; a walker past
the rear edge has left the machine. The lanyard clip pulls the key out
when the walker's waist passes the cord's reach (ISO 20957-6 6.5.3: it must
release within 70 % of the running-surface length [C]) and when the walker
falls. Holding the handrails takes part of the weight off the belt and adds
reach to recover with.

Numbers marked [U] are assumptions, each a parameter.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import math
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from ...controllers.interface import BeltDirection
from ...controllers.units import STANDARD_GRAVITY_MPS2
from .energy import metabolic_rate, w_per_kg_to_vo2_ml_kg_min
from .gait import (
    HEIGHT_RANGE_M,
    MASS_RANGE_KG,
    Facing,
    GaitParams,
    check_range,
    foot_forces,
    gait_at,
    leg_length_from_height_m,
    walks_backward,
)
from .perception import expected_at, unexpected_motion

#: Resting metabolic rate, 1 MET (Compendium of Physical Activities [C]).
REST_VO2_ML_KG_MIN = 3.5
#: Muscle efficiency for pushing a non-motorised belt (typical 0.2-0.25 [M]).
PUSH_EFFICIENCY = 0.25
#: Below this belt speed the walker stands rather than walks.
STANDING_BELOW_MPS = 0.1
#: The steepest belt ramp a walker follows (extrapolates) once felt; steeper is a jolt [U].
MAX_FOLLOWED_ACCEL_MPS2 = 1.5
#: How fast a walker on a belt without a motor raises its effort for a speed shortfall,
#: in body weights per metre of accumulated shortfall [U].
PUSH_GAIN_PER_M = 0.2
#: The push falls to zero at this multiple of the preferred speed [U].
PUSH_ZERO_SPEED_FACTOR = 2.0
#: Step force profiles kept (speeds to the centimetre per second, grades to 0.1 %).
STEP_CACHE_SIZE = 512
#: A stumbling walker changes its walking speed this many times faster [U].
RECOVERY_SPEED_CHANGE_FACTOR = 3.0
#: Belt accelerations smaller than this go unnoticed [U].
UNNOTICED_ACCEL_MPS2 = 0.2
#: However slow the gait, a step of this length the other way is always available [U].
MIN_STEP_BACK_M = 0.3
#: A walker who turns round at a stop does so once the belt has stood still this long [U].
TURN_AFTER_STILL_S = 3.0
#: Between foot contacts a walker adjusts its speed to the belt this often [U].
FOLLOW_PERIOD_S = 0.1
#: The console stops the body, not the centre of mass: the centre stays half a torso's depth
#: behind it. Adult chest depth is roughly 0.13-0.15 of stature [U], so half of it.
CONSOLE_CLEARANCE_FRAC_OF_HEIGHT = 0.07
#: Within this of the console the walker is touching it.
_TOUCH_TOLERANCE_M = 0.005
#: While standing the walker re-checks its balance this often.
STANDING_CHECK_S = 0.1


#: Where the step forces come from: layer 1's force profiles, or the pybullet biped.
WALKER_LAYERS = ("balance", "multibody")


@contextlib.contextmanager
def _quiet_stdio():
    """Silence C-level output for a moment: pybullet writes its build time when it starts.

    Python exceptions are unaffected: they propagate after the streams are restored."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers go to /dev/null, not later to us
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


class WalkerState(enum.IntEnum):
    """What the walker is doing; the codes go into the trace."""

    NONE = 0  # no walker in the scenario
    ON_RAILS = 1  # standing on the side rails, off the belt
    STANDING = 2
    WALKING = 3
    STUMBLING = 4
    FALLEN = 5  # lying on the belt
    OFF_REAR = 6  # has left the machine over the rear edge


@dataclass(frozen=True, slots=True)
class WalkerParams:
    """Who walks and how. Keys of the scenario's ``[walker]`` table."""

    mass_kg: float = 70.0
    height_m: float = 1.75
    facing: Facing = Facing.CONSOLE  # "rear" = walking backwards
    lanyard: bool = True
    holds_handrails: bool = False
    grabs_rails_on_stumble: bool = False  # [U] reaches for the rails when stumbling
    step_on_at_s: float = 0.0  # stands on the side rails until then
    step_off_at_s: float = math.inf  # steps back onto the side rails then
    preferred_position_frac: float = 0.45  # [U] of the running length, from the front
    reaction_delay_s: float = 0.3  # stepping response >= 300 ms (Hof 2010 [C])
    ankle_cop_m: float = 0.05  # [U] fore-aft centre-of-pressure allowance (2 cm sideways [C])
    position_gain_per_s: float = 0.5  # [U] how fast the walker returns to its place
    max_speed_change_mps2: float = 1.0  # [U] step-to-step change of walking speed
    # [U] a step adjustment larger than this is reported as a stumble. Calibrated, not
    # measured: the largest balance error the 0.5 mph increments the backward-walking guides
    # advise give on the home preset's ramp is 0.38 m in the twin, so the threshold sits just
    # above it and those steps stay routine. A belt that starts under a standing person
    # (Owings 2001, 0.89 m/s) makes those who react in 0.3 s or later stumble or fall, but a
    # quick reaction takes it in a routine first step (Owings' subjects all stepped); the
    # short 0.53-1.03 m/s pulses of JNER 2021 do not (errors 0.1-0.38 m), because this layer
    # weighs short pulses by the belt travel they cause: known limits of the layer.
    normal_adjustment_m: float = 0.40
    max_forward_step_per_leg: float = 1.1  # [U] longest step forwards, in leg lengths
    max_backward_step_per_leg: float = 0.8  # [U] longest step backwards, in leg lengths
    rail_support_frac: float = 0.15  # [U] body weight carried by the rails when holding
    rail_recovery_m: float = 0.35  # [U] extra reach the arms give on the rails
    lanyard_reach_frac: float = 0.70  # release within 70 % of the running length [C]
    self_propelled: bool | None = None  # pushes the belt; default: machines without a motor
    own_pace: bool = False  # walks at preferred_speed_mps whatever the belt does (self-paced)
    layer: str = "balance"  # foot forces from the gait layer ("balance") or pybullet ("multibody")
    turns_when_stopped: bool = False  # turns round whenever the belt stands still (intervals)
    preferred_speed_mps: float | None = None  # self-propelled walking speed
    max_push_bw: float = 0.3  # [U] largest steady push on the belt, in body weights
    # Stride-to-stride variability of stride time, a coefficient of variation: healthy young
    # adults 1.3 % (Hausdorff et al. 1999 [C]). 0: every stride as the gait model has it.
    stride_time_cv: float = 0.0
    population: str | None = None  # draw the person from this population (population.py)
    gait: GaitParams = field(default_factory=GaitParams)

    def __post_init__(self) -> None:
        check_range("mass_kg", self.mass_kg, *MASS_RANGE_KG, " kg")
        check_range("height_m", self.height_m, *HEIGHT_RANGE_M, " m")
        if not isinstance(self.facing, Facing):
            raise ValueError(f"facing must be 'console' or 'rear', got {self.facing!r}")
        check_range("step_on_at_s", self.step_on_at_s, 0.0, math.inf, " s")
        if not self.step_off_at_s > self.step_on_at_s:
            raise ValueError(
                f"step_off_at_s = {self.step_off_at_s!r} must come after step_on_at_s ="
                f" {self.step_on_at_s!r}"
            )
        check_range("preferred_position_frac", self.preferred_position_frac, 0.1, 0.9)
        check_range("reaction_delay_s", self.reaction_delay_s, 0.05, 2.0, " s")
        check_range("ankle_cop_m", self.ankle_cop_m, 0.0, 0.2, " m")
        check_range("position_gain_per_s", self.position_gain_per_s, 0.0, 5.0, " 1/s")
        check_range("max_speed_change_mps2", self.max_speed_change_mps2, 0.05, 10.0, " m/s^2")
        check_range("normal_adjustment_m", self.normal_adjustment_m, 0.0, 0.5, " m")
        check_range("max_forward_step_per_leg", self.max_forward_step_per_leg, 0.3, 2.0)
        check_range("max_backward_step_per_leg", self.max_backward_step_per_leg, 0.2, 2.0)
        check_range("rail_support_frac", self.rail_support_frac, 0.0, 0.9)
        check_range("rail_recovery_m", self.rail_recovery_m, 0.0, 2.0, " m")
        check_range("lanyard_reach_frac", self.lanyard_reach_frac, 0.1, 1.0)
        check_range("max_push_bw", self.max_push_bw, 0.0, 1.0)
        check_range("stride_time_cv", self.stride_time_cv, 0.0, 0.2)
        if self.layer not in WALKER_LAYERS:
            raise ValueError(f"layer = {self.layer!r}; allowed: {', '.join(WALKER_LAYERS)}")
        if self.preferred_speed_mps is not None:
            check_range("preferred_speed_mps", self.preferred_speed_mps, 0.1, 3.0, " m/s")

    @property
    def leg_length_m(self) -> float:
        """Leg length from stature (0.53 x height, Winter [M])."""
        return leg_length_from_height_m(self.height_m)

    @property
    def omega0_per_s(self) -> float:
        """Eigenfrequency of the inverted pendulum, sqrt(g / l) (Hof 2005 [C])."""
        return math.sqrt(STANDARD_GRAVITY_MPS2 / self.leg_length_m)


@dataclass(frozen=True, slots=True)
class WalkerEvent:
    """Something the walker did (the engine turns these into run events)."""

    t_s: float
    kind: str
    detail: str


class Walker:
    """A walker on one treadmill, stepped by the engine at each foot contact.

    The walker reads ground truth from the simulated treadmill (a person
    feels the real belt) and writes its forces and speed back through the
    treadmill's walker inputs; controllers never see any of it. The belt
    runs in its normal direction (a walker on a belt that reverses under it
    is not modelled).
    """

    def __init__(self, params: WalkerParams, running_length_m: float, self_propelled: bool,
                 physics_dt_s: float, record_period_s: float,
                 rng: np.random.Generator | None = None) -> None:
        if params.stride_time_cv > 0.0 and rng is None:
            raise ValueError("a walker with stride_time_cv > 0 needs a random generator")
        self.params = params
        self._rng = rng  # the run's walker.steps stream
        self.drawn: dict[str, float] = {}  # what a population draw gave this person, if any
        self.running_length_m = running_length_m
        self.self_propelled = (self_propelled if params.self_propelled is None
                               else params.self_propelled)
        self.dt_s = physics_dt_s
        self.record_period_s = record_period_s
        self.preferred_pos_m = params.preferred_position_frac * running_length_m
        self._turned = False  # has turned round during the current stop
        self._at_console = False  # the body is against the console
        self._face(params.facing)
        self.state = WalkerState.ON_RAILS
        self.events: list[WalkerEvent] = []
        self.fell = False
        self._speed_mps = 0.0  # u: relative to the belt, towards the console
        self._last_interval_s = 0.0  # the last step's duration: how long the walker feels over
        self._window_s = STANDING_CHECK_S
        self._next_contact_s = 0.0
        # Walkers follow the belt their feet are on within each step too (a self-paced
        # walker keeps its own speed instead).
        self._follows = not params.own_pace
        self._eps_m = 0.0  # divergent-motion error: how far the base is off where it should be
        self._push_n = 0.0
        self._step_cache: dict = {}
        self._biped = None  # the layer-3 pybullet biped, when params.layer == "multibody"
        self._last_t_s = 0.0
        self._balance_from_s = 0.0  # unexpected motion counts from here (the last correction)
        self._left_next = True
        self._step_m = 0.0
        self._holding = params.holds_handrails
        self._saturated = False
        self._last_travel_m = 0.0
        self._perceived_sums: tuple = (None, None)  # (lo, since, window), resumable sums

    def _face(self, facing: Facing) -> None:
        """Set (or turn to) a facing: what depends on the walking direction follows it."""
        self.params = replace(self.params, facing=facing)
        p = self.params
        self.backward = walks_backward(facing, BeltDirection.FORWARD)
        leg = p.leg_length_m
        self.max_step_m = leg * (p.max_backward_step_per_leg if self.backward
                                 else p.max_forward_step_per_leg)
        self.walk_run_mps = gait_at(0.5, facing, 0.0, p.gait, leg).walk_run_speed_mps
        default_speed = 0.9 if self.backward else 1.2  # [U] comfortable speeds on a manual belt
        self.preferred_speed_mps = p.preferred_speed_mps or default_speed
        self._step_cache = {}
        self._still_since_s: float | None = None

    def _maybe_turn(self, now_s: float, belt_mps: float) -> None:
        """Turn round once the belt has stood still long enough (interval routines)."""
        if not self.params.turns_when_stopped:
            return
        if abs(belt_mps) >= STANDING_BELOW_MPS:
            self._still_since_s = None
            self._turned = False
            return
        if self._turned:
            return  # once per stop
        if self._still_since_s is None:
            self._still_since_s = now_s
        elif now_s - self._still_since_s >= TURN_AFTER_STILL_S:
            self._turned = True
            facing = Facing.REAR if self.params.facing is Facing.CONSOLE else Facing.CONSOLE
            self._face(facing)
            towards = "rear" if facing is Facing.REAR else "console"
            self._event(now_s, "turn_round",
                        f"the belt has stopped: the walker turns to face the {towards}")

    # --- what the engine calls ------------------------------------------------------------
    def start(self, treadmill) -> float:
        """Before the run: the walker stands on the side rails. Returns when to act first."""
        self._off_belt(treadmill, WalkerState.ON_RAILS)
        return self.params.step_on_at_s

    def _off_belt(self, treadmill, state: WalkerState) -> None:
        vo2 = math.nan if state is WalkerState.OFF_REAR else self._standing_vo2(0.0)
        treadmill.set_walker_step(0.0, np.zeros(1), np.zeros(1), state, vo2)
        treadmill.remove_walker()

    def _standing_vo2(self, incline_pct: float) -> float:
        grade = max(min(incline_pct, 45.0), -40.0)  # the LCDA equation's range
        return metabolic_rate(0.0, grade, self.params.facing, self.params.mass_kg).vo2_ml_kg_min

    def act(self, now_s: float, treadmill) -> float | None:
        """One foot contact (standing: a balance check). Returns the time to the next one,
        or None when the walker is done with the belt."""
        if self.state is WalkerState.ON_RAILS:
            if now_s >= self.params.step_off_at_s:
                return None
            return self._step_on(now_s, treadmill)
        if self.state is WalkerState.OFF_REAR:
            return None
        pos_m = treadmill.truth_walker_pos_m()
        if pos_m > self.running_length_m:
            return self._leave_over_rear(now_s, treadmill, pos_m)
        self._check_console(now_s, pos_m)
        if self.state is WalkerState.FALLEN:
            return self._lie(now_s, treadmill)
        if now_s < self._next_contact_s - 1e-9 and now_s < self.params.step_off_at_s:
            return self._follow(now_s, treadmill, pos_m)
        if now_s >= self.params.step_off_at_s:
            self._event(now_s, "step_off", "the walker steps back onto the side rails")
            self.state = WalkerState.ON_RAILS
            self._off_belt(treadmill, WalkerState.ON_RAILS)
            return None
        return self._contact(now_s, treadmill, pos_m)

    def trip(self, now_s: float, error_m: float) -> str:
        """A misplaced foot (fault injection): the body is off its base by ``error_m``."""
        if self.state not in (WalkerState.STANDING, WalkerState.WALKING, WalkerState.STUMBLING):
            return "no effect: the walker is not on its feet"
        self._eps_m += error_m
        return f"the walker misplaces a foot: balance error {error_m:+.2f} m"

    # --- the pieces ------------------------------------------------------------------------
    def _lanyard_reach_m(self) -> float:
        return self.params.lanyard_reach_frac * self.running_length_m

    @property
    def console_clearance_m(self) -> float:
        """Nearest the centre of mass comes to the front of the deck: the body is against
        the console there."""
        return CONSOLE_CLEARANCE_FRAC_OF_HEIGHT * self.params.height_m

    def _check_console(self, now_s: float, pos_m: float) -> None:
        touching = pos_m <= self.console_clearance_m + _TOUCH_TOLERANCE_M
        if touching and not self._at_console:
            what = "lying" if self.state is WalkerState.FALLEN else "on their feet"
            self._event(now_s, "console_contact",
                        f"the walker ({what}) is carried against the console, its centre of"
                        f" mass {pos_m:.2f} m from the front of the deck")
        self._at_console = touching

    def _event(self, t_s: float, kind: str, detail: str) -> None:
        self.events.append(WalkerEvent(t_s, kind, detail))

    def _step_on(self, now_s: float, treadmill) -> float:
        reach = self._lanyard_reach_m() if self.params.lanyard else math.nan
        treadmill.place_walker(self.preferred_pos_m, reach, self.console_clearance_m)
        belt = treadmill.truth_belt_speed_mps()
        self._eps_m = 0.0
        self._last_interval_s = 0.0
        self._speed_mps = belt  # steps on walking at the belt's speed
        self._last_t_s = now_s
        self._balance_from_s = now_s
        self._last_travel_m = treadmill.truth_belt_travel_m()
        self.state = WalkerState.STANDING
        self._event(now_s, "step_on", f"the walker steps onto the belt moving at {belt:.2f} m/s")
        return self._contact(now_s, treadmill, self.preferred_pos_m)

    def _advance_balance(self, treadmill, since_s: float, now_s: float,
                         window_s: float) -> tuple[float, float]:
        """The balance error now, and the part of it the walker has perceived.

        Belt motion the walker did not expect, ``(v_belt - v_expected) dt``, moves the base
        from under the body, and a belt running faster or slower than expected leaves the
        body moving relative to its feet: the extrapolated centre of mass is off by the
        displacement plus ``dv / omega0`` (Hof 2005, 2008; ``dv`` as the step's mean).
        Until the walker reacts, the inverted pendulum lets the displacement grow as
        ``exp(omega0 t)``, for at most the reaction delay, after which ankle, hip and swing
        leg hold it for the next foot placement. Errors within the ankle's allowance do not
        grow. What happened within the last reaction delay is not perceived yet.
        Returns (error, perceived error).
        """
        p = self.params
        trace = treadmill.trace()
        t = trace["t_s"]
        lo = int(np.searchsorted(t, since_s + 1e-9))
        hi = int(np.searchsorted(t, now_s + 1e-9))
        if hi <= lo:
            return self._eps_m, self._eps_m
        # A standing walker judges all the motion since its last step again at each check:
        # the rows already a reaction delay old are summed once and resumed from.
        key = (lo, since_s, window_s)
        resume = self._perceived_sums[1] if self._perceived_sums[0] == key else (
            lo, 0.0, 0.0, 0, since_s)
        fresh, fresh_seen, *sums = unexpected_motion(
            t, trace["belt_speed_mps"], lo, hi, since_s, now_s, p.omega0_per_s,
            self.record_period_s, p.reaction_delay_s, window_s, self.self_propelled,
            UNNOTICED_ACCEL_MPS2, MAX_FOLLOWED_ACCEL_MPS2, *resume)
        self._perceived_sums = (key, tuple(sums))
        excess = max(abs(fresh) - p.ankle_cop_m, 0.0)
        scale = excess / abs(fresh) if fresh else 0.0
        return self._eps_m + fresh * scale, self._eps_m + fresh_seen * scale

    def _contact(self, now_s: float, treadmill, pos_m: float) -> float:
        p = self.params
        interval = now_s - self._last_t_s
        window_s = max(self._last_interval_s, STANDING_CHECK_S)  # one step, as felt
        self._last_interval_s = interval
        eps, perceived = self._advance_balance(treadmill, self._balance_from_s, now_s, window_s)
        expected_mps, ramp_mps2 = self._expected_now(treadmill, window_s)
        treadmill.set_walker_balance(eps)

        walking = abs(expected_mps) >= STANDING_BELOW_MPS or self.self_propelled
        if not walking:
            self._maybe_turn(now_s, treadmill.truth_belt_speed_mps())
        reserve_m = self._reserve_m(perceived)
        rails_m = p.rail_recovery_m if (self._holding or p.grabs_rails_on_stumble) else 0.0
        capacity_m = 2.0 * reserve_m + rails_m
        if abs(perceived) > capacity_m:
            return self._fall(now_s, treadmill, perceived, capacity_m)
        if abs(perceived) > p.normal_adjustment_m:
            if not self._holding and p.grabs_rails_on_stumble:
                self._holding = True
                self._event(now_s, "rail_grab", "the walker grabs the handrails")
            reach_m = reserve_m + (p.rail_recovery_m if self._holding else 0.0)
            correction = math.copysign(min(abs(perceived), reach_m), perceived)
            self.state = WalkerState.STUMBLING
            self._event(now_s, "stumble",
                        f"a recovery step of {abs(correction):.2f} m for a balance error of"
                        f" {abs(perceived):.2f} m")
        elif walking or self.state is not WalkerState.STANDING:
            correction = perceived  # this step's foot placement takes it up
            self.state = WalkerState.WALKING if walking else WalkerState.STANDING
        else:
            # Standing, nothing but the ankles to balance with: an error beyond them is not
            # taken up until the walker steps, so it is judged again, over all the motion
            # since the last step, until walking starts (a routine first step) or it needs a
            # recovery step (a stumble).
            correction = None
        if correction is not None:
            self._eps_m = eps - correction
            self._balance_from_s = now_s

        target = self._target_speed(expected_mps, ramp_mps2, interval, pos_m)
        cap = 0.995 * self.walk_run_mps
        if target > cap and not self._saturated:
            self._saturated = True
            self._event(now_s, "walk_run_limit",
                        f"the belt asks for {target:.2f} m/s; this walker does not run and walks"
                        f" at most {cap:.2f} m/s, so it drifts back")
        elif target < 0.9 * cap:
            self._saturated = False
        # A step is planned at least a reaction delay ahead.
        step_s = max(interval, p.reaction_delay_s)
        speed = self._limited_speed(target, step_s) if walking else 0.0
        self._speed_mps = speed
        if self.self_propelled:
            self._regulate_push(treadmill, interval)
        self._last_t_s = now_s
        self._window_s = window_s
        duration_s = self._play_step(now_s, treadmill, speed, walking)
        self._next_contact_s = now_s + duration_s
        if walking and self._follows:
            return min(duration_s, FOLLOW_PERIOD_S)
        return duration_s

    def _limited_speed(self, target_mps: float, span_s: float) -> float:
        """The target speed within what the walker can change over ``span_s`` (three times
        faster while stumbling), and below its walk-run speed."""
        urgency = RECOVERY_SPEED_CHANGE_FACTOR if self.state is WalkerState.STUMBLING else 1.0
        max_change = urgency * self.params.max_speed_change_mps2 * span_s
        return min(max(target_mps, self._speed_mps - max_change, 0.0),
                   self._speed_mps + max_change, 0.995 * self.walk_run_mps)

    def _expected_now(self, treadmill, window_s: float) -> tuple[float, float]:
        """The belt speed the walker expects now and the ramp it follows (:mod:`.perception`)."""
        trace = treadmill.trace()
        row = len(trace) - 1  # the plant has just been brought to now: its newest row
        if row < 0:
            return treadmill.truth_belt_speed_mps(), 0.0
        expected, ramp = expected_at(trace["belt_speed_mps"], row, self.record_period_s,
                                     self.params.reaction_delay_s, window_s, self.self_propelled,
                                     UNNOTICED_ACCEL_MPS2, MAX_FOLLOWED_ACCEL_MPS2)
        return max(expected, 0.0), ramp

    def _target_speed(self, expected_mps: float, ramp_mps2: float, interval_s: float,
                      pos_m: float) -> float:
        """The walking speed that holds the walker's place on the deck: the belt's, as
        expected half a step ahead, plus a return towards its preferred place. Feet on the
        belt move with it, whatever moves it (on a belt without a motor, the walker's own
        push; see _regulate_push); a self-paced walker keeps its own speed."""
        p = self.params
        if p.own_pace:
            return self.preferred_speed_mps
        ahead_s = 0.5 * max(interval_s, p.reaction_delay_s)  # to the middle of the next step
        return (expected_mps + ramp_mps2 * ahead_s
                + p.position_gain_per_s * (pos_m - self.preferred_pos_m))

    def _follow(self, now_s: float, treadmill, pos_m: float) -> float:
        """Between foot contacts: keep matching the belt as it is felt (a reaction delay
        late), as people do within a step; the step's forces play on. Balance is judged at
        the contacts only."""
        expected_mps, ramp_mps2 = self._expected_now(treadmill, self._window_s)
        target = self._target_speed(expected_mps, ramp_mps2, self._window_s, pos_m)
        speed = self._limited_speed(target, FOLLOW_PERIOD_S)
        if speed != self._speed_mps:
            self._speed_mps = speed
            treadmill.set_walker_speed(speed)
        return min(FOLLOW_PERIOD_S, self._next_contact_s - now_s)

    def _reserve_m(self, error_m: float) -> float:
        """How far one step can move the foot to correct an error of this sign."""
        if error_m >= 0.0:
            return max(self.max_step_m - self._step_m, 0.05)  # a longer step
        return max(self._step_m, MIN_STEP_BACK_M)  # a shorter step, or a step back

    def _regulate_push(self, treadmill, interval_s: float) -> None:
        """On a belt without a motor, push it: the plant applies the push along the
        walker's force-velocity curve, and the walker adjusts its effort step by step
        until the belt runs at its preferred speed."""
        travel = treadmill.truth_belt_travel_m()
        belt_mps = (travel - self._last_travel_m) / interval_s if interval_s > 0 else 0.0
        self._last_travel_m = travel
        weight_n = self.params.mass_kg * STANDARD_GRAVITY_MPS2
        error = self.preferred_speed_mps - belt_mps
        self._push_n = min(max(self._push_n + PUSH_GAIN_PER_M * weight_n * error * interval_s,
                               0.0), self.params.max_push_bw * weight_n)
        treadmill.set_walker_push(self._push_n, PUSH_ZERO_SPEED_FACTOR * self.preferred_speed_mps)

    def _step_forces(self, speed_mps: float, incline_pct: float, left: bool):
        """Fore-aft force and normal load on the belt over one step, the step length and
        the metabolic rate, for a walking speed and grade (cached: a steady walker
        repeats the same few steps)."""
        key = (speed_mps, incline_pct, left)
        cached = self._step_cache.get(key)
        if cached is not None:
            return cached
        p = self.params
        gait = gait_at(speed_mps, p.facing, incline_pct, p.gait, p.leg_length_m)
        if p.layer == "multibody":
            fore_aft, normal = self._multibody().step_forces(speed_mps, incline_pct, left,
                                                             self.dt_s)
        else:
            n = max(1, round(gait.step_time_s / self.dt_s))
            offset = 0.0 if left else 0.5 * gait.stride_time_s
            forces = foot_forces(offset + np.arange(n) * self.dt_s, gait, p.mass_kg)
            fore_aft, normal = forces.total_fore_aft_n, forces.total_normal_n
        vo2 = metabolic_rate(speed_mps, incline_pct, p.facing, p.mass_kg, gait_params=p.gait,
                             leg_length_m=p.leg_length_m, running=False).vo2_ml_kg_min
        if len(self._step_cache) > STEP_CACHE_SIZE:
            self._step_cache.clear()
        result = (fore_aft, normal, gait.step_length_m, vo2)
        self._step_cache[key] = result
        return result

    def _multibody(self):
        """The pybullet biped (layer 3), started on first use."""
        if self._biped is None:
            p = self.params
            with _quiet_stdio():  # pybullet announces its build time when it starts
                from .multibody import MultibodyWalker  # loaded only when asked for

                self._biped = MultibodyWalker(p.mass_kg, p.height_m, p.facing,
                                              gait_params=p.gait)
        return self._biped

    def close(self) -> None:
        """Release the pybullet client, if layer 3 was used."""
        if self._biped is not None:
            self._biped.close()
            self._biped = None

    def _play_step(self, now_s: float, treadmill, speed: float, walking: bool) -> float:
        """Hand the plant this step's forces: the gait's, the push on a belt without a
        motor, and part of the weight taken by the rails. The body's own changes of
        speed over the ground are small and are not fed to the belt."""
        p = self.params
        incline = treadmill.truth_incline_pct()
        mass = p.mass_kg
        weight_n = mass * STANDARD_GRAVITY_MPS2
        theta = math.atan(incline / 100.0)
        unload = 1.0 - (p.rail_support_frac if self._holding else 0.0)
        if walking and speed > 0.05:
            step = self._step_forces(round(speed, 2), round(incline, 1), self._left_next)
            self._left_next = not self._left_next
            fore_aft, normal, self._step_m, vo2 = step
            if p.stride_time_cv > 0.0:
                fore_aft, normal = self._vary(fore_aft, normal)
            normal = normal * unload
            duration = len(fore_aft) * self.dt_s
        else:
            n = max(1, round(STANDING_CHECK_S / self.dt_s))
            normal = np.full(n, weight_n * math.cos(theta) * unload)
            fore_aft = np.full(n, weight_n * math.sin(theta))
            self._step_m = 0.0
            duration = n * self.dt_s
            vo2 = self._standing_vo2(incline)
        if self._push_n > 0.0:  # the mechanical work of pushing, at muscle efficiency
            zero_mps = PUSH_ZERO_SPEED_FACTOR * self.preferred_speed_mps
            push_w = self._push_n * max(0.0, 1.0 - speed / zero_mps) * speed
            vo2 += w_per_kg_to_vo2_ml_kg_min(push_w / (PUSH_EFFICIENCY * mass))
        treadmill.set_walker_step(speed, fore_aft, normal, self.state, vo2)
        return duration

    def _vary(self, fore_aft: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """This step a little longer or shorter in time, its force profile stretched to fit
        (so its mean force, the weight, stays) and its length with it at the same speed.
        Steps vary independently, so a step's coefficient of variation is the stride's
        times sqrt(2) (a stride is two steps)."""
        factor = 1.0 + math.sqrt(2.0) * self.params.stride_time_cv * self._rng.standard_normal()
        factor = min(max(factor, 0.7), 1.3)  # [M] no step halves or doubles
        n = len(fore_aft)
        m = max(2, round(n * factor))
        if m == n:
            return fore_aft, normal
        old = (np.arange(n) + 0.5) / n
        new = (np.arange(m) + 0.5) / m
        self._step_m *= m / n
        return np.interp(new, old, fore_aft), np.interp(new, old, normal)

    def _fall(self, now_s: float, treadmill, error_m: float, capacity_m: float) -> float:
        self.state = WalkerState.FALLEN
        self.fell = True
        self._event(now_s, "fall",
                    f"balance error {abs(error_m):.2f} m beyond the {capacity_m:.2f} m two"
                    " recovery steps could reach")
        if self.params.lanyard:
            treadmill.set_key_present(False)  # the clip on the falling body pulls the key
        return self._lie(now_s, treadmill)

    def _lie(self, now_s: float, treadmill) -> float:
        """Lying on the belt: the whole weight on the deck, carried along with the belt."""
        n = max(1, round(STANDING_CHECK_S / self.dt_s))
        weight_n = self.params.mass_kg * STANDARD_GRAVITY_MPS2
        theta = math.atan(treadmill.truth_incline_pct() / 100.0)
        treadmill.set_walker_step(0.0, np.full(n, weight_n * math.sin(theta)),
                                  np.full(n, weight_n * math.cos(theta)), WalkerState.FALLEN,
                                  REST_VO2_ML_KG_MIN)
        return n * self.dt_s

    def _leave_over_rear(self, now_s: float, treadmill, pos_m: float) -> None:
        if not self.fell:
            self.fell = True
            self._event(now_s, "fall", "the walker drifted off the rear of the deck")
        self._event(now_s, "off_rear",
                    f"the walker left the deck over the rear edge ({pos_m:.2f} m)")
        self.state = WalkerState.OFF_REAR
        self._off_belt(treadmill, WalkerState.OFF_REAR)
        return None
