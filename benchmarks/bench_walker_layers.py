"""Real-time factor of the walker's layer 3 (pybullet biped) beside layer 2.

    PYTHONPATH=. python benchmarks/bench_walker_layers.py [--strides 20] [--repeat 3]
        [--physics-hz 240,1000] [--json PATH]

Both layers produce the same thing: the fore-aft force and the normal load a
70 kg, 1.75 m walker puts on the belt, sampled every 1 ms, over ``--strides``
strides of steady walking, for each case below (facing, speed, grade).

* layer 2: what ``Walker._step_forces`` does for a step its cache does not
  hold: ``gait_at``, then ``gait.foot_forces`` over the step's 1 ms samples.
  Timed uncached, step after step (the worst case: a steady walker hits the
  cache and costs next to nothing).
* layer 3: ``MultibodyWalker.simulate`` over the same strides (the gait plan
  in numpy, then one pybullet step per physics step with its motor targets,
  the belt velocity and the contact read-out), then the 1 ms resampling.
  Building the pybullet world is not timed (once per walker). The plan's
  share of the time is shown separately.

RTF = simulated seconds / wall-clock seconds, best of ``--repeat``. Target
(issue): layer 3 at least 50x real time. The last column says how many times
faster layer 2 is than layer 3.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from treadtwin.sim.walker.gait import foot_forces, gait_at, leg_length_from_height_m
from treadtwin.sim.walker.multibody import MultibodyWalker

MASS_KG, HEIGHT_M, OUT_DT_S = 70.0, 1.75, 0.001
CASES = (("console", 1.3, 0.0), ("rear", 1.0, 0.0), ("console", 1.3, 10.0))


def layer2_wall_s(facing: str, speed_mps: float, grade_pct: float, strides: int) -> float:
    """Wall time for layer 2 to produce the forces of ``strides`` strides, step by step."""
    leg_m = leg_length_from_height_m(HEIGHT_M)
    start = time.perf_counter()
    for step in range(2 * strides):
        gait = gait_at(speed_mps, facing, grade_pct, leg_length_m=leg_m)
        n = max(1, round(gait.step_time_s / OUT_DT_S))
        offset_s = 0.0 if step % 2 == 0 else 0.5 * gait.stride_time_s
        forces = foot_forces(offset_s + np.arange(n) * OUT_DT_S, gait, MASS_KG)
        _ = (forces.total_fore_aft_n, forces.total_normal_n)
    return time.perf_counter() - start


def layer3_wall_s(walker: MultibodyWalker, speed_mps: float, strides: int) -> tuple[float, float]:
    """Wall time for layer 3 to run and resample ``strides`` strides, and the plan's part."""
    start = time.perf_counter()
    run = walker.simulate(speed_mps, n_strides=strides)
    n = round(run.gait.stride_time_s / OUT_DT_S)
    run.binned(0.0, n, OUT_DT_S, strides)
    wall_s = time.perf_counter() - start
    t_s = np.arange(len(run.t_s) + 1) * walker.physics_dt_s
    start = time.perf_counter()
    walker._plan(t_s, run.gait, speed_mps)  # the same plan again, to time it alone
    return wall_s, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strides", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--physics-hz", default="240,1000",
                        help="layer 3 physics rates to time, comma separated")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    rates_hz = [float(x) for x in args.physics_hz.split(",")]
    rows = []
    for facing, speed, grade in CASES:
        sim_s = args.strides * gait_at(speed, facing, grade,
                                       leg_length_m=leg_length_from_height_m(HEIGHT_M)
                                       ).stride_time_s
        l2_s = min(layer2_wall_s(facing, speed, grade, args.strides)
                   for _ in range(args.repeat))
        for hz in rates_hz:
            with MultibodyWalker(MASS_KG, HEIGHT_M, facing, grade, OUT_DT_S,
                                 physics_dt_s=1.0 / hz) as walker:
                l3_s, plan_s = min(layer3_wall_s(walker, speed, args.strides)
                                   for _ in range(args.repeat))
            rows.append({"facing": facing, "speed_mps": speed, "grade_pct": grade,
                         "physics_hz": hz, "sim_s": sim_s, "layer2_rtf": sim_s / l2_s,
                         "layer3_rtf": sim_s / l3_s, "layer3_plan_share": plan_s / l3_s,
                         "layer2_over_layer3": l3_s / l2_s})
    head = (f"{'case':<24} {'physics':>8} {'sim s':>6} {'layer 2 RTF':>12} "
            f"{'layer 3 RTF':>12} {'plan share':>11} {'L2/L3':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        case = f"{r['facing']} {r['speed_mps']} m/s {r['grade_pct']:g} %"
        print(f"{case:<24} {r['physics_hz']:>6.0f}Hz {r['sim_s']:>6.1f} {r['layer2_rtf']:>12.0f}"
              f" {r['layer3_rtf']:>12.1f} {r['layer3_plan_share']:>10.0%} "
              f"{r['layer2_over_layer3']:>7.0f}")
    slowest = min(r["layer3_rtf"] for r in rows if r["physics_hz"] == 240.0) if any(
        r["physics_hz"] == 240.0 for r in rows) else float("nan")
    print(f"\nlayer 3 at 240 Hz, slowest case: {slowest:.1f}x real time (target: at least 50x)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
