"""Verdicts tell the truth: no PASS over a fall, a lanyard pull or a stop nobody declared."""

from __future__ import annotations

import json

import numpy as np
import pytest

from treadtwin.scenarios.cli import main
from treadtwin.scenarios.criteria import evaluate
from treadtwin.scenarios.hazards import Declaration, unexpected_hazards
from treadtwin.scenarios.runner import run_scenario
from treadtwin.scenarios.schema import CriterionSpec, ScenarioError, parse_scenario
from treadtwin.sim.engine import Event
from treadtwin.sim.faults import FaultKind, FaultSpec

HEAD = """
[scenario]
name = "v"
duration_s = 20
[machine]
preset = "home-motorized"
[[program]]
at_s = 0
speed_mph = 1.0
"""
WALKER = "[walker]\nmass_kg = 70\n"
#: A foot misplaced by 1.5 m: no recovery step reaches that far, so the walker falls.
TRIP = '[[faults]]\nat_s = 10\nkind = "walker_stumble"\nerror_m = 1.5\n'


def kinds(scenario) -> list[str]:
    return [c.kind for c in scenario.criteria]


def test_scenario_without_criteria_gets_the_default_set():
    assert kinds(parse_scenario(HEAD + WALKER)) == ["no_fall", "no_unexpected_stop"]
    assert kinds(parse_scenario(HEAD)) == ["no_unexpected_stop"]  # an empty belt cannot fall


def test_truth_criteria_are_added_to_any_criteria_list():
    scenario = parse_scenario(HEAD + WALKER + '[[criteria]]\nkind = "max_belt_speed"\nlimit = 1\n')
    assert kinds(scenario) == ["max_belt_speed", "no_fall", "no_unexpected_stop"]


def test_a_declared_fall_replaces_no_fall():
    text = HEAD + WALKER + TRIP + '[[criteria]]\nkind = "expect_event"\nevent = "fall"\n'
    scenario = parse_scenario(text)
    assert kinds(scenario) == ["expect_event", "no_unexpected_stop"]
    result = run_scenario(scenario)
    assert result.passed, result.reason  # the fall, its lanyard pull and key-out stop: declared


@pytest.mark.parametrize("extra, key, says", [
    ('[[criteria]]\nkind = "no_fall"\n[[criteria]]\nkind = "allow_event"\nevent = "fall"\n',
     "criteria[0].kind", "contradicts"),
    ('[[criteria]]\nkind = "expect_event"\nevent = "falls"\n', "criteria[0].event", "allowed"),
    ('[[criteria]]\nkind = "expect_event"\n', "criteria[0].event", "required"),
    ('[[criteria]]\nkind = "expect_event"\nevent = "fall"\nrule = "key_out"\n',
     "criteria[0].rule", "only a supervisor_stop"),
    ('[[criteria]]\nkind = "expect_event"\nevent = "supervisor_stop"\nrule = "nap"\n',
     "criteria[0].rule", "allowed"),
    ('[[criteria]]\nkind = "allow_event"\nevent = "stumble"\nafter_s = 5\nbefore_s = 5\n',
     "criteria[0].before_s", "must come after"),
])
def test_bad_declarations_are_one_clear_error(extra, key, says):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(HEAD + WALKER + extra, "f.toml")
    assert err.value.key == key and says in str(err.value)


def test_an_undeclared_fall_fails_the_run_with_the_reason_on_the_verdict_line(tmp_path, capsys):
    path = tmp_path / "fall.toml"
    path.write_text(HEAD + WALKER + TRIP)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 1
    verdict = capsys.readouterr().out.splitlines()[0]
    assert verdict.startswith("FAIL v: no_fall: the walker fell at 10.")
    assert "no_unexpected_stop: unexpected" in verdict  # the lanyard it pulled stopped the belt
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["passed"] is False
    failed = {c["name"]: c for c in summary["criteria"] if not c["passed"]}
    assert set(failed) == {"no_fall", "no_unexpected_stop"}
    assert "fell" in failed["no_fall"]["detail"]


