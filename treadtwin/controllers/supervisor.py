"""The safety supervisor: sits between every controller and the treadmill.

Each tick the supervisor sees the newest telemetry and the command a
controller asks for, and passes on a command that keeps within its limits.
It never raises speed on its own; it only holds back, slows down or stops.

Two kinds of intervention:

- *limits* shape a command and clear themselves: the start speed, the
  acceleration and deceleration, the backward-walking speed cap, no speed
  and incline increase at once for beginners, derating on current or
  temperature;
- *stops* latch: safety key out, stop button, a drive trip, telemetry gone
  quiet (watchdog), a tach that disagrees with the motor (slip or a dead
  sensor), over-current or over-temperature past the stop level, a walker
  drifting towards the rear edge (distance sensor) or fallen (force deck:
  the weight has left the deck, or the force has lost the stride rhythm,
  as it does when someone lies on the moving belt). A
  latched stop brings the belt down at the stop deceleration (or, when the
  treadmill's hardware made the stop, commands STOP at once: the drive is
  already cut or braking on its own) and cuts the lift, and holds until
  the cause is gone *and* a command carries ``reset`` (EN 957-6: the
  circuit "cannot be restored until the actuator is manually reset";
  docs/references.md).

When several stops trip in the same tick, they are checked in the order of
:data:`STOP_ORDER` (hardware first, then the link, then sensors, then the
motor, then the walker); the first one names the stop, the others are
reported too. Every intervention is an :class:`Intervention` with its rule
and reason, collected in :attr:`SafetySupervisor.interventions`.

Limits are parameters (:class:`SupervisorLimits`) with defaults from the
references; where a reference gives no number the default is marked [U].
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

from .interface import Command, DriveMode, Fault, Telemetry
from .units import mph_to_mps

#: Stop rules, in the order they are checked when several trip at once.
STOP_ORDER = (
    "controller_fault",  # the controller raised an exception or fell silent
    "key_out",  # the safety key is out: hardware has already cut the drive
    "stop_button",
    "drive_trip",  # the board tripped on over-current, over-voltage or over-temperature
    "watchdog",  # telemetry stopped coming
    "tach_implausible",  # tach disagrees with current and command: slip or a dead sensor
    "over_temperature",
    "over_current",
    "walker_fallen",
    "walker_drift",
)

#: Stops the treadmill's own hardware has already made: the drive is cut or braking on its
#: own, so the supervisor asks for STOP at once instead of ramping a drive that will not
#: take it (over the adapter board, a ramp-down asks for motion against a latched stop,
#: which the board refuses with NOT_PERMITTED).
HARDWARE_STOPS = ("key_out", "stop_button", "drive_trip")

# Fault bits as plain ints: IntFlag arithmetic is slow, and this runs every tick.
_KEY_OUT = int(Fault.KEY_OUT)
_STOP_BUTTON = int(Fault.STOP_BUTTON)
_DRIVE_TRIPS = int(Fault.OVERCURRENT | Fault.OVERVOLTAGE | Fault.OVERTEMP)


@dataclass(frozen=True, slots=True)
class SupervisorLimits:
    """What the supervisor allows. Speeds in m/s, accelerations in m/s^2."""

    # Start the belt slowly: 0.5-1.0 mph (the backward-walking guides, docs/references.md [C]);
    # no standard value was found (docs/references.md, Standards).
    start_speed_max_mps: float = mph_to_mps(1.0)
    moving_above_mps: float = 0.1  # the belt counts as running above this
    accel_max_mps2: float = 0.5  # [U] consumer boards ramp slowly (MC-2100); 0.3-1 m/s^2 assumed
    # [U] normal slowing: inside the 0.3-1 m/s^2 assumed for consumer boards.
    # On the twin, stopping from 1-2 mph at 0.7-1.0 m/s^2 makes the default walker fall;
    # at 0.5 it does not (tests/test_supervisor.py).
    decel_max_mps2: float = 0.5
    stop_decel_mps2: float = 1.5  # [U] latched stops come down at this rate
    incline_rate_max_pct_per_s: float = 1.0  # [U]
    # Backward walking: most people manage 2 mph; even experienced users rarely exceed
    # 2.5-3 mph (the backward-walking guides, docs/references.md [C]).
    backward: bool = False
    backward_speed_max_mps: float = mph_to_mps(2.5)
    beginner: bool = False  # no speed and incline increase together (the backward-walking guides)
    watchdog_timeout_s: float = 0.5  # [U] telemetry older than this stops the belt
    # Tach plausibility: current flowing at a commanded speed but no new tach pulse for
    # tach_silence_pulses pulse gaps at the machine's lowest running speed (not less than
    # tach_silence_min_s), or for tach_timeout_s when that is set. Three gaps [U]: the first
    # pulse after a start can need a whole pitch of travel, and a heavy walker starting a
    # belt slows it; at 0.5 mph on a reed switch (0.251 m a pulse) the window is 3.4 s.
    tach_pitch_m: float = 0.251  # belt per pulse: a reed switch on an 80 mm roller [C]
    lowest_speed_mps: float = mph_to_mps(0.5)  # the machine's slowest running speed
    tach_silence_pulses: float = 3.0  # [U]
    tach_silence_min_s: float = 0.5  # [U] for fine encoders, whose gaps are milliseconds
    tach_timeout_s: float = math.nan  # overrides the window derived from the pulse spacing
    tach_current_min_a: float = 1.0  # [U]
    overspeed_margin_mps: float = 0.3  # [U] tach well above the command: runaway
    coast_decel_mps2: float = 0.03  # [U] slowest coast-down expected; overspeed waits for it
    # Current: derate on the RMS over a thermal time (peaks while accelerating a heavy
    # flywheel are normal), stop on the instantaneous value.
    current_rms_tau_s: float = 30.0  # [U]
    current_derate_a: float = 12.0  # [U] RMS above this: slow by 10 %
    current_stop_a: float = 30.0  # [U] instantaneous
    temp_derate_c: float = 110.0  # [U] class B insulation trips at 130 C
    temp_stop_c: float = 125.0  # [U]
    derate_factor: float = 0.9  # speed cap while derating, of the speed when it began
    derate_release: float = 0.9  # derating ends below this share of its level
    drift_limit_m: float = math.inf  # walker farther than this from the front: stop
    fall_load_fraction: float = 0.2  # deck force below this share of standing weight: down
    # A walker's vertical force on the deck swings with every step: on the twin by at least
    # 0.09 body weights in any 0.8 s (one step at the slowest cadence, 80 steps/min) even at
    # 0.5 mph; someone lying on a moving belt gives a steady force. [U]
    fall_window_s: float = 0.8
    fall_rhythm_fraction: float = 0.05
    walker_weight_n: float = math.nan  # standing weight, for fall detection by the deck

    def __post_init__(self) -> None:
        for name in ("start_speed_max_mps", "accel_max_mps2", "decel_max_mps2",
                     "stop_decel_mps2", "incline_rate_max_pct_per_s", "backward_speed_max_mps",
                     "watchdog_timeout_s", "tach_pitch_m", "lowest_speed_mps",
                     "tach_silence_pulses", "tach_silence_min_s", "current_rms_tau_s",
                     "coast_decel_mps2",
                     "current_derate_a", "current_stop_a", "temp_derate_c", "temp_stop_c",
                     "fall_window_s", "fall_rhythm_fraction"):
            value = getattr(self, name)
            if not (value > 0.0):
                raise ValueError(f"SupervisorLimits.{name} must be > 0, got {value!r}")
        for name in ("derate_factor", "derate_release"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(
                    f"SupervisorLimits.{name} must be within 0..1, got {getattr(self, name)!r}")
        if not (math.isnan(self.tach_timeout_s) or self.tach_timeout_s > 0.0):
            raise ValueError(
                f"SupervisorLimits.tach_timeout_s must be > 0, got {self.tach_timeout_s!r}")
        if self.current_stop_a < self.current_derate_a or self.temp_stop_c < self.temp_derate_c:
            raise ValueError("SupervisorLimits: stop levels must not be below derate levels")


    @property
    def tach_silence_s(self) -> float:
        """How long a driven belt may go without a tach pulse before the tach is implausible."""
        if not math.isnan(self.tach_timeout_s):
            return self.tach_timeout_s
        gaps_s = self.tach_silence_pulses * self.tach_pitch_m / self.lowest_speed_mps
        return max(gaps_s, self.tach_silence_min_s)


@dataclass(frozen=True, slots=True)
class Intervention:
    """One thing the supervisor did, and why."""

    t_s: float
    rule: str
    action: str  # "limit", "stop", "derate", "reset", "refused_reset"
    reason: str


@dataclass
class _Latched:
    rule: str
    since_s: float
    also: list[str] = field(default_factory=list)


class SafetySupervisor:
    """Filters every command on its way to the treadmill (see the module docstring)."""

    def __init__(self, limits: SupervisorLimits | None = None) -> None:
        self.limits = limits or SupervisorLimits()
        self.interventions: list[Intervention] = []
        self._latched: _Latched | None = None
        self._out_speed_mps = 0.0
        self._out_incline_pct: float | None = None
        self._last_telemetry_t_s: float | None = None
        self._telemetry_seen_at_s: float | None = None
        self._tach_silent_since_s: float | None = None
        self._tach_pulses: int | None = None  # pulse count at the last tick
        self._tach_silence_s = self.limits.tach_silence_s
        self._derate_cap_mps: float | None = None
        self._limiting: set[str] = set()
        self._walker_seen = False  # the deck has carried the walker's weight
        self._deck_forces: deque[tuple[float, float]] = deque()  # (t, N) over fall_window_s
        self._current_sq = 0.0  # running mean of the squared current
        self._speed_ceiling_mps = 0.0  # highest recent command, let down at coast_decel_mps2
        self._sent: Command | None = None
        self._forced: dict[str, str] = {}

    @property
    def latched(self) -> str | None:
        """The rule holding a latched stop, or None."""
        return self._latched.rule if self._latched else None

    def _note(self, t_s: float, rule: str, action: str, reason: str) -> None:
        self.interventions.append(Intervention(t_s, rule, action, reason))

    def _limit_once(self, t_s: float, rule: str, active: bool, reason: str,
                    *values: float) -> None:
        """Report a limit when it starts acting, not every tick it acts.

        ``reason`` is a format string filled with ``values`` only when reported: this
        runs every tick."""
        if active:
            if rule not in self._limiting:
                self._limiting.add(rule)
                self._note(t_s, rule, "limit", reason.format(*values))
        elif self._limiting:
            self._limiting.discard(rule)

    def force_stop(self, rule: str, reason: str) -> None:
        """Latch a stop from outside the telemetry (the control loop's own checks).

        It is cleared by the next reset, once :meth:`clear_forced` has been called."""
        self._forced[rule] = reason

    def clear_forced(self, rule: str) -> None:
        """The cause of a forced stop is gone (a reset may now clear it)."""
        self._forced.pop(rule, None)

    # --- stops -----------------------------------------------------------------------------
    def _stop_causes(self, now_s: float, telemetry: Telemetry | None,
                     requested: Command) -> dict[str, str]:
        """Every stop rule that trips now, with its reason."""
        lim = self.limits
        causes: dict[str, str] = dict(self._forced)
        if telemetry is None or self._telemetry_seen_at_s is None:
            return causes
        age_s = now_s - self._telemetry_seen_at_s
        if age_s > lim.watchdog_timeout_s:
            causes["watchdog"] = f"no new telemetry for {age_s:.2f} s"
        faults = int(telemetry.faults)
        if telemetry.key_present is False or faults & _KEY_OUT:
            causes["key_out"] = "safety key out"
        if faults & _STOP_BUTTON:
            causes["stop_button"] = "stop button pressed"
        trips = faults & _DRIVE_TRIPS
        if trips:
            causes["drive_trip"] = f"drive tripped: {Fault(trips).name}"
        current = telemetry.motor_current_a
        driving = (self._out_speed_mps > lim.moving_above_mps and current is not None
                   and current > lim.tach_current_min_a)
        pulsed = telemetry.tach_pulse_count != self._tach_pulses
        self._tach_pulses = telemetry.tach_pulse_count
        if driving and not pulsed:
            if self._tach_silent_since_s is None:
                self._tach_silent_since_s = now_s
            elif now_s - self._tach_silent_since_s > self._tach_silence_s:
                causes["tach_implausible"] = (
                    f"{current:.1f} A into the motor at {self._out_speed_mps:.2f} m/s"
                    f" commanded but no tach pulse for {now_s - self._tach_silent_since_s:.1f} s"
                    f" (allowed {self._tach_silence_s:.1f} s)")
        else:
            self._tach_silent_since_s = None
        # Overspeed is judged against the highest recent command, let down slowly: a belt
        # that coasts down after a lower command (a drive that cannot brake) is not a runaway.
        ceiling = self._speed_ceiling_mps
        if telemetry.belt_speed_mps > ceiling + lim.overspeed_margin_mps:
            causes["tach_implausible"] = (
                f"belt at {telemetry.belt_speed_mps:.2f} m/s against at most"
                f" {ceiling:.2f} m/s commanded")
        temp = telemetry.motor_temp_c
        if temp is not None and temp >= lim.temp_stop_c:
            causes["over_temperature"] = f"winding at {temp:.0f} C"
        if current is not None and abs(current) >= lim.current_stop_a:
            causes["over_current"] = f"{current:.1f} A"
        force = telemetry.deck_force_n
        if force is not None and math.isfinite(lim.walker_weight_n):
            self._walker_seen |= force > 0.5 * lim.walker_weight_n
        if (force is not None and self._walker_seen
                and self._out_speed_mps > lim.moving_above_mps
                and force < lim.fall_load_fraction * lim.walker_weight_n):
            causes["walker_fallen"] = (f"deck carries {force:.0f} N of a"
                                       f" {lim.walker_weight_n:.0f} N walker")
        elif force is not None and self._walker_seen:
            if self._out_speed_mps <= lim.moving_above_mps:
                self._deck_forces.clear()  # standing on a still belt is no fall
            swing_n = self._deck_force_swing_n(telemetry.t_s, force)
            if (swing_n is not None and self._out_speed_mps > lim.moving_above_mps
                    and swing_n < lim.fall_rhythm_fraction * lim.walker_weight_n):
                causes["walker_fallen"] = (
                    f"deck force steady within {swing_n:.0f} N for {lim.fall_window_s:g} s"
                    f" on a moving belt: the walker is not stepping")
        distance = telemetry.walker_distance_m
        if distance is not None and distance > lim.drift_limit_m:
            causes["walker_drift"] = (f"walker {distance:.2f} m from the front, past"
                                      f" {lim.drift_limit_m:.2f} m")
        return causes

    def _deck_force_swing_n(self, t_s: float, force_n: float) -> float | None:
        """Range of the deck force over the last ``fall_window_s``; None until it is filled."""
        window = self._deck_forces
        if not window or t_s > window[-1][0]:
            window.append((t_s, force_n))
        while len(window) > 1 and window[1][0] <= t_s - self.limits.fall_window_s:
            window.popleft()
        if t_s - window[0][0] < self.limits.fall_window_s - 1e-9:
            return None
        forces = [f for _, f in window]
        return max(forces) - min(forces)

    def _try_reset(self, now_s: float, causes: dict[str, str], requested: Command) -> None:
        latched = self._latched
        if latched is None or not requested.reset:
            return
        if causes:
            rule = next(r for r in STOP_ORDER if r in causes)
            self._note(now_s, rule, "refused_reset", f"reset refused: {causes[rule]}")
            return
        self._note(now_s, latched.rule, "reset", "stop cleared by reset")
        self._latched = None
        self._derate_cap_mps = None

    # --- the filter ------------------------------------------------------------------------
    def filter(self, now_s: float, dt_s: float, telemetry: Telemetry | None,
               requested: Command) -> Command:
        """The command to send, given the newest telemetry and what a controller asks."""
        if telemetry is not None and telemetry.t_s != self._last_telemetry_t_s:
            self._last_telemetry_t_s = telemetry.t_s
            self._telemetry_seen_at_s = now_s
        elif self._telemetry_seen_at_s is None:
            self._telemetry_seen_at_s = now_s
        self._speed_ceiling_mps = max(self._out_speed_mps, self._speed_ceiling_mps
                                      - self.limits.coast_decel_mps2 * dt_s)
        causes = self._stop_causes(now_s, telemetry, requested)
        self._try_reset(now_s, causes, requested)
        if causes and self._latched is None:
            ordered = [r for r in STOP_ORDER if r in causes]
            self._latched = _Latched(ordered[0], now_s, ordered[1:])
            detail = "; ".join(causes[r] for r in ordered)
            self._note(now_s, ordered[0], "stop", detail)
        if self._latched is not None:
            return self._stopping(dt_s, requested)
        return self._shape(now_s, dt_s, telemetry, requested)

    def _stopping(self, dt_s: float, requested: Command) -> Command:
        lim = self.limits
        if self._latched is not None and self._latched.rule in HARDWARE_STOPS:
            self._out_speed_mps = 0.0
        else:
            self._out_speed_mps = max(self._out_speed_mps - lim.stop_decel_mps2 * dt_s, 0.0)
        incline = self._out_incline_pct if self._out_incline_pct is not None else 0.0
        mode = DriveMode.STOP if self._out_speed_mps == 0.0 else DriveMode.NORMAL
        return self._command(requested, self._out_speed_mps, incline, mode)

    def _shape(self, now_s: float, dt_s: float, telemetry: Telemetry | None,
               requested: Command) -> Command:
        lim = self.limits
        target = requested.belt_speed_mps if requested.mode is not DriveMode.STOP else 0.0
        mode = requested.mode
        self._derate(now_s, dt_s, telemetry)
        out = self._out_speed_mps
        # Steady: nothing to shape but a backward cap that is already holding.
        capped = lim.backward and target > lim.backward_speed_max_mps
        steady_limits = self._limiting == ({"backward_speed"} if capped else set())
        wanted = lim.backward_speed_max_mps if capped else target
        if (wanted == out and requested.incline_pct == self._out_incline_pct
                and steady_limits and self._derate_cap_mps is None):
            return self._command(requested, out, self._out_incline_pct, mode)
        # Start slowly.
        moving = telemetry is not None and telemetry.belt_speed_mps > lim.moving_above_mps
        capped_start = (not moving and out <= lim.start_speed_max_mps
                        and target > lim.start_speed_max_mps)
        self._limit_once(now_s, "start_speed", capped_start,
                         "start limited to {:.2f} m/s (asked {:.2f} m/s)",
                         lim.start_speed_max_mps, target)
        if capped_start:
            target = lim.start_speed_max_mps
        # Backward walking cap.
        capped_back = lim.backward and target > lim.backward_speed_max_mps
        self._limit_once(now_s, "backward_speed", capped_back,
                         "backward walking capped at {:.2f} m/s (asked {:.2f} m/s)",
                         lim.backward_speed_max_mps, target)
        if capped_back:
            target = lim.backward_speed_max_mps
        if self._derate_cap_mps is not None:
            target = min(target, self._derate_cap_mps)
        # Rate limits.
        ramped = min(max(target, out - lim.decel_max_mps2 * dt_s), out + lim.accel_max_mps2 * dt_s)
        self._limit_once(now_s, "acceleration", ramped < target - 1e-9,
                         "acceleration limited to {:.2f} m/s^2", lim.accel_max_mps2)
        self._limit_once(now_s, "deceleration", ramped > target + 1e-9,
                         "deceleration limited to {:.2f} m/s^2", lim.decel_max_mps2)
        speed_rising = ramped > out + 1e-9
        self._out_speed_mps = ramped
        # Incline: rate limit, and no incline increase while speed rises for beginners.
        incline_now = self._out_incline_pct
        if incline_now is None:
            incline_now = (telemetry.incline_pct if telemetry and telemetry.incline_pct is not None
                           else requested.incline_pct)
        wanted = requested.incline_pct
        held = lim.beginner and speed_rising and wanted > incline_now
        self._limit_once(now_s, "speed_and_incline", held,
                         "incline held while the speed rises (beginner mode)")
        if held:
            wanted = incline_now
        step = lim.incline_rate_max_pct_per_s * dt_s
        self._out_incline_pct = min(max(wanted, incline_now - step), incline_now + step)
        if mode is DriveMode.STOP and ramped > 0.0:
            mode = DriveMode.NORMAL  # slow down at the supervisor's rate, then stop
        return self._command(requested, ramped, self._out_incline_pct, mode)

    def _derate(self, now_s: float, dt_s: float, telemetry: Telemetry | None) -> None:
        """Derate on RMS current or temperature: cap the speed while the cause lasts."""
        lim = self.limits
        current = telemetry.motor_current_a if telemetry else None
        if current is not None:
            weight = min(dt_s / lim.current_rms_tau_s, 1.0)
            self._current_sq += (current * current - self._current_sq) * weight
        rms_sq = self._current_sq
        temp = telemetry.motor_temp_c if telemetry else None
        hot = temp is not None and temp >= lim.temp_derate_c
        loaded = rms_sq >= lim.current_derate_a * lim.current_derate_a
        if self._derate_cap_mps is None:
            if hot or loaded:
                self._derate_cap_mps = self._out_speed_mps * lim.derate_factor
                why = f"winding at {temp:.0f} C" if hot else f"{math.sqrt(rms_sq):.1f} A RMS"
                self._note(now_s, "over_temperature" if hot else "over_current", "derate",
                           f"{why}: speed held at or below {self._derate_cap_mps:.2f} m/s")
        elif not ((temp is not None and temp >= lim.derate_release * lim.temp_derate_c)
                  or rms_sq >= (lim.derate_release * lim.current_derate_a) ** 2):
            self._derate_cap_mps = None
            self._note(now_s, "over_temperature" if hot else "over_current", "derate_end",
                       "cause gone: full speed allowed again")

    def _command(self, requested: Command, speed_mps: float, incline_pct: float,
                 mode: DriveMode) -> Command:
        """The command to send; the previous object again when nothing changed."""
        sent = self._sent
        if (sent is not None and sent.belt_speed_mps == speed_mps
                and sent.incline_pct == incline_pct and sent.mode is mode
                and sent.belt_direction is requested.belt_direction
                and sent.resistance_level == requested.resistance_level
                and sent.reset == requested.reset
                and sent.emergency_stop == requested.emergency_stop):
            return sent
        self._sent = replace(requested, belt_speed_mps=speed_mps, incline_pct=incline_pct,
                             mode=mode)
        return self._sent
