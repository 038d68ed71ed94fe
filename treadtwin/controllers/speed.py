"""Belt speed control: an outer loop that makes the measured belt speed match the target.

Consumer boards (MC-2100 class; docs/references.md) close
their own loop on the tach, but their 8-bit PWM command quantises speed to
about 0.025 m/s and their loop leaves an offset under load. Drives without
an internal loop droop with load. :class:`SpeedController` sits in front of
either kind and trims the speed command:

    command = target + kp * error + integral      (feedforward + PI)

on the error between the target and the tach estimate
(:class:`~treadtwin.controllers.estimation.TachSpeedEstimator`), then
clamps the trim to ``trim_limit_mps``, the command to ``output_min_mps`` ..
``output_max_mps`` and its rate of change to ``rate_limit_mps2``.

Anti-windup is conditional integration plus clamping: the integral is held
while the output is saturated (by any limit) in the direction the error
pushes, while the board is still ramping (by the estimator's model), while
there is no tach reading, and while a drive that cannot brake lets the belt
coast down towards the target (the belt well above the target and not
speeding up); it is clamped to the trim limit. While coasting, the
proportional term is left out too, so the command does not dip below the
target and the belt does not undershoot.

A quantised command (the MC-2100's PWM count) cannot hold a speed between
two steps. Given the step (``command_step_mps``), the controller dithers:
error diffusion sends the neighbouring steps in the proportion that makes
their mean the wanted command, at the command rate, and the belt's inertia
averages them. Without the step the integral finds the mean by a slow limit
cycle across one step: the mean error goes, but the ripple grows.

Stops are never delayed: a zero target, a STOP or RESISTANCE mode, an
emergency stop or a fault that stops the drive passes the source command
through unchanged and resets the loop; the next start ramps up from the
estimated belt speed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from .estimation import DRIVE_STOPPING_FAULTS, TachSpeedEstimator
from .interface import Command, Controller, DriveMode, Telemetry
from .validation import check_range

#: While the target is above zero the loop never sends less (a zero is a stop).
MIN_RUNNING_COMMAND_MPS = 0.01

#: Upper end of every speed range here: beyond any treadmill (15 mph is 6.7 m/s).
_SPEED_CAP_MPS = 20.0


class CommandSource:
    """The command a wrapped source asks for at each tick.

    ``source`` is a :class:`Controller` (ticked at the wrapping controller's
    period; ``None`` keeps its previous command) or a callable of the time
    giving one number, which becomes ``field`` of a default command.
    """

    def __init__(self, source: Controller | Callable[[float], float], field: str) -> None:
        if not isinstance(source, Controller) and not callable(source):
            raise ValueError(f"source must be a Controller or a callable of now_s, got {source!r}")
        self._controller = source if isinstance(source, Controller) else None
        self._target = None if self._controller is not None else source
        self._field = field
        self._last = Command()

    def command(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command:
        """The source's command for this tick."""
        if self._controller is not None:
            command = self._controller.tick(now_s, dt_s, telemetry)
            if command is not None:
                self._last = command
            return self._last
        value = float(self._target(now_s))
        if getattr(self._last, self._field) != value:
            self._last = Command(**{self._field: value})
        return self._last


@dataclass(frozen=True, slots=True)
class SpeedControlParams:
    """Outer speed loop settings (defaults suit an MC-2100 class board with its own loop).

    Ranges are in the comments. ``kp`` is m/s of command per m/s of error;
    below 1 the loop through the estimator's board model is stable. For a
    drive without an internal loop raise ``kp``, ``ki_per_s`` and the trim
    limit: the trim then carries the whole load droop.
    """

    period_s: float = 0.05  # 0.001..1 s; the MC-2100 takes a new command every 50 ms
    kp: float = 0.2  # 0..0.9
    ki_per_s: float = 1.0  # 0..20 1/s
    trim_limit_mps: float = 0.3  # 0..5 m/s: largest |command - target|
    rate_limit_mps2: float = 0.4  # 0.01..50 m/s^2: command slew, below the board's own ramp
    output_min_mps: float = 0.0  # 0..20 m/s
    output_max_mps: float = 5.36  # 0..20 m/s (12 mph home machine)
    settle_tolerance_mps: float = 0.05  # 0.001..1 m/s: board model this close = not ramping
    command_step_mps: float = 0.0  # 0..0.5 m/s board command step, 0 = fine (MC-2100:
    #                                top speed / (0.85 * 255) = 0.0248 m/s); > 0 dithers

    def __post_init__(self) -> None:
        ranges = {
            "period_s": (0.001, 1.0), "kp": (0.0, 0.9), "ki_per_s": (0.0, 20.0),
            "trim_limit_mps": (0.0, 5.0), "rate_limit_mps2": (0.01, 50.0),
            "output_min_mps": (0.0, _SPEED_CAP_MPS), "output_max_mps": (0.0, _SPEED_CAP_MPS),
            "settle_tolerance_mps": (0.001, 1.0), "command_step_mps": (0.0, 0.5),
        }
        for f in fields(self):
            check_range(type(self).__name__, f.name, getattr(self, f.name), *ranges[f.name])
        if self.output_min_mps > self.output_max_mps:
            raise ValueError(
                f"SpeedControlParams.output_min_mps = {self.output_min_mps} exceeds"
                f" output_max_mps = {self.output_max_mps}"
            )