def test_an_expected_event_that_does_not_happen_fails():
    result = run_scenario(parse_scenario(
        HEAD + WALKER + '[[criteria]]\nkind = "expect_event"\nevent = "lanyard_pull"\n'))
    expect = result.criteria[0]
    assert not result.passed and expect["value"] is None
    assert "no lanyard_pull happened" in expect["detail"]


def test_an_injected_fault_explains_the_stop_it_causes_and_no_other():
    key_pull = FaultSpec(FaultKind.LANYARD_PULL, at_s=5.0)
    events = [Event(5.0, "lanyard_pull", "safety key pulled from the console"),
              Event(5.0, "safety_trip", "key out: belt stopping, lift cut"),
              Event(5.01, "supervisor_stop", "key_out: safety key out")]
    assert unexpected_hazards(events, [key_pull], []) == []
    assert len(unexpected_hazards(events, [], [])) == 3
    # a fault explains only what comes after it, and only its own kind of stop
    early = Event(4.0, "supervisor_stop", "key_out: safety key out")
    other = Event(6.0, "supervisor_stop", "tach_implausible: no tach pulse for 3.0 s")
    assert unexpected_hazards([early, other], [key_pull], []) == [early, other]


def test_a_declared_hazard_explains_what_follows_from_it_even_in_the_same_instant():
    # the trip is logged before the lanyard pull that caused it, at the same time stamp
    events = [Event(51.9, "safety_trip", "key out: belt stopping, lift cut"),
              Event(51.9, "lanyard_pull", "the lanyard pulled the key out"),
              Event(51.91, "supervisor_stop", "key_out: safety key out"),
              Event(60.0, "supervisor_stop", "watchdog: no new telemetry for 0.6 s")]
    declared = [Declaration("lanyard_pull", after_s=50.0)]
    assert unexpected_hazards(events, [], declared) == [events[3]]
    # outside its window the declaration explains nothing
    assert len(unexpected_hazards(events, [], [Declaration("lanyard_pull", before_s=50.0)])) == 4


def test_a_step_off_explains_the_empty_deck_stop_only():
    events = [Event(100.0, "step_off", "the walker steps back onto the side rails"),
              Event(100.01, "supervisor_stop", "walker_fallen: deck carries 0 N"),
              Event(101.0, "supervisor_stop", "over_current: 31 A")]
    assert unexpected_hazards(events, [], []) == [events[2]]


def test_allow_event_passes_whether_or_not_it_happens():
    spec = CriterionSpec("allow_event", options={"event": "stumble"})
    for events in ([], [Event(3.0, "stumble", "a recovery step")]):
        (result,) = evaluate([spec], {}, events)
        assert result["passed"] and result["value"] == len(events)


@pytest.mark.parametrize("name", ["../x", "../../escaped", "/abs", "a/b", "a\\\\b", "", ".hidden",
                                  "x" * 101, "tab\\there", "new\\nline", "a..b"])
