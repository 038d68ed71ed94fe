"""Tests that run unchanged on the twin, through the emulator, or on a real treadmill.

Select with ``--treadmill`` (treadtwin's pytest plugin). Only what every target
can measure is asserted: the speeds the treadmill reports and the verdicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from treadtwin.controllers.units import mph_to_mps
from treadtwin.scenarios.schema import load_scenario

SMOKE = Path(__file__).parent / "data" / "hil-smoke.toml"


def test_smoke_program_passes_and_the_belt_follows_it(treadmill):
    scenario = load_scenario(SMOKE)
    result = treadmill.run(scenario)
    assert result.passed, result.criteria
    trace = result.run.trace
    t, speed = trace["t_s"], trace["belt_speed_meas_mps"]
    held = (t > 8.0) & (t < 10.0)  # 1.5 mph for 4 s by then
    assert np.isfinite(speed[held]).all()
    assert abs(np.mean(speed[held]) - mph_to_mps(1.5)) < 0.05
    assert np.all(speed[t > 15.5] < 0.1)  # stopped at the end
