"""Do the motorized presets behave like the machines they name? Measured from the trace.

    python benchmarks/bench_preset_behaviour.py [--preset NAME ...]

For each motorized preset, from the same trace rows ``trace.csv`` holds (1 kHz):

- **stop**: the belt at 3 mph, then the stop button, empty and with the
  preset's rated user walking on it. Reported: the mean deceleration from
  90 % to 10 % of the speed before the stop, the peak of its 50 ms moving
  average, and what the preset states;
- **carry**: the rated user walking at each facing's walking speeds. Reported:
  the mean belt speed error over the last 20 s, the largest armature current
  against the current limit, and the energy lost to roller slip;
- **step** (``instrumented`` only): an empty belt stepped from 1.0 to 1.1 m/s.
  Reported: overshoot and the damping ratio from the first two peaks.

Nothing here is asserted; the tests in tests/test_presets_behaviour.py hold
the figures to the presets' statements.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from treadtwin.controllers.units import mph_to_mps  # noqa: E402
from treadtwin.scenarios.metrics import mean_decel_between, step_response  # noqa: E402
from treadtwin.scenarios.runner import run_scenario  # noqa: E402
from treadtwin.scenarios.schema import parse_scenario  # noqa: E402
from treadtwin.sim.presets import PRESETS, preset  # noqa: E402

STOP_FROM_MPH = 3.0
STOP_AT_S = 30.0
STEP_TO_MPS = 1.1  # a step from 1.0 m/s small enough to stay inside the current limit
CARRY_MPH = {"console": (0.5, 1.5, 2.5, 3.5, 4.5), "rear": (0.5, 1.0, 1.5, 2.0, 2.5)}


def _scenario(preset_name: str, program: str, duration_s: float, walker: str = "",
              faults: str = "", supervisor: str = "") -> np.ndarray:
    text = (f'[scenario]\nname = "measure"\nduration_s = {duration_s}\n'
            f'[machine]\npreset = "{preset_name}"\n[supervisor]\n{supervisor}'
            f"{walker}{program}{faults}")
    return run_scenario(parse_scenario(text, "measure")).run.trace


def _walker(mass_kg: float, facing: str = "console") -> str:
    return (f'[walker]\nmass_kg = {mass_kg}\nheight_m = 1.80\nfacing = "{facing}"\n'
            "step_on_at_s = 0\n")


def stop_decel(trace: np.ndarray, at_s: float) -> tuple[float, float]:
    """(mean deceleration from 90 % to 10 % of the speed at the stop, peak 50 ms mean)."""
    t, v = trace["t_s"], trace["belt_speed_mps"]
    after = t >= at_s
    mean = mean_decel_between(t[after], np.abs(v[after]), 0.9, 0.1)
    dt = float(t[1] - t[0])
    n = max(1, round(0.05 / dt))
    smooth = np.convolve(-np.gradient(v, dt), np.ones(n) / n, mode="same")
    return (math.nan if mean is None else mean), float(smooth[after].max())


def measure_stop(name: str, mass_kg: float | None) -> tuple[float, float]:
    """Stop-button deceleration from 3 mph, empty or under a walker of this mass."""
    program = f"[[program]]\nat_s = 0\nspeed_mph = {STOP_FROM_MPH}\n"
    faults = f'[[faults]]\nat_s = {STOP_AT_S}\nkind = "stop_button"\n'
    walker = _walker(mass_kg) if mass_kg else ""
    return stop_decel(_scenario(name, program, STOP_AT_S + 60.0, walker, faults), STOP_AT_S)


def measure_carry(name: str, mass_kg: float, facing: str, mph: float) -> dict:
    """Steady walking of the rated user: speed error, peak current, slip energy."""
    machine = preset(name)
    program = f"[[program]]\nat_s = 0\nspeed_mph = {mph}\n"
    trace = _scenario(name, program, 60.0, _walker(mass_kg, facing))
    late = trace["t_s"] > 40.0
    target = mph_to_mps(mph)
    return {
        "error_pct": 100 * (float(np.mean(trace["belt_speed_mps"][late])) - target) / target,
        "peak_current_a": float(np.abs(trace["motor_current_a"][late]).max()),
        "limit_a": machine.drive.current_limit_a,
        "slip_j": float(trace["e_slip_j"][-1] - trace["e_slip_j"][late][0]),
        "fell": bool((trace["walker_state"][late] != trace["walker_state"][late][0]).any()),
    }


def measure_step(name: str, accel_mps2: float | None = None) -> tuple[float, float]:
    """Overshoot and damping of a 1.0 -> 1.5 m/s step, through the board's ramp or not."""
    program = ("[[program]]\nat_s = 0\nspeed_mps = 1.0\n[[program]]\nat_s = 10\n"
               f"speed_mps = {STEP_TO_MPS}\n")
    if accel_mps2 is not None:  # a step the ramp does not soften: the loop's own response
        program += f"[machine.drive]\naccel_mps2 = {accel_mps2}\n"
    trace = _scenario(name, program, 15.0, supervisor="enabled = false\n")
    overshoot, zeta = step_response(trace["t_s"], trace["belt_speed_mps"], 10.0, 1.0,
                                    STEP_TO_MPS)
    return 100.0 * overshoot, zeta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS))
    args = parser.parse_args(argv)
    names = args.preset or [n for n in PRESETS if preset(n).motorized]
    for name in names:
        machine = preset(name)
        rated = machine.rated_user_mass_kg
        print(f"## {name} (rated user {rated:g} kg)")
        for label, mass in (("empty", None), (f"{rated:g} kg", rated)):
            mean, peak = measure_stop(name, mass)
            print(f"stop from {STOP_FROM_MPH:g} mph, {label}: mean {mean:.2f} m/s^2,"
                  f" peak {peak:.2f} m/s^2; stated: {machine.stop_statement()}")
        for facing, speeds in CARRY_MPH.items():
            for mph in speeds:
                c = measure_carry(name, rated, facing, mph)
                print(f"carry {rated:g} kg facing {facing} at {mph} mph: speed error"
                      f" {c['error_pct']:+.1f} %, peak current {c['peak_current_a']:.1f} A of"
                      f" {c['limit_a']:g} A, slip {c['slip_j']:.0f} J over 20 s"
                      + (" (walker fell or stumbled)" if c["fell"] else ""))
        if name == "instrumented":
            for label, accel in (("through the board's ramp", None), ("unramped", 1000.0)):
                overshoot, zeta = measure_step(name, accel)
                print(f"step 1.0 -> {STEP_TO_MPS} m/s {label}: overshoot {overshoot:.2f} %,"
                      f" damping ratio {zeta:.2f} (inf: no overshoot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