class SpeedController:
    """Outer speed loop: trims a source's speed command so the measured speed meets it.

    Every other field of the source's command (incline, direction, mode...)
    is passed on unchanged. ``estimator`` defaults to a reed-switch
    :class:`TachSpeedEstimator`; its model is fed the commands this
    controller sends.
    """

    def __init__(
        self,
        source: Controller | Callable[[float], float],
        params: SpeedControlParams | None = None,
        estimator: TachSpeedEstimator | None = None,
    ) -> None:
        self.params = params if params is not None else SpeedControlParams()
        self.period_s = self.params.period_s
        self.estimator = estimator if estimator is not None else TachSpeedEstimator()
        self._source = CommandSource(source, "belt_speed_mps")
        self.integral_mps = 0.0
        self._last_estimate_mps = 0.0
        self.target_mps = 0.0
        self.error_mps = 0.0
        self._out_mps: float | None = None  # rate limiter state; None: not running
        self._sent_mps = 0.0  # what the board was last told (feeds the estimator's model)
        self._dither_mps = 0.0  # error-diffusion residue when the command is quantised
        self._last: Command | None = None

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command:
        p = self.params
        source = self._source.command(now_s, dt_s, telemetry)
        estimate = self.estimator.update(telemetry, self._sent_mps)
        target = source.belt_speed_mps
        self.target_mps = target
        self.error_mps = target - estimate
        if (target <= 0.0 or source.mode is not DriveMode.NORMAL or source.emergency_stop
                or telemetry.faults & DRIVE_STOPPING_FAULTS):
            self.integral_mps = 0.0
            self._out_mps = None
            self._dither_mps = 0.0
            stopping = source.mode is DriveMode.STOP or source.emergency_stop
            self._sent_mps = 0.0 if stopping else target
            return self._emit(source)
        if self._out_mps is None:  # (re)start from where the belt is
            self._out_mps = estimate
        measured = self.estimator.measured
        error = self.error_mps if measured else 0.0
        # A drive that cannot brake lets the belt coast down slower than any ramp: while
        # the belt is well above the target and still slowing, slowing it further is not
        # the loop's job (asking for less than the target only makes it undershoot).
        coasting = error < -p.settle_tolerance_mps and estimate <= self._last_estimate_mps
        self._last_estimate_mps = estimate
        wanted = target + (0.0 if coasting else p.kp * error) + self.integral_mps
        lo = max(p.output_min_mps, target - p.trim_limit_mps)
        hi = min(p.output_max_mps, target + p.trim_limit_mps)
        step_mps = p.rate_limit_mps2 * dt_s
        lo = max(lo, MIN_RUNNING_COMMAND_MPS)  # a zero would be a stop, not a speed
        out = min(max(wanted, lo), hi)
        out = min(max(out, self._out_mps - step_mps), self._out_mps + step_mps)
        saturated = abs(out - wanted) > 1e-12 and (wanted - out) * error > 0.0
        settled = abs(self.estimator.model_speed_mps - self._sent_mps) <= p.settle_tolerance_mps
        if measured and settled and not saturated and not coasting:
            limit = p.trim_limit_mps
            self.integral_mps = min(max(self.integral_mps + p.ki_per_s * error * dt_s, -limit),
                                    limit)
        self._out_mps = out
        if p.command_step_mps > 0.0:  # error diffusion: the steps sent average to ``out``
            step = p.command_step_mps
            level = step * math.floor((out + self._dither_mps) / step + 0.5)
            if level > 0.0:  # never a zero (a stop) while running
                self._dither_mps += out - level
                out = level
        self._sent_mps = out
        return self._emit(replace(source, belt_speed_mps=out))

    def _emit(self, command: Command) -> Command:
        """The command, reusing the previous object when nothing changed."""
        if command != self._last:
            self._last = command
        return self._last

