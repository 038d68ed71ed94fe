"""Metrics of a run, computed from its trace and events (so they can be recomputed from logs).

Each metric is a contract field of ``summary.json`` (DESIGN.md). Metrics
that need a walker are ``None`` when the belt is empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..sim.engine import Event
from ..sim.walker.balance import WalkerState

UPRIGHT = (WalkerState.STANDING, WalkerState.WALKING, WalkerState.STUMBLING)
DOWN = (WalkerState.FALLEN, WalkerState.OFF_REAR)
#: kcal per litre of oxygen (Compendium of Physical Activities [C]).
KCAL_PER_LITRE_O2 = 5.0

#: Fault and stop events that start a stop-time measurement.
STOP_TRIGGERS = ("lanyard_pull", "stop_button", "safety_trip", "board_command_timeout")
#: A belt slower than this counts as stopped.
STOPPED_BELOW_MPS = 0.05
#: Deceleration is measured over this window, to see through foot-strike ripple.
DECEL_WINDOW_S = 0.1
#: After a speed command changes, tracking error is not counted for this long.
SETTLE_S = 5.0
#: A command change larger than this is a new setpoint (the trims of an outer loop are smaller).
SETPOINT_CHANGE_MPS = 0.05

LOSS_COLUMNS = ("e_copper_j", "e_friction_j", "e_brake_j", "e_slip_j")
STORED_COLUMNS = ("kinetic_j", "e_magnetic_j")


def energy_residual_j(trace: np.ndarray) -> np.ndarray:
    """Energy in minus energy out minus the change in stored energy, per row.

    ``e_elec + e_walker - e_copper - e_friction - e_brake - e_slip``
    ``- (kinetic - kinetic[0]) - (e_magnetic - e_magnetic[0])``: zero for a
    perfect integration (the rows start at the first record, after one step).
    """
    flow = trace["e_elec_j"] + trace["e_walker_j"]
    for column in LOSS_COLUMNS:
        flow = flow - trace[column]
    for column in STORED_COLUMNS:
        flow = flow - trace[column]
    return flow - flow[0]


def energy_throughput_j(trace: np.ndarray) -> float:
    """Energy that flowed: all that was dissipated plus the most that was stored."""
    last = trace[-1]
    dissipated = sum(float(last[c]) - float(trace[0][c]) for c in LOSS_COLUMNS)
    stored = float(np.max(trace["kinetic_j"] + trace["e_magnetic_j"]))
    return dissipated + stored


def stop_time_s(trace: np.ndarray, events: Sequence[Event],
                column: str = "belt_speed_mps") -> float | None:
    """Time from the first stop trigger (with the belt moving) until the belt is stopped.

    ``column`` is the speed judged: the belt as the run knows it (``belt_speed_mps``: the
    true belt in the twin, the measured one on hardware), or as the board's tach measures
    it (``belt_speed_meas_mps``), which on a reed switch reads standstill only once the
    pulses have stopped for long enough.
    """
    t = trace["t_s"]
    speed = np.abs(trace[column])
    found = _first_stop(t, speed, events)
    if found is None:
        return None
    start, trigger_s = found
    stopped = np.flatnonzero(speed[start:] < STOPPED_BELOW_MPS)
    if len(stopped) == 0:
        return None  # never stopped within the run
    return float(t[start + stopped[0]] - trigger_s)


def stop_decel_mps2(trace: np.ndarray, events: Sequence[Event]) -> float | None:
    """Mean deceleration of the first stop (as :func:`stop_time_s` finds it), from 90 % to
    10 % of the speed it began at: the figure a machine states for its stop."""
    t = trace["t_s"]
    speed = np.abs(trace["belt_speed_mps"])
    found = _first_stop(t, speed, events)
    if found is None:
        return None
    start = found[0]
    return mean_decel_between(t[start:], speed[start:], 0.9, 0.1)


def _first_stop(t_s: np.ndarray, speed_mps: np.ndarray,
                events: Sequence[Event]) -> tuple[int, float] | None:
    """(trace row, time) of the first stop trigger that found the belt moving."""
    for event in events:
        if event.kind not in STOP_TRIGGERS:
            continue
        start = int(np.searchsorted(t_s, event.t_s))
        if start < len(t_s) and speed_mps[start] >= STOPPED_BELOW_MPS:
            return start, event.t_s
    return None


def mean_decel_between(t_s: np.ndarray, speed_mps: np.ndarray, hi_frac: float,
                       lo_frac: float) -> float | None:
    """Mean deceleration while a slowing belt falls from ``hi_frac`` to ``lo_frac`` of its
    first speed (None when it never gets that low)."""
    v0 = float(speed_mps[0])
    below_hi = np.flatnonzero(speed_mps < hi_frac * v0)
    below_lo = np.flatnonzero(speed_mps < lo_frac * v0)
    if len(below_lo) == 0 or len(below_hi) == 0:
        return None
    span_s = float(t_s[below_lo[0]] - t_s[below_hi[0]])
    return (hi_frac - lo_frac) * v0 / span_s if span_s > 0 else None


def step_response(t_s: np.ndarray, speed_mps: np.ndarray, at_s: float, from_mps: float,
                  to_mps: float) -> tuple[float, float]:
    """Overshoot (fraction of the step) and damping ratio of a speed step made at ``at_s``.

    The damping ratio is that of the second-order response with the same ringing: from
    the logarithmic decrement of the first two overshoot peaks above 0.2 % of the step,
    from the overshoot alone when there is one peak, ``inf`` when there is none (at
    least critically damped)."""
    after = t_s > at_s
    deviation = (speed_mps[after] - to_mps) / (to_mps - from_mps)
    overshoot = max(0.0, float(deviation.max()))
    peaks = [i for i in range(1, len(deviation) - 1)
             if deviation[i - 1] < deviation[i] >= deviation[i + 1] and deviation[i] > 0.002]
    if overshoot <= 0.002:
        return overshoot, math.inf
    if len(peaks) < 2:
        decrement = 2.0 * -math.log(overshoot)  # one overshoot: half a period of decay
    else:
        decrement = math.log(deviation[peaks[0]] / deviation[peaks[1]])
    return overshoot, decrement / math.sqrt(4.0 * math.pi**2 + decrement**2)


def peak_decel_mps2(trace: np.ndarray) -> float:
    """Largest slowing of the belt, averaged over DECEL_WINDOW_S (0 if it never slows)."""
    t = trace["t_s"]
    if len(t) < 2:
        return 0.0
    dt = float(t[1] - t[0])
    lag = max(1, round(DECEL_WINDOW_S / dt))
    if len(t) <= lag:
        return 0.0
    speed = np.abs(trace["belt_speed_mps"])
    slowing = (speed[:-lag] - speed[lag:]) / (lag * dt)
    return float(max(0.0, slowing.max()))


def mean_abs_speed_error_mps(trace: np.ndarray) -> float | None:
    """Mean |true - commanded| belt speed, leaving out SETTLE_S after each command change."""
    cmd = trace["belt_speed_cmd_mps"]
    t = trace["t_s"]
    # A new setpoint restarts the settling time; the fine steps of a trimming or
    # dithering controller do not.
    changes = np.flatnonzero(np.abs(np.diff(cmd)) > SETPOINT_CHANGE_MPS) + 1
    settled = np.ones(len(t), dtype=bool)
    settled[t < t[0] + SETTLE_S] = False
    for row in changes:
        settled[(t >= t[row]) & (t < t[row] + SETTLE_S)] = False
    settled &= trace["faults"] == 0
    if not settled.any():
        return None
    return float(np.mean(np.abs(trace["belt_speed_mps"][settled] - cmd[settled])))


def walker_metrics(trace: np.ndarray, mass_kg: float | None,
                   running_length_m: float) -> dict[str, Any]:
    """Fall, margin to the rear edge, mean VO2 on the belt, and kcal.

    The rear margin judges the whole run, upright or fallen: a walker who left the deck
    over the rear edge has crossed it, so its margin is at most zero."""
    if mass_kg is None:
        return {"walker_fell": False, "min_rear_margin_m": None, "mean_vo2_ml_kg_min": None,
                "energy_kcal": None, "max_balance_error_m": None}
    state = trace["walker_state"]
    upright = np.isin(state, UPRIGHT)
    vo2 = trace["vo2_ml_kg_min"]
    dt_s = float(trace["t_s"][1] - trace["t_s"][0]) if len(trace) > 1 else 0.0
    known = np.isfinite(vo2)
    litres = float(np.sum(vo2[known])) * mass_kg / 1000.0 * dt_s / 60.0
    return {
        "walker_fell": bool(np.isin(state, DOWN).any()),
        "min_rear_margin_m": _rear_margin_m(trace, running_length_m),
        "mean_vo2_ml_kg_min": float(np.mean(vo2[upright])) if upright.any() else None,
        "energy_kcal": litres * KCAL_PER_LITRE_O2,
        "max_balance_error_m": float(np.nanmax(np.abs(trace["balance_error_m"][upright])))
        if upright.any() and np.isfinite(trace["balance_error_m"][upright]).any() else None,
    }


def _rear_margin_m(trace: np.ndarray, running_length_m: float) -> float | None:
    """Smallest distance of the walker from the rear edge while on the deck (None: never on
    it); at most zero once it has left over the rear."""
    state = trace["walker_state"]
    pos = trace["walker_pos_m"]
    on_deck = np.isin(state, (*UPRIGHT, WalkerState.FALLEN)) & np.isfinite(pos)
    margin = float(np.min(running_length_m - pos[on_deck])) if on_deck.any() else None
    if (state == WalkerState.OFF_REAR).any():
        margin = 0.0 if margin is None else min(margin, 0.0)
    return margin


def compute_metrics(trace: np.ndarray, events: Sequence[Event], walker_mass_kg: float | None = None,
                    running_length_m: float = 0.0) -> dict[str, Any]:
    """All contract metrics of a run."""
    throughput = energy_throughput_j(trace)
    residual = energy_residual_j(trace)
    return {
        **walker_metrics(trace, walker_mass_kg, running_length_m),
        "max_belt_speed_mps": float(np.max(np.abs(trace["belt_speed_mps"]))),
        "mean_abs_speed_error_mps": mean_abs_speed_error_mps(trace),
        "stop_time_s": stop_time_s(trace, events),
        "measured_stop_time_s": stop_time_s(trace, events, "belt_speed_meas_mps"),
        "stop_decel_mps2": stop_decel_mps2(trace, events),
        "peak_decel_mps2": peak_decel_mps2(trace),
        "distance_m": float(np.sum(np.abs(np.diff(trace["belt_travel_m"])))),
        "max_motor_current_a": float(np.max(np.abs(trace["motor_current_a"]))),
        "max_motor_temp_c": float(np.max(trace["motor_temp_c"])),
        "energy_residual_pct": (
            float(100.0 * np.max(np.abs(residual)) / throughput) if throughput > 0 else 0.0
        ),
        "max_bus_voltage_v": float(np.max(trace["bus_voltage_v"])),
        "energy_in_j": float(trace["e_elec_j"][-1]),
    }
