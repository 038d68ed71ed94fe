"""An interrupted run keeps what it did: SIGINT, SIGTERM and SIGKILL in the middle of
``treadtwin run`` on the scaled clock, and what is on disk afterwards."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from treadtwin.scenarios.recording import EVENT_COLUMNS, TRACE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def _rows(path: Path, width: int) -> list[list[str]]:
    """Every line of a CSV as fields; fails on a half-written row."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    rows = list(csv.reader(text.splitlines()))
    assert all(len(row) == width for row in rows), "a row of the wrong width"
    return rows


def _last_t_s(path: Path) -> float:
    """The time of the newest row on disk now (0 before any)."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return 0.0
    return float(lines[-1].split(b",")[0]) if len(lines) > 1 else 0.0


def _run_until(out: Path, t_s: float) -> subprocess.Popen:
    run = subprocess.Popen(
        [sys.executable, "-m", "treadtwin", "run", "backward-warmup", "--clock", "scaled",
         "--time-scale", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60.0
    while _last_t_s(out / "trace.csv") < t_s:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return run


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_writes_what_it_did_marked_interrupted(tmp_path, sig):
    out = tmp_path / "out"
    run = _run_until(out, 2.0)
    seen_s = _last_t_s(out / "trace.csv")
    run.send_signal(sig)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err and f"what was done is in {out}/" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["passed"] is False
    assert "completed" in [c["name"] for c in summary["criteria"] if not c["passed"]]
    trace = _rows(out / "trace.csv", len(TRACE_COLUMNS))
    assert trace[0] == list(TRACE_COLUMNS)
    last_s = float(trace[-1][0])
    assert seen_s <= last_s <= summary["sim_time_s"] + 1e-9  # nothing lost: all it reached
    assert summary["sim_time_s"] - last_s <= 0.011
    assert summary["sim_time_s"] < 60.0  # stopped at once, far short of its 8 minutes
    events = _rows(out / "events.csv", len(EVENT_COLUMNS))
    assert len(events) - 1 == len(summary["events"])
    assert (out / "plot.png").exists() and (out / "report.html").exists()


def test_a_killed_run_leaves_a_readable_trace_short_of_at_most_its_last_second(tmp_path):
    out = tmp_path / "out"
    run = _run_until(out, 2.5)
    time.sleep(0.37)  # somewhere between two flushes
    killed_at = time.time()
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL
    trace = _rows(out / "trace.csv", len(TRACE_COLUMNS))
    assert float(trace[-1][0]) >= 2.5
    # What the kill lost: the run's time since the newest rows reached the disk.
    lost_s = killed_at - os.stat(out / "trace.csv").st_mtime
    assert lost_s <= 1.25, lost_s  # one flush period, and a little for a loaded machine
    _rows(out / "events.csv", len(EVENT_COLUMNS))
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_hil_run_stops_the_belt_and_keeps_what_it_recorded(tmp_path, sig):
    # The wall-clock example of docs/hil.md, the host interrupted at 7 s with the belt at
    # 1 mph: it commands a stop, waits for standstill, says so and writes its outputs.
    scenario = str(ROOT / "tests" / "data" / "hil-key-pull.toml")
    cli = [sys.executable, "-m", "treadtwin"]
    emulated, out = tmp_path / "emulator", tmp_path / "host"
    emulator = subprocess.Popen([*cli, "emulate", "--pty", "--scenario", scenario,
                                 "--out", str(emulated)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = emulator.stdout.readline().strip()
        host = subprocess.Popen([*cli, "hil", scenario, "--port", port, "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT)
        deadline = time.monotonic() + 60.0
        while _last_t_s(out / "trace.csv") < 7.0:
            assert host.poll() is None, host.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        host.send_signal(sig)
        _, err = host.communicate(timeout=60)
    finally:
        emulator.send_signal(signal.SIGINT)
        _, emulator_err = emulator.communicate(timeout=60)
    assert host.returncode == 130, err
    assert "the belt reported standstill" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["passed"] is False
    assert "standstill" in summary["stopping"]
    trace = _rows(out / "trace.csv", len(TRACE_COLUMNS))
    assert 7.0 <= float(trace[-1][0]) < 12.0  # rows to the interrupt, the key pull not reached
    # The emulated treadmill: the belt ran at about 1 mph, and came to rest after the stop.
    belt = [float(row[1]) for row in _rows(emulated / "trace.csv", len(TRACE_COLUMNS))[1:]]
    assert max(belt) > 0.4 and abs(belt[-1]) < 0.05, emulator_err
    assert emulator.returncode == 130
    assert json.loads((emulated / "summary.json").read_text())["interrupted"] is True


def test_a_killed_suite_leaves_only_whole_scenario_folders(tmp_path):
    out = tmp_path / "out"
    suite = subprocess.Popen([sys.executable, "-m", "treadtwin", "suite", "--out", str(out),
                              "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT)
    line = ""
    while "[2/" not in line:  # two scenarios have finished
        line = suite.stdout.readline()
        assert line or suite.poll() is None, suite.stderr.read()
    suite.send_signal(signal.SIGKILL)
    suite.communicate(timeout=30)
    folders = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(folders) >= 2
    for folder in folders:  # a folder appears whole or not at all (half-written ones are hidden)
        assert json.loads((folder / "summary.json").read_text())["scenario"] == folder.name
        _rows(folder / "trace.csv", len(TRACE_COLUMNS))


def test_an_interrupted_sweep_keeps_the_rows_that_finished(tmp_path):
    scenario = tmp_path / "short.toml"
    scenario.write_text('[scenario]\nname = "short"\nduration_s = 60\n[machine]\n'
                        'preset = "home-motorized"\n[walker]\nstep_on_at_s = 1\n'
                        '[[program]]\nat_s = 0\nspeed_mph = 1.0\n')  # ~0.1 s a run
    out = tmp_path / "out"
    sweep = subprocess.Popen([sys.executable, "-m", "treadtwin", "sweep", str(scenario),
                              "--vary", "machine.drive.accel_mps2=0.2:0.9:400", "--serial",
                              "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT)
    assert "400 runs" in sweep.stdout.readline()
    time.sleep(8.0)  # some runs finish, far from all 400
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130 and "Traceback" not in err, err
    rows = _rows(out / "results.csv", len(next(csv.reader([(out / "results.csv").read_text()
                                                            .splitlines()[0]]))))
    finished = len(rows) - 1
    assert 0 < finished < 400 and f"{finished} of 400 runs finished" in err
