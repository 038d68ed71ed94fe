"""Built-in workout routines: the source articles' numbers, and routines in scenario files."""

from __future__ import annotations

import numpy as np
import pytest

from treadtwin.controllers.routines import (
    backward_warmup,
    beginner_backward_progression,
    forward_backward_intervals,
    hill,
)
from treadtwin.controllers.units import mps_to_mph
from treadtwin.scenarios.runner import run_scenario
from treadtwin.scenarios.schema import ScenarioError, parse_scenario

HEAD = '[scenario]\nname = "r"\nduration_s = {d}\n[machine]\npreset = "{m}"\n'


def mph(setpoints):
    return [round(mps_to_mph(s.speed_mps), 6) for s in setpoints]


def test_progression_starts_at_half_a_mph_and_climbs_in_half_mph_steps():
    rows = beginner_backward_progression(top_mph=2.0, hold_s=90)
    assert mph(rows) == [0.5, 1.0, 1.5, 2.0, 0.0]
    assert [r.at_s for r in rows] == [0, 90, 180, 270, 360]


def test_warmup_is_five_minutes_at_two_mph_and_five_percent_with_incline_after_speed():
    rows = backward_warmup()
    at_speed = next(r for r in rows if r.incline_pct == 5.0)
    reached = next(r for r in rows if abs(mps_to_mph(r.speed_mps) - 2.0) < 1e-9)
    assert at_speed.at_s > reached.at_s  # never speed and incline together
    end = next(r for r in rows if r.at_s > at_speed.at_s)
    assert end.at_s - at_speed.at_s == pytest.approx(300.0)
    assert mps_to_mph(at_speed.speed_mps) == pytest.approx(2.0)


def test_intervals_stop_between_directions_and_restart_slowly():
    rows = forward_backward_intervals(repeats=2)
    speeds = mph(rows)
    stops = [i for i, v in enumerate(speeds) if v == 0.0]
    assert len(stops) == 5  # before each of 4 blocks, and at the end
    for i in stops[:-1]:
        assert speeds[i + 1] == 0.5  # every block starts again at the lowest speed


def test_hill_holds_speed_while_the_incline_steps():
    rows = hill(speed_mph=3.0, inclines_pct=(2.0, 5.0, 10.0))
    climbing = [r for r in rows if r.incline_pct > 0]
    assert {round(mps_to_mph(r.speed_mps), 6) for r in climbing} == {3.0}


def test_a_routine_runs_exactly_like_its_rows_written_out():
    rows = beginner_backward_progression(top_mph=1.5, hold_s=30)
    by_name = parse_scenario(HEAD.format(d=120, m="home-motorized")
                             + '[routine]\nname = "beginner-backward-progression"\n'
                               "top_mph = 1.5\nhold_s = 30\n", "a.toml")
    written = parse_scenario(HEAD.format(d=120, m="home-motorized") + "".join(
        f"[[program]]\nat_s = {r.at_s}\nspeed_mps = {r.speed_mps!r}\n" for r in rows), "b.toml")
    assert by_name.program == written.program
    a, b = run_scenario(by_name), run_scenario(written)
    assert np.array_equal(a.run.trace["belt_speed_mps"], b.run.trace["belt_speed_mps"])


@pytest.mark.parametrize(
    "machine, routine, words",
    [
        ("home-motorized", 'name = "marathon"', "allowed: backward-warmup"),
        ("home-motorized", 'name = "hill"\nspeed_mph = 40', "speed_mph = 40"),
        ("home-motorized", 'name = "hill"\nsprint = 1', "unknown key"),
        ("home-motorized", 'name = "backward-warmup"\nminutes = 30', "must cover it"),
        ("manual-flat", 'name = "hill"', "no motor"),
        ("home-motorized", 'name = "hill"\ninclines_pct = [2, 20]', "20"),
    ],
)
def test_bad_routines_are_refused_in_one_line(machine, routine, words):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(HEAD.format(d=600, m=machine) + "[routine]\n" + routine + "\n", "x.toml")
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_routine_and_program_rows_together_are_refused():
    text = (HEAD.format(d=600, m="home-motorized") + '[routine]\nname = "hill"\n'
            "[[program]]\nat_s = 0\nspeed_mph = 1\n")
    with pytest.raises(ScenarioError, match="not both"):
        parse_scenario(text, "x.toml")


def test_a_walker_turns_round_at_each_stop_of_the_interval_routine():
    text = (HEAD.format(d=800, m="home-motorized")
            + "[walker]\nturns_when_stopped = true\nstep_on_at_s = 16\n"
            + '[routine]\nname = "forward-backward-intervals"\nforward_s = 120\nbackward_s = 60\n'
              "repeats = 2\n")
    result = run_scenario(parse_scenario(text, "i.toml"))
    turns = [e for e in result.run.events if e.kind == "turn_round"]
    # forward, turn, backward, turn, forward, turn, backward, and a turn at the final stop
    assert [t.detail.endswith("rear") for t in turns] == [True, False, True, False]
    assert not result.metrics["walker_fell"]
