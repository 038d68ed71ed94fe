"""Self-paced control: the belt follows the walker, who walks at a speed of their own.

The walker's place on the deck comes from a distance sensor at the console
(``Telemetry.walker_distance_m``), as on the self-paced research treadmills
(smsong/self-paced-treadmill; the Bertec loop reads its sensors at
1000 Hz and sends speed at 100 Hz, docs/references.md). The
controller estimates the walker's own speed relative to the belt,
``u = v_belt - dp/dt``, from the measured belt speed and the filtered rate
of change of the position, and commands

    v = u_est + k_p (p_ref - p)

so the belt runs at the walker's speed, a little slower while the walker is
behind its reference place and a little faster while ahead. Both the
position and its rate are low-pass filtered over about a stride, so the
fore-aft sway of each step does not reach the belt.

Incline, direction and the rest of the command come from an inner
controller (a program), so a self-paced session can still have hills.
"""

from __future__ import annotations

from dataclasses import dataclass

from .belt_command import BeltCommand
from .interface import Command, Controller, Telemetry
from .validation import check_range


@dataclass(frozen=True, slots=True)
class SelfPacedParams:
    """Gains and limits of the self-pacing loop."""

    reference_position_m: float = 0.8  # where the walker should be, from the front
    position_gain_per_s: float = 0.5  # [U] m/s of speed per m of position error
    filter_time_s: float = 0.5  # [U] about half a stride: smooths the sway of the steps
    speed_max_mps: float = 2.5  # never command more
    accel_max_mps2: float = 0.5  # [U] a gentle follow, within the supervisor's limits

    def __post_init__(self) -> None:
        for name, lo, hi in (("reference_position_m", 0.1, 3.0),
                             ("position_gain_per_s", 0.0, 5.0),
                             ("filter_time_s", 0.05, 10.0),
                             ("speed_max_mps", 0.1, 12.0),
                             ("accel_max_mps2", 0.01, 30.0)):
            check_range("SelfPacedParams", name, getattr(self, name), lo, hi)


class SelfPacedController:
    """Belt speed from the walker's position; everything else from ``inner``."""

    def __init__(self, inner: Controller, params: SelfPacedParams | None = None) -> None:
        self.inner = inner
        self.params = params or SelfPacedParams()
        self.period_s = inner.period_s
        self._pos_m: float | None = None
        self._rate_mps = 0.0
        self._belt_mps = 0.0
        self._speed_mps = 0.0
        self._out = BeltCommand()

    @property
    def position_m(self) -> float | None:
        """The filtered walker position (m from the front), once seen."""
        return self._pos_m

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        base = self.inner.tick(now_s, dt_s, telemetry)
        if base is None:
            return None
        p = self.params
        distance = telemetry.walker_distance_m
        if distance is None or base.belt_speed_mps == 0.0:
            self._pos_m = None  # nobody to follow, or the program wants the belt stopped
            self._speed_mps = 0.0
            return base
        alpha = min(dt_s / p.filter_time_s, 1.0)
        belt = telemetry.belt_speed_mps
        if self._pos_m is None:
            self._pos_m, self._rate_mps, self._belt_mps = distance, 0.0, belt
            self._speed_mps = min(base.belt_speed_mps, p.speed_max_mps)
        else:
            previous = self._pos_m
            self._pos_m += (distance - self._pos_m) * alpha
            self._rate_mps += ((self._pos_m - previous) / dt_s - self._rate_mps) * alpha
            self._belt_mps += (belt - self._belt_mps) * alpha
        walker_mps = self._belt_mps - self._rate_mps
        wanted = walker_mps + p.position_gain_per_s * (p.reference_position_m - self._pos_m)
        wanted = min(max(wanted, 0.0), p.speed_max_mps)
        step = p.accel_max_mps2 * dt_s
        self._speed_mps = min(max(wanted, self._speed_mps - step), self._speed_mps + step)
        return self._out.command(self._speed_mps, base)