def test_a_hostile_scenario_name_is_refused_before_anything_is_written(tmp_path, capsys, name):
    path = tmp_path / "s.toml"
    path.write_text(HEAD.replace('name = "v"', f'name = "{name}"'))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert main(["suite", str(path), "--out", str(out)]) == 2
    assert main(["hil", str(path), "--port", str(tmp_path / "no-port"), "--out", str(out)]) == 2
    assert main(["emulate", "--pty", "--scenario", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert sum("scenario.name" in line for line in err) == 4  # one line from each command
    assert "Traceback" not in "\n".join(err)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_a_walker_off_the_rear_fails_min_rear_margin():
    # No lanyard, no supervisor: a backward walker asked past its walk-run speed drifts off
    # the rear while the belt runs on. The margin judges the whole run, not the upright part.
    rows = "".join(f"[[program]]\nat_s = {4 * i}\nspeed_mps = {round(0.2235 * (i + 1), 3)}\n"
                   for i in range(9))
    text = ('[scenario]\nname = "off"\nduration_s = 45\n[machine]\npreset = "home-motorized"\n'
            '[supervisor]\nenabled = false\n[walker]\nfacing = "rear"\nlanyard = false\n'
            + rows + '[[criteria]]\nkind = "min_rear_margin"\nlimit = 0.1\n'
            '[[criteria]]\nkind = "allow_event"\nevent = "fall"\n')
    result = run_scenario(parse_scenario(text))
    margin = next(c for c in result.criteria if c["name"] == "min_rear_margin")
    assert "off_rear" in [e.kind for e in result.run.events]
    assert margin["value"] <= 0.0 and not margin["passed"] and not result.passed


def test_criterion_lines_are_rounded_with_units_and_say_what_they_mean():
    from treadtwin.scenarios.criteria import describe_result

    def line(name, value, limit=None, detail=""):
        return describe_result({"name": name, "value": value, "limit": limit, "detail": detail})

    assert line("stops_within", 1.6700000000000017, 8.0) == "stops_within: 1.67 s (limit 8 s)"
    assert line("no_fall", False) == "no_fall: the walker did not fall"
    assert line("no_fall", True) == "no_fall: the walker fell"
    assert line("stops_within", None, 8.0) == "stops_within: not measured (limit 8 s)"
    assert line("no_unexpected_stop", 0, 0) == "no_unexpected_stop: 0 unexpected"


# --- every criterion kind judges what happens after a fall ------------------------------------
@pytest.fixture(scope="module")
def fallen_run():
    # A standing walker on a belt that starts at 18 m/s^2 to 1.5 m/s, no lanyard, no
    # supervisor: it falls within the first second and the belt runs on to the end.
    text = ('[scenario]\nname = "fallen"\nduration_s = 30\n[machine]\npreset = "instrumented"\n'
            '[machine.drive]\naccel_mps2 = 18\n[supervisor]\nenabled = false\n'
            '[walker]\nlanyard = false\nreaction_delay_s = 0.5\nstep_on_at_s = 1\n'
            '[[program]]\nat_s = 0\nspeed_mps = 0.0\n[[program]]\nat_s = 5\nspeed_mps = 1.5\n')
    result = run_scenario(parse_scenario(text))
    fall_s = next(e.t_s for e in result.run.events if e.kind == "fall")
    assert fall_s < 10.0
    return result, fall_s


def _judge(result, spec, trace, extra_events=()):
    from treadtwin.scenarios.metrics import compute_metrics
    events = sorted([*result.run.events, *extra_events], key=lambda e: e.t_s)
    metrics = compute_metrics(trace, events, walker_mass_kg=result.scenario.walker.mass_kg,
                              running_length_m=result.scenario.machine.belt.running_length_m)
    return evaluate([spec], metrics, events, result.scenario.faults)[0]


def _late(trace, fall_s):
    """A copy of the trace and the index of a row well after the fall."""
    late = trace.copy()
    return late, int(np.searchsorted(late["t_s"], fall_s + 15.0))


def _spike(column, value):
    def change(trace, fall_s):
        late, row = _late(trace, fall_s)
        late[column][row] = value
        return late, ()
    return change


def _offset_speed(trace, fall_s):
    late, row = _late(trace, fall_s)
    late["belt_speed_mps"][row:] += 0.5
    return late, ()


def _drop_speed(trace, fall_s):
    late, row = _late(trace, fall_s)
    late["belt_speed_mps"][row:row + 50] = 0.0  # a 0.5 s hole: a sudden stop and restart
    return late, ()


def _leak_energy(trace, fall_s):
    late, row = _late(trace, fall_s)
    late["e_friction_j"][row:] += 500.0
    return late, ()


def _event(kind, detail):
    def change(trace, fall_s):
        return trace, (Event(fall_s + 15.0, kind, detail),)
    return change


def _stop_late(trace, fall_s):
    late, row = _late(trace, fall_s)
    late["belt_speed_mps"][row + 100:] = 0.0  # stopped 1 s after the button
    return late, (Event(float(late["t_s"][row]), "stop_button", "stop button pressed"),)


def _no_change(trace, fall_s):
    return trace, ()


AFTER_A_FALL = {
    # kind: (spec, change after the fall, whether the spec passes after the change)
    "max_belt_speed": (CriterionSpec("max_belt_speed", 2.0), _spike("belt_speed_mps", 4.0),
                       False),
    "speed_tracking": (CriterionSpec("speed_tracking", 0.05), _offset_speed, False),
    "stops_within": (CriterionSpec("stops_within", 5.0), _stop_late, True),
    "peak_decel": (CriterionSpec("peak_decel", 10.0), _drop_speed, False),
    "energy_balance": (CriterionSpec("energy_balance", 0.5), _leak_energy, False),
    "no_drive_trip": (CriterionSpec("no_drive_trip"),
                      _event("safety_trip", "drive tripped on over-current"), False),
    "max_motor_current": (CriterionSpec("max_motor_current", 55.0),
                          _spike("motor_current_a", 80.0), False),
    "max_motor_temp": (CriterionSpec("max_motor_temp", 100.0), _spike("motor_temp_c", 140.0),
                       False),
    "max_bus_voltage": (CriterionSpec("max_bus_voltage", 400.0), _spike("bus_voltage_v", 450.0),
                        False),
    "no_unexpected_stop": (CriterionSpec("no_unexpected_stop"),
                           _event("supervisor_stop", "watchdog: telemetry stopped"), False),
    "expect_event": (CriterionSpec("expect_event", options={"event": "board_command_timeout",
                                                            "after_s": 5.0}),
                     _event("board_command_timeout", "no command for 0.5 s"), True),
    "no_fall": (CriterionSpec("no_fall"), _no_change, False),
}


def test_every_criterion_kind_is_covered_after_a_fall():
    from treadtwin.scenarios.criteria import CRITERIA
    # min_rear_margin and allow_event have tests of their own (above and below)
    assert set(AFTER_A_FALL) | {"min_rear_margin", "allow_event"} == set(CRITERIA)


def test_an_allowed_event_after_a_fall_is_judged_in_its_window(fallen_run):
    result, fall_s = fallen_run
    trace, extra = _event("supervisor_stop", "watchdog: telemetry stopped")(
        result.run.trace, fall_s)
    events = sorted([*result.run.events, *extra], key=lambda e: e.t_s)
    from treadtwin.scenarios.metrics import compute_metrics
    metrics = compute_metrics(trace, events)
    stop = CriterionSpec("no_unexpected_stop")
    for after_s, allowed in ((fall_s + 10.0, True), (fall_s + 20.0, False)):
        allow = CriterionSpec("allow_event", options={"event": "supervisor_stop",
                                                      "after_s": after_s})
        judged = evaluate([allow, stop], metrics, events, result.scenario.faults)
        assert judged[1]["passed"] is allowed, (after_s, judged[1])


@pytest.mark.parametrize("kind", sorted(AFTER_A_FALL))
def test_a_criterion_judges_the_samples_after_a_fall(fallen_run, kind):
    result, fall_s = fallen_run
    spec, change, passes_after = AFTER_A_FALL[kind]
    trace, extra = change(result.run.trace, fall_s)
    after = _judge(result, spec, trace, extra)
    if kind == "no_fall":
        assert not after["passed"]
        return
    before = _judge(result, spec, result.run.trace)
    assert before["passed"] != passes_after, (kind, before)  # the change alone decides
    assert after["passed"] == passes_after, (kind, after)
