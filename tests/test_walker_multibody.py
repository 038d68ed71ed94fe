"""Layer 3 of the walker (pybullet biped) against physics and against layer 2.

Expected physics numbers are written out (W = 70 kg x 9.80665 = 686.47 N; a
10 % grade is atan(0.1): cos 0.99504, sin 0.09950). Layer 2's loads come
from gait.foot_forces / Walker._step_forces, the code layer 3 stands in for.

Measured agreement (python -m pytest tests/test_walker_multibody.py, 70 kg,
1.75 m; peaks after a 25 ms moving average, as force plates are read
through a 10-20 Hz low-pass), layer 3 / layer 2 peak normal force:
forwards 0.8 m/s 1.19 / 1.12 BW (+6 %), 1.3 m/s 1.41 / 1.19 (+18 %);
backwards 0.8 m/s 1.22 / 1.11 (+10 %), 1.2 m/s 1.26 / 1.16 (+9 %).
Unfiltered, forward heel landings add a few-millisecond transient: raw peak
2.18 BW at 1.3 m/s (1.83 x layer 2). Stride means agree to < 0.3 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pybullet")

from treadtwin.sim.walker.balance import Walker, WalkerParams  # noqa: E402
from treadtwin.sim.walker.gait import Facing, foot_forces, gait_at  # noqa: E402
from treadtwin.sim.walker.multibody import MultibodyWalker  # noqa: E402

MASS_KG, HEIGHT_M = 70.0, 1.75
WEIGHT_N = 686.4655  # 70 kg x 9.80665 m/s^2
LEG_M = 0.53 * HEIGHT_M  # layer 2's leg length for this walker
COS_10_PCT, SIN_10_PCT = 0.995037, 0.0995037  # of atan(0.1)
PEAK_TOLERANCE = 0.25  # filtered peak normal force, relative to layer 2's
RAW_PEAK_RATIO_MAX = 2.0  # unfiltered peak over layer 2's (landing transients)


def moving_average(x: np.ndarray, n: int) -> np.ndarray:
    """Circular moving average over n samples (the stride repeats)."""
    padded = np.concatenate((x[-n:], x, x[:n]))
    return np.convolve(padded, np.ones(n) / n, mode="same")[n:-n]


@pytest.fixture(scope="module", params=["console", "rear"])
def walker(request):
    with MultibodyWalker(MASS_KG, HEIGHT_M, request.param) as w:
        yield w


# (a) physics: over a stride the deck carries the weight, the belt the slope component ---
@pytest.mark.parametrize("incline_pct, cos_t, sin_t", [(0.0, 1.0, 0.0),
                                                       (10.0, COS_10_PCT, SIN_10_PCT)])
def test_stride_means_are_weight_and_slope_component(walker, incline_pct, cos_t, sin_t):
    speed = 1.2 if walker.facing is Facing.CONSOLE else 0.9
    t, fore_aft, normal = walker.stride_forces(speed, incline_pct=incline_pct)
    assert np.mean(normal) == pytest.approx(WEIGHT_N * cos_t, rel=0.03)
    # The feet push the belt down-slope (towards the rear when the front is up).
    assert np.mean(fore_aft) == pytest.approx(WEIGHT_N * sin_t, abs=0.03 * WEIGHT_N)
    assert np.all(np.diff(t) > 0) and t[0] == 0.0


# (b) layer 3 reproduces layer 2 -----------------------------------------------------------
@pytest.mark.parametrize("facing, speed", [("console", 0.8), ("console", 1.3),
                                           ("rear", 0.8), ("rear", 1.2)])
def test_stride_loads_and_peak_match_layer_2(facing, speed):
    with MultibodyWalker(MASS_KG, HEIGHT_M, facing) as walker:
        t, fore_aft, normal = walker.stride_forces(speed)
    layer2 = foot_forces(t, gait_at(speed, facing, 0.0, leg_length_m=LEG_M), MASS_KG)
    assert np.mean(normal) == pytest.approx(np.mean(layer2.total_normal_n), rel=0.01)
    assert np.mean(fore_aft) == pytest.approx(np.mean(layer2.total_fore_aft_n),
                                              abs=0.01 * WEIGHT_N)
    peak2 = np.max(layer2.total_normal_n)
    peak3 = np.max(moving_average(normal, 25))  # 25 samples of 1 ms
    assert abs(peak3 / peak2 - 1.0) <= PEAK_TOLERANCE
    assert peak2 < np.max(normal) <= RAW_PEAK_RATIO_MAX * peak2


def test_step_forces_are_a_drop_in_for_layer_2(walker):
    params = WalkerParams(mass_kg=MASS_KG, height_m=HEIGHT_M, facing=walker.facing)
    layer2 = Walker(params, 1.4, False, 0.001, 0.01)
    speed = 1.1 if walker.facing is Facing.CONSOLE else 0.9
    steps2 = [layer2._step_forces(speed, 5.0, left)[:2] for left in (True, False)]
    steps3 = [walker.step_forces(speed, 5.0, left, 0.001) for left in (True, False)]
    for (fa2, n2), (fa3, n3) in zip(steps2, steps3, strict=True):
        assert fa3.shape == fa2.shape and n3.shape == n2.shape
    # Two steps make a stride: the same load and slope push (5 %: cos 0.99875, sin 0.04994).
    n_both, fa_both = np.concatenate([s[1] for s in steps3]), np.concatenate([s[0] for s in steps3])
    assert np.mean(n_both) == pytest.approx(WEIGHT_N * 0.99875, rel=0.01)
    assert np.mean(fa_both) == pytest.approx(WEIGHT_N * 0.04994, abs=0.01 * WEIGHT_N)
    # The right step is the left one half a stride later: the stride profile, split.
    t, fa, n = walker.stride_forces(speed, incline_pct=5.0)
    assert np.allclose(steps3[0][1], n[: len(steps3[0][1])], atol=0.02 * WEIGHT_N)


# (c) the belt carries the feet -------------------------------------------------------------
@pytest.mark.parametrize("belt_mps", [1.3, 0.9])
def test_flat_stance_foot_moves_at_belt_speed(walker, belt_mps):
    run = walker.simulate(1.3 if walker.facing is Facing.CONSOLE else 1.0, belt_mps,
                          n_strides=3, record_feet=True)
    late = run.t_s > run.gait.stride_time_s
    for vx, flat in ((run.left_foot_vx_mps, run.left_flat),
                     (run.right_foot_vx_mps, run.right_flat)):
        assert np.mean(vx[late & flat]) == pytest.approx(belt_mps, abs=0.03)
        assert np.all(np.abs(vx[late & flat] - belt_mps) < 0.15)


def test_forces_depend_on_walking_speed_not_on_belt_speed(walker):
    """Galilean invariance: a belt slower than the walker (who then creeps forwards along
    the deck) loads the deck exactly as a matching belt; a faster gait loads it more."""
    speed = 1.2 if walker.facing is Facing.CONSOLE else 1.0
    _, fa_matched, n_matched = walker.stride_forces(speed, speed)
    _, fa_slow_belt, n_slow_belt = walker.stride_forces(speed, speed - 0.4)
    assert np.allclose(n_slow_belt, n_matched, atol=1e-3 * WEIGHT_N)
    assert np.allclose(fa_slow_belt, fa_matched, atol=1e-3 * WEIGHT_N)
    _, fa_slow, n_slow = walker.stride_forces(0.6)
    # Like layer 2: the valley deepens and the braking/propulsion swing grows with speed.
    assert np.min(moving_average(n_matched, 25)) < np.min(moving_average(n_slow, 25))
    assert np.ptp(moving_average(fa_matched, 25)) > np.ptp(moving_average(fa_slow, 25))


# API, determinism, resampling, inputs -------------------------------------------------------
def test_runs_are_deterministic_and_independent_of_history():
    with MultibodyWalker(MASS_KG, HEIGHT_M, "console") as w:
        first = w.stride_forces(1.1)
        w.stride_forces(0.7, incline_pct=8.0)
        again = w.stride_forces(1.1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_resampling_keeps_the_impulse():
    with MultibodyWalker(MASS_KG, HEIGHT_M, "console", dt_s=0.004) as w:
        run = w.simulate(1.0, n_strides=2.0)
        stride_s = run.gait.stride_time_s
        fa, n = run.binned(0.0, 100, stride_s / 100)
        inside = run.t_s < stride_s - 1e-9
        # Bins tile the stride; physics steps straddle its end, so allow one step's worth.
        assert np.mean(n) == pytest.approx(np.mean(run.normal_n[inside]), rel=0.01)
        t, _, _ = w.stride_forces(1.0)
        assert len(t) == round(stride_s / 0.004)


def test_the_physics_client_is_closed_on_exit():
    import pybullet

    with MultibodyWalker(MASS_KG, HEIGHT_M, "rear") as w:
        client = w._client
        assert pybullet.isConnected(physicsClientId=client)
    assert not pybullet.isConnected(physicsClientId=client)
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.simulate(1.0)


@pytest.mark.parametrize("kwargs, name", [
    ({"mass_kg": 5.0}, "mass_kg"),
    ({"height_m": 3.0}, "height_m"),
    ({"facing": "sideways"}, "facing"),
    ({"incline_pct": 60.0}, "incline_pct"),
    ({"dt_s": 0.0}, "dt_s"),
])
def test_bad_construction_names_the_value(kwargs, name):
    args = {"mass_kg": MASS_KG, "height_m": HEIGHT_M, "facing": "console", **kwargs}
    with pytest.raises(ValueError, match=name):
        MultibodyWalker(**args)


def test_bad_run_inputs_name_the_value():
    with MultibodyWalker(MASS_KG, HEIGHT_M, "console") as w:
        with pytest.raises(ValueError, match="speed_mps"):
            w.stride_forces(-1.0)
        with pytest.raises(ValueError, match="running"):
            w.stride_forces(2.5)  # beyond the walk-run speed
        with pytest.raises(ValueError, match="belt_speed_mps"):
            w.stride_forces(1.0, belt_speed_mps=math.nan)
        with pytest.raises(ValueError, match="n_strides"):
            w.stride_forces(1.0, n_strides=0)
        with pytest.raises(ValueError, match="dt_s"):
            w.step_forces(1.0, 0.0, True, -0.001)


@pytest.mark.parametrize("mass_kg, height_m", [(50.0, 1.55), (110.0, 1.95), (25.0, 1.10)])
@pytest.mark.parametrize("facing", ["console", "rear"])
def test_other_bodies_keep_the_means_and_stay_near_layer_2(mass_kg, height_m, facing):
    weight_n = mass_kg * 9.80665
    with MultibodyWalker(mass_kg, height_m, facing) as w:
        for speed in (0.3, 0.8, 1.1):
            t, fore_aft, normal = w.stride_forces(speed)
            assert np.mean(normal) == pytest.approx(weight_n, rel=0.01)
            assert np.mean(fore_aft) == pytest.approx(0.0, abs=0.01 * weight_n)
            gait = gait_at(speed, facing, 0.0, leg_length_m=0.53 * height_m)
            peak2 = np.max(foot_forces(t, gait, mass_kg).total_normal_n)
            assert abs(np.max(moving_average(normal, 25)) / peak2 - 1.0) <= 0.3
