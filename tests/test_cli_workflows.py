"""What a user does at the command line: list the built-ins, run one by name, stop a suite."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from treadtwin.scenarios.cli import main
from treadtwin.scenarios.schema import ScenarioError, parse_scenario
from treadtwin.scenarios.suite import builtin_scenarios

HEAD = '[scenario]\nname = "t"\nduration_s = 20\n[machine]\npreset = "home-motorized"\n'


def test_list_names_every_builtin_scenario_with_its_machine(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(builtin_scenarios())
    assert all(len(line.split()) > 4 for line in lines)  # name, machine, duration, what


def test_run_takes_a_builtin_scenario_by_name(tmp_path, capsys):
    assert main(["run", "stop-button-club", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "summary.json").exists()
    assert "PASS stop-button-club" in capsys.readouterr().out


def test_an_unknown_name_is_one_line_naming_the_builtins(capsys):
    assert main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "key-pull-backward" in err and "treadtwin list" in err


@pytest.mark.parametrize("text, key", [
    (HEAD + "[[program]]\nat_s = 0\nspeed_mph = 1\n[[program]]\nat_s = 0\nspeed_mph = 2\n",
     "at_s"),
    (HEAD + "[walker]\nstep_on_at_s = 25\n", "step_on_at_s"),
    (HEAD + "[walker]\nstep_off_at_s = 20\n", "step_off_at_s"),
])
def test_rows_at_one_time_and_walkers_after_the_end_are_refused(text, key):
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(text, "t.toml")
    assert refused.value.key.endswith(key)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_a_suite_at_once_and_keeps_an_index_of_what_finished(tmp_path, sig):
    out = tmp_path / "out"
    suite = subprocess.Popen(
        [sys.executable, "-m", "treadtwin.scenarios.cli", "suite", "--out", str(out),
         "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[1])
    line = ""
    while "[1/" not in line:  # the first scenario has finished
        line = suite.stdout.readline()
        assert line or suite.poll() is None, suite.stderr.read()
    interrupted_at = time.monotonic()
    suite.send_signal(sig)
    _, err = suite.communicate(timeout=30)
    took_s = time.monotonic() - interrupted_at
    assert suite.returncode == 130 and took_s < 2.0, (took_s, err)
    assert "interrupted;" in err and "Traceback" not in err
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders and not any(name.startswith(".") for name in folders)  # nothing half-written
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Interrupted" in index and all(name in index for name in folders)
    assert len(folders) < len(builtin_scenarios())
    assert all((out / name / "summary.json").exists() for name in folders)


def test_the_reverse_belt_scenario_regenerates_as_the_readme_says(tmp_path):
    # README: the servo brakes the empty belt back into the bus (current reverses), the bus
    # rises by well under 1 V and the brake chopper's energy stays 0.
    import numpy as np

    from treadtwin.scenarios.runner import run_scenario
    from treadtwin.scenarios.schema import load_scenario

    result = run_scenario(load_scenario(builtin_scenarios()["reverse-belt-instrumented"]))
    trace = result.run.trace
    assert result.passed
    assert trace["motor_current_a"].min() < -0.5  # braking: current into the bus
    bus = trace["bus_voltage_v"]
    assert 0.0 < bus.max() - bus[0] < 1.0
    assert np.all(trace["e_brake_resistor_j"] == 0.0)
