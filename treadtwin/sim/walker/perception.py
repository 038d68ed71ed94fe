"""What the walker makes of the belt under its feet: the speed it expects and the ramp it follows.

The walker feels the belt a reaction delay late, as the median over its last
step: the forces of one step repeat every step, and the median passes over
their foot-strike ripple and over a jolt shorter than half a step alike (a
jolt is recovered from, not walked at). It feels a ramp as the change over
one step (the same phase of the gait, so free of the ripple too; on a belt
without a flywheel, whose speed swings by tens of percent within a step, as
the change between the medians of consecutive steps). It expects what it
felt, carried forward to now along the ramp it felt. A ramp steeper than
``max_followed_mps2`` is not extrapolated (nobody expects a jolt to go on);
one gentler than ``unnoticed_mps2`` goes unnoticed.

Compiled: the walker asks this ten times a second of simulated time.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _median_of(belt_mps: np.ndarray, lo: int, hi: int) -> float:
    """Median of rows lo..hi-1; rows before the first stand for the first (the belt as it
    stood when the trace began)."""
    n = hi - lo
    window = np.empty(n)
    for k in range(n):
        window[k] = belt_mps[max(lo + k, 0)]
    return np.median(window)


@nb.njit(cache=True)
def expected_at(belt_mps: np.ndarray, row: int, record_period_s: float, delay_s: float,
                window_s: float, medians_for_ramp: bool, unnoticed_mps2: float,
                max_followed_mps2: float):
    """Expected belt speed and followed ramp at trace row ``row`` (see the module doc)."""
    width = max(int(round(window_s / record_period_s)), 1)
    span_s = width * record_period_s
    end = row - int(round(delay_s / record_period_s))  # the row felt at this one
    felt = _median_of(belt_mps, end - width + 1, end + 1)
    if medians_for_ramp:
        accel = (felt - _median_of(belt_mps, end - 2 * width + 1, end - width + 1)) / span_s
    else:
        accel = (belt_mps[max(end, 0)] - belt_mps[max(end - width, 0)]) / span_s
    if not unnoticed_mps2 <= abs(accel) <= max_followed_mps2:
        accel = 0.0
    # the median over the window is half a window old on top of the reaction delay
    return felt + accel * (delay_s + 0.5 * window_s), accel


@nb.njit(cache=True)
def unexpected_motion(t_s: np.ndarray, belt_mps: np.ndarray, lo: int, hi: int, since_s: float,
                      now_s: float, omega0_per_s: float, record_period_s: float,
                      delay_s: float, window_s: float, medians_for_ramp: bool,
                      unnoticed_mps2: float, max_followed_mps2: float,
                      resume_row: int, resume_moved: float, resume_total: float,
                      resume_n: int, resume_previous_s: float):
    """How far belt motion the walker did not expect, over trace rows lo..hi-1 (since
    ``since_s``), has put its extrapolated centre of mass off its base by ``now_s``, and
    the part of that the walker has perceived (rows at least a reaction delay old).

    Each row's mismatch ``v_belt - v_expected`` moves the base by ``mismatch dt``, grown
    as ``exp(omega0 t)`` for at most the reaction delay (the inverted pendulum until the
    walker reacts); the mean mismatch adds ``dv / omega0`` (Hof 2005, 2008).

    Rows a reaction delay old are fully grown and perceived: their sums no longer change.
    A caller may hand back the sums over such rows from an earlier call with the same
    ``lo``, ``since_s`` and window (``resume_*``; ``resume_row = lo`` and zeros to start
    afresh), and the loop goes on from there with the same additions in the same order, so
    the result is exactly the full sum's. Returns (error, perceived error, and the sums
    over the perceived rows to resume from: row, moved, total, count, previous time)."""
    moved = moved_seen = resume_moved
    total = total_seen = resume_total
    n_seen = resume_n
    previous_s = resume_previous_s if resume_row > lo else since_s
    done_row, done_previous_s = resume_row, previous_s
    for k in range(resume_row - lo, hi - lo):
        row_s = t_s[lo + k]
        expected, _ = expected_at(belt_mps, lo + k, record_period_s, delay_s, window_s,
                                  medians_for_ramp, unnoticed_mps2, max_followed_mps2)
        mismatch = belt_mps[lo + k] - expected
        grown = mismatch * (row_s - previous_s) * np.exp(omega0_per_s * min(now_s - row_s,
                                                                            delay_s))
        previous_s = row_s
        moved += grown
        total += mismatch
        if row_s <= now_s - delay_s:
            moved_seen += grown
            total_seen += mismatch
            n_seen += 1
            done_row, done_previous_s = lo + k + 1, row_s
    fresh = moved + total / (hi - lo) / omega0_per_s
    fresh_seen = moved_seen + (total_seen / n_seen / omega0_per_s if n_seen else 0.0)
    return (fresh, fresh_seen, done_row, moved_seen, total_seen, n_seen, done_previous_s)
