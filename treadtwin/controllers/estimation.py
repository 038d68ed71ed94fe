"""Belt speed from a reed-switch tach: measured at pulses, carried by a model in between.

A reed switch gives one pulse per drive-roller turn, about 0.251 m of belt
(ESP32_TTGO_FTMS README; docs/references.md). At 0.5 mph (0.224 m/s) that is one
pulse every 1.12 s, so a pulse-period estimate is both sparse and late.

Method (:class:`TachSpeedEstimator`):

1. Measurement. At each new pulse the mean belt speed over the last
   ``window_s`` (at least one pulse interval) is ``pulses * pitch / elapsed``:
   exact for the mean, whatever happened in between.
2. Model. Between pulses the belt is assumed to follow the commanded speed
   through the board's ramp (rate limits ``model_accel_mps2`` and
   ``model_decel_mps2``); with the drive disabled or a fault latched the model
   runs down to zero. The model's mean over the same window is subtracted
   from the measured mean, giving a bias (load droop, command quantisation,
   the board's minimum speed...). The estimate is model + bias: the
   measurement sets the level, the model supplies what changed since. With no
   commanded speed the model stands still and the estimate is the last
   measured mean.
3. Staleness cap. No pulse since ``t_last`` (the newest pulse, or the moment
   the belt was last at rest) means the belt has moved less than one pitch
   since then. If the estimate, integrated since ``t_last``, would exceed one
   pitch, it is scaled down until it does not. For a constant predicted speed
   this is exactly ``pitch / (t - t_last)``, so a belt that slows or stops
   between pulses is never reported at its old speed; the cap decays as 1/t.
   With no pulse for ``stopped_after_s`` the estimate is zero. The first pulse
   after rest bounds the mean since rest the same way.

Staleness: the measured part is a mean over the last interval, so a change
the model does not predict (a load step, the board's own loop settling)
shows up half an interval to an interval and a half late: 0.6 to 1.7 s at
0.5 mph, 0.1 to 0.4 s at 1 m/s. A belt that slows is caught sooner by the cap.

Assumptions: the tach cannot tell direction (the estimate is a magnitude);
pulse times come from the board's clock (``tach_last_pulse_t_s``), and when a
board does not report them, the telemetry time of the tick that saw the count
change is used (an error of up to one tick, averaged down by ``window_s``).
The pitch must be the machine's (calibrate it: 0.1 % of pitch error is 0.1 %
of speed error). The motor current is not used: turning it into speed needs
the motor's constants, which the controller side does not know. Before the
first pulse the estimate is the model alone.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from .interface import Fault, Telemetry
from .validation import check_range

#: Belt travel per reed-switch pulse: Taurus 9.5, 90.4 ms per pulse at 10 km/h [C, 2.2].
REED_BELT_PER_PULSE_M = 0.251

#: Faults after which the drive no longer turns the belt (an incline stall is not one).
DRIVE_STOPPING_FAULTS = (Fault.KEY_OUT | Fault.STOP_BUTTON | Fault.OVERCURRENT
                         | Fault.OVERVOLTAGE | Fault.OVERTEMP | Fault.COMMS)


class _Pulse(NamedTuple):
    t_s: float  # when the pulse came (board clock)
    count: int  # tach pulse count after it
    model_m: float  # the model's travel at that time


class TachSpeedEstimator:
    """Belt speed magnitude (m/s) from tach pulses, bridged by a model of the board.

    Parameters
    ----------
    belt_per_pulse_m:
        Belt travel per pulse (0.251 m for a reed switch on an 80 mm roller).
    window_s:
        Shortest span the measured mean covers; at low speed it is one pulse
        interval. Longer smooths foot strikes and timestamp jitter, shorter
        follows faster.
    stopped_after_s:
        No pulse for this long reads as stopped. Must exceed the pulse interval
        at the slowest speed used (1.12 s at 0.5 mph).
    model_accel_mps2, model_decel_mps2:
        The board's ramp as the model assumes it (MC-2100 class boards ramp
        slowly; the numbers are assumptions [U]).
    """

    def __init__(
        self,
        belt_per_pulse_m: float = REED_BELT_PER_PULSE_M,
        window_s: float = 0.3,
        stopped_after_s: float = 3.0,
        model_accel_mps2: float = 0.5,
        model_decel_mps2: float = 0.8,
    ) -> None:
        owner = type(self).__name__
        check_range(owner, "belt_per_pulse_m", belt_per_pulse_m, 1e-4, 2.0)
        check_range(owner, "window_s", window_s, 0.0, 10.0)
        check_range(owner, "stopped_after_s", stopped_after_s, 0.05, 60.0)
        check_range(owner, "model_accel_mps2", model_accel_mps2, 0.01, 100.0)
        check_range(owner, "model_decel_mps2", model_decel_mps2, 0.01, 100.0)
        self.belt_per_pulse_m = float(belt_per_pulse_m)
        self.window_s = float(window_s)
        self.stopped_after_s = float(stopped_after_s)
        self.model_accel_mps2 = float(model_accel_mps2)
        self.model_decel_mps2 = float(model_decel_mps2)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next update starts afresh."""
        self._t_s: float | None = None
        self._count = 0
        self._pulses: deque[_Pulse] = deque()
        self._model_mps = 0.0
        self._model_m = 0.0
        # The last moment the belt was known to be at a pulse or at rest, and the last moment
        # it was known to be at rest: (t_s, model travel) each.
        self._ref: tuple[float, float] | None = None
        self._rest: tuple[float, float] | None = None
        self._last_pulse_t_s = math.nan
        self.bias_mps = 0.0  # measured mean minus the model's mean over the same window
        # True when the estimate rests on the tach: a measured interval that is not stale, or
        # an overdue pulse bounding the speed from above (stopped and stalled included).
        self.measured = False
        self.speed_mps = 0.0  # the latest estimate
        self.bound_mps = math.inf  # largest mean speed consistent with no pulse since t_last
        self.age_s = math.inf  # time since the newest pulse

    @property
    def model_speed_mps(self) -> float:
        """The model's belt speed: the command after the assumed board ramp."""
        return self._model_mps

    def update(self, telemetry: Telemetry, commanded_speed_mps: float | None = None) -> float:
        """Take one telemetry report and the speed the board was last told; return the estimate.

        ``commanded_speed_mps`` is the command in force since the previous
        update (``None``: no model, hold the last measurement).
        """
        t_s = telemetry.t_s
        if self._t_s is None:  # first report: start the model at the board's own reading
            self._t_s = t_s
            self._count = telemetry.tach_pulse_count
            self._model_mps = telemetry.belt_speed_mps if commanded_speed_mps is not None else 0.0
            pulse_t_s = telemetry.tach_last_pulse_t_s
            if pulse_t_s is not None:
                pulse = _Pulse(pulse_t_s, self._count, -self._model_mps * (t_s - pulse_t_s))
                self._pulses.append(pulse)
                self._ref = (pulse.t_s, pulse.model_m)
                self._last_pulse_t_s = pulse_t_s
            return self._estimate(t_s)
        dt_s = t_s - self._t_s
        if dt_s < 0.0:
            raise ValueError(f"telemetry t_s went back from {self._t_s!r} to {t_s!r}")
        previous_model_m = self._model_m
        self._advance_model(telemetry, commanded_speed_mps, dt_s)
        count = telemetry.tach_pulse_count
        if count < self._count:  # the board's counter restarted: start over
            self._pulses.clear()
            self.bias_mps = 0.0
        elif count > self._count:
            self._add_pulse(telemetry, count, dt_s, previous_model_m)
        self._count = count
        self._t_s = t_s
        return self._estimate(t_s)

    def _advance_model(self, telemetry: Telemetry, commanded_mps: float | None,
                       dt_s: float) -> None:
        v0 = self._model_mps
        if commanded_mps is None:
            target = v0
        elif not telemetry.drive_enabled or telemetry.faults & DRIVE_STOPPING_FAULTS:
            target = 0.0  # drive off: the belt runs down
        else:
            target = max(commanded_mps, 0.0)
        rate = self.model_accel_mps2 if target > v0 else self.model_decel_mps2
        v1 = v0 + max(-rate * dt_s, min(rate * dt_s, target - v0))
        self._model_mps = v1
        self._model_m += 0.5 * (v0 + v1) * dt_s

    def _add_pulse(self, telemetry: Telemetry, count: int, dt_s: float,
                   previous_model_m: float) -> None:
        t_s = telemetry.t_s
        pulse_t_s = telemetry.tach_last_pulse_t_s
        pulse_t_s = t_s if pulse_t_s is None else min(pulse_t_s, t_s)
        pulses = self._pulses
        if pulses:
            pulse_t_s = max(pulse_t_s, pulses[-1].t_s)
        # The model's travel at the pulse, interpolated within this update.
        share = 1.0 if dt_s <= 0.0 else min(max(1.0 - (t_s - pulse_t_s) / dt_s, 0.0), 1.0)
        model_m = previous_model_m + share * (self._model_m - previous_model_m)
        if pulses and pulse_t_s - pulses[-1].t_s > self.stopped_after_s:
            pulses.clear()  # the belt stood still in between: no interval to measure
        pulses.append(_Pulse(pulse_t_s, count, model_m))
        self._ref = (pulse_t_s, model_m)
        self._last_pulse_t_s = pulse_t_s
        while len(pulses) > 2 and pulse_t_s - pulses[1].t_s >= self.window_s:
            pulses.popleft()
        if len(pulses) < 2:  # the first pulse since rest: at most one pitch of travel since
            self.bias_mps = 0.0
            if self._rest is not None and pulse_t_s > self._rest[0]:
                span_s = pulse_t_s - self._rest[0]
                model_mean_mps = (model_m - self._rest[1]) / span_s
                self.bias_mps = min(0.0, self.belt_per_pulse_m / span_s - model_mean_mps)
            return
        first = pulses[0]
        span_s = pulse_t_s - first.t_s
        if span_s <= 0.0:
            return
        measured_mps = (count - first.count) * self.belt_per_pulse_m / span_s
        self.bias_mps = measured_mps - (model_m - first.model_m) / span_s

    def _estimate(self, t_s: float) -> float:
        estimate = max(self._model_mps + self.bias_mps, 0.0)
        self.measured = len(self._pulses) >= 2
        if not math.isnan(self._last_pulse_t_s):
            self.age_s = t_s - self._last_pulse_t_s
        self.bound_mps = math.inf
        if self._ref is not None:
            # Less than one pitch of travel since the newest pulse, or since the belt was
            # last at rest if no pulse came after that.
            ref_t_s, ref_m = self._ref
            age_s = t_s - ref_t_s
            if age_s > 0.0:
                self.bound_mps = self.belt_per_pulse_m / age_s
            if age_s > self.stopped_after_s:  # stopped or stalled: a bound, still a reading
                estimate = 0.0
                self.bias_mps = 0.0
                self._pulses.clear()
                self.measured = True
            else:
                travel_m = self._model_m - ref_m + self.bias_mps * age_s
                if travel_m > self.belt_per_pulse_m:  # a pulse is overdue: the belt is slower
                    estimate *= self.belt_per_pulse_m / travel_m
                    self.measured = True
        if estimate == 0.0 and self._model_mps == 0.0:
            self._ref = self._rest = (t_s, self._model_m)  # at rest, as far as anyone can tell
        self.speed_mps = estimate
        return estimate
