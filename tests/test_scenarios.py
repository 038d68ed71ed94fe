"""Scenario files, the command line and its output contract."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from treadtwin.scenarios.cli import main
from treadtwin.scenarios.schema import ScenarioError, parse_scenario
from treadtwin.scenarios.suite import builtin_suite_dir

BASE = """
[scenario]
name = "t"
duration_s = 20
seed = 3

[machine]
preset = "home-motorized"

[[program]]
at_s = 0
speed_mph = 1.0
"""

CONTRACT_COLUMNS = [
    "t_s", "belt_speed_mps", "belt_speed_cmd_mps", "belt_speed_meas_mps", "incline_pct",
    "motor_current_a", "motor_voltage_v", "walker_pos_m", "walker_state", "key_present",
    "safety_state", "e_elec_j", "e_copper_j", "e_friction_j", "e_brake_j", "e_walker_j",
    "kinetic_j",
]
CONTRACT_METRICS = [
    "walker_fell", "min_rear_margin_m", "max_belt_speed_mps", "mean_abs_speed_error_mps",
    "stop_time_s", "peak_decel_mps2", "distance_m", "mean_vo2_ml_kg_min", "energy_kcal",
    "max_motor_current_a", "max_motor_temp_c", "energy_residual_pct",
]


def test_a_valid_scenario_parses_with_units_converted():
    scenario = parse_scenario(BASE + "\n[[program]]\nat_s = 5\nincline_pct = 4\n", "x.toml")
    assert scenario.program[0].speed_mps == pytest.approx(0.44704)
    assert scenario.program[1].speed_mps == pytest.approx(0.44704)  # carried forward
    assert scenario.program[1].incline_pct == 4.0
    assert scenario.seed == 3


@pytest.mark.parametrize(
    "extra, key, words",
    [
        ("\n[[program]]\nat_s = 2\nspeed_mph = 30\n", "program[1].speed_mph",
         "outside what home-motorized can do"),
        ("\n[[program]]\nat_s = 2\nincline_pct = 26.8\n", "program[1].incline_pct",
         "0..15 %"),
        ("\n[[program]]\nat_s = 2\nspeed_mph = 1\nspeed_kmh = 2\n", "program[1].speed_kmh",
         "exactly one of"),
        ("\n[[program]]\nat_s = 2\nsped_mph = 1\n", "program[1].sped_mph", "unknown key"),
        ("\n[[program]]\nat_s = 2\nspeed_mph = 'fast'\n", "program[1].speed_mph",
         "finite number"),
        ("\n[[program]]\nat_s = 2\nbelt_direction = 'reverse'\n", "program[1].belt_direction",
         "cannot run its belt in reverse"),
        ("\n[[faults]]\nat_s = 5\nkind = 'meteor'\n", "faults[0].kind", "allowed: lanyard_pull"),
        ("\n[[faults]]\nat_s = 50\nkind = 'stop_button'\n", "faults[0].at_s", "0..20"),
        ("\n[[criteria]]\nkind = 'stops_within'\n", "criteria[0].limit", "required"),
        ("\n[[criteria]]\nkind = 'no_fall'\n", "criteria[0].kind", "needs a [walker] table"),
        ("\n[walker]\nmass_kg = 500\n", "walker.mass_kg", "20..300"),
        ("\n[walker]\nfacing = 'sideways'\n", "walker.facing", "allowed: console, rear"),
        ("\n[walker]\nlanyard = 'yes'\n", "walker.lanyard", "true or false"),
        ("\n[walker]\nwings = 2\n", "walker.wings", "unknown key"),
        ("\n[engine]\ncontrol_period_s = 0.0015\n", "engine.control_period_s", "whole multiple"),
        ("\n[machine.drive]\naccel_mps2 = -1\n", "machine.drive.accel_mps2", "outside"),
        ("\n[machine.drive]\nspeed = 3\n", "machine.drive.speed", "unknown key"),
        ("\n[extra]\nx = 1\n", "extra", "unknown key"),
    ],
)
def test_bad_input_names_file_key_value_and_what_is_allowed(extra, key, words):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BASE + extra, "bad.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"bad.toml: {key} = ")
    assert words in message


def test_program_out_of_time_order_is_refused():
    text = (BASE + "\n[[program]]\nat_s = 10\nspeed_mph = 2\n"
            "\n[[program]]\nat_s = 5\nspeed_mph = 1\n")
    with pytest.raises(ScenarioError, match=r"program\[2\]\.at_s = 5.0: .*time order"):
        parse_scenario(text, "x.toml")


def test_manual_machine_refuses_a_speed_setpoint():
    text = BASE.replace("home-motorized", "manual-flat")
    with pytest.raises(ScenarioError, match="no motor"):
        parse_scenario(text, "x.toml")


def test_fifteen_degrees_is_refused_on_a_consumer_machine():
    # One user reports 15 degrees at 3.4 mph: 26.8 %, beyond a 0-15 % machine
    # (the backward-walking guides): refused, not clipped.
    text = BASE + "\n[[program]]\nat_s = 1\nspeed_kmh = 5.5\nincline_pct = 26.8\n"
    with pytest.raises(ScenarioError, match="incline_pct = 26.8: incline 26.8 % is outside"):
        parse_scenario(text, "x.toml")


def test_invalid_toml_is_one_line():
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("[scenario\nname=", "broken.toml")
    assert str(caught.value).startswith("broken.toml: toml = ")
    assert "\n" not in str(caught.value)


def test_cli_run_writes_the_contract_outputs(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(BASE + '\n[[faults]]\nat_s = 12\nkind = "lanyard_pull"\n'
                        '\n[[criteria]]\nkind = "stops_within"\nlimit = 8\n'
                        '\n[[criteria]]\nkind = "energy_balance"\n'
                        '\n[walker]\nmass_kg = 70\nfacing = "rear"\n')
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "passed", "criteria", "events", "sim_time_s", "wall_time_s",
                "real_time_factor", "metrics"):
        assert key in summary
    for key in CONTRACT_METRICS:
        assert key in summary["metrics"]
    assert summary["passed"] is True
    assert {c["name"] for c in summary["criteria"]} == {"stops_within", "energy_balance",
                                                         "no_fall", "no_unexpected_stop"}
    assert set(summary["criteria"][0]) == {"name", "passed", "value", "limit", "detail"}
    kinds = [e["kind"] for e in summary["events"]]
    assert "lanyard_pull" in kinds and "safety_trip" in kinds
    with (out / "trace.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert len(rows) == 2000  # 20 s at 100 Hz
    assert rows[-1]["safety_state"] == "key_out|supervisor:key_out"  # board and supervisor
    assert rows[0]["safety_state"] == "ok"
    assert rows[0]["walker_state"] == "standing" and float(rows[0]["walker_pos_m"]) > 0
    assert (out / "plot.png").stat().st_size > 10_000
    assert "PASS" in (out / "report.html").read_text()


def test_cli_run_exit_code_is_one_when_a_criterion_fails(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(BASE + '\n[[criteria]]\nkind = "max_belt_speed"\nlimit = 0.2\n')
    assert main(["run", str(scenario), "--out", str(tmp_path / "o")]) == 1
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["passed"] is False
    assert summary["criteria"][0]["value"] > 0.2


def test_cli_bad_input_exits_two_with_one_line_and_no_traceback(tmp_path):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(BASE + "\n[[program]]\nat_s = 2\nspeed_mph = 30\n")
    done = subprocess.run([sys.executable, "-m", "treadtwin.scenarios.cli", "run", str(scenario)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in done.stderr
    assert lines[0].startswith(f"{scenario}: program[1].speed_mph = 30")


@pytest.mark.parametrize("argv", [["run"], ["suite", "--workers", "0"], ["run", "x", "--seed", "z"],
                                  ["frobnicate"]])
def test_cli_bad_arguments_exit_two_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1


def test_cli_missing_file_exits_two(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_suite_refuses_to_start_when_any_file_is_invalid(tmp_path, capsys):
    (tmp_path / "a.toml").write_text(BASE)
    (tmp_path / "b.toml").write_text(BASE.replace('name = "t"', 'name = "u"') + "\nbogus = 1\n")
    assert main(["suite", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "nothing was run" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_suite_writes_junit_and_index(tmp_path):
    (tmp_path / "a.toml").write_text(BASE)
    (tmp_path / "b.toml").write_text(
        BASE.replace('name = "t"', 'name = "u"')
        + '\n[[criteria]]\nkind = "max_belt_speed"\nlimit = 0.1\n')
    junit = tmp_path / "junit.xml"
    code = main(["suite", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--junit", str(junit)])
    assert code == 1
    text = junit.read_text()
    assert 'tests="2"' in text and 'failures="1"' in text
    assert (tmp_path / "out" / "index.html").exists()
    assert (tmp_path / "out" / "u" / "summary.json").exists()


def test_same_seed_gives_the_same_trace(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(BASE)
    main(["run", str(scenario), "--out", str(tmp_path / "a")])
    main(["run", str(scenario), "--out", str(tmp_path / "b")])
    first, second = (tmp_path / "a" / "trace.csv"), (tmp_path / "b" / "trace.csv")
    assert first.read_bytes() == second.read_bytes()


def test_builtin_scenarios_are_valid():
    from treadtwin.scenarios.suite import discover, load_all

    scenarios, errors = load_all(discover([builtin_suite_dir()]))
    assert errors == []
    assert len(scenarios) >= 8
    assert all(s.criteria for s in scenarios)


def test_readme_documents_every_builtin_scenario():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for path in sorted(builtin_suite_dir().glob("*.toml")):
        assert path.stem in readme, f"README does not mention {path.stem}"


def test_safety_state_shows_the_supervisors_latched_stop_until_reset(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(BASE + '\n[[faults]]\nat_s = 12\nkind = "stop_button"\n')
    out = tmp_path / "out"
    main(["run", str(scenario), "--out", str(out)])
    with (out / "trace.csv").open() as f:
        rows = list(csv.DictReader(f))
    before = [r["safety_state"] for r in rows if float(r["t_s"]) < 11.9]
    after = [r["safety_state"] for r in rows if float(r["t_s"]) > 12.1]
    assert set(before) == {"ok"}
    assert set(after) == {"stop_button|supervisor:stop_button"}


def test_cli_version_help_and_a_time_scale_without_the_scaled_clock(capsys):
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0 and capsys.readouterr().out.startswith("treadtwin 0.")
    with pytest.raises(SystemExit) as bad:
        main(["run", "whatever.toml", "--time-scale", "5"])
    err = capsys.readouterr().err
    assert bad.value.code == 2 and "needs --clock scaled" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Exit codes" in capsys.readouterr().out
