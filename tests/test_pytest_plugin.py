"""treadtwin's pytest plugin: scenario files collected as tests, their verdicts and metrics."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from treadtwin.emulator.runner import PROTOCOLS
from treadtwin.scenarios import pytest_plugin

ROOT = Path(__file__).resolve().parents[1]

PASSING = """[scenario]
name = "walks-at-two-mph"
duration_s = 20
[machine]
preset = "home-motorized"
[walker]
step_on_at_s = 1
[[program]]
at_s = 0
speed_mph = 2.0
"""
FAILING = PASSING.replace("walks-at-two-mph", "limit-too-low") + (
    "[[criteria]]\nkind = \"max_belt_speed\"\nlimit = 0.5\n")
INVALID = "[scenario]\nname = \"broken\"\nduration_s = -1\n"
NOT_A_SCENARIO = "[tool.something]\nkey = 1\n"


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", str(folder), "-p", "no:cacheprovider",
                           *args], capture_output=True, text=True, cwd=folder, timeout=300)


def test_scenario_files_are_collected_run_and_reported(tmp_path):
    (tmp_path / "ok.toml").write_text(PASSING)
    (tmp_path / "fails.toml").write_text(FAILING)
    (tmp_path / "broken.toml").write_text(INVALID)
    (tmp_path / "settings.toml").write_text(NOT_A_SCENARIO)
    junit = tmp_path / "junit.xml"
    run = _pytest(tmp_path, f"--junitxml={junit}")
    out = run.stdout
    assert run.returncode == 1, out
    assert "1 failed" not in out and "2 failed, 1 passed" in out, out  # settings.toml ignored
    # The verdict line and the failing criterion's value and limit are the message.
    assert "FAIL limit-too-low" in out and "max_belt_speed: 0.9" in out and "limit 0.5" in out
    assert "invalid scenario file" in out and "scenario.duration_s = -1" in out
    assert "Traceback" not in out
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value")
                  for p in cases["walks-at-two-mph"].iter("property")}
    assert properties["passed"] == "True" and properties["walker_fell"] == "False"
    assert float(properties["max_belt_speed_mps"]) > 0.85


def test_k_selects_scenarios_by_name_and_the_marker_selects_them_all(tmp_path):
    (tmp_path / "ok.toml").write_text(PASSING)
    (tmp_path / "fails.toml").write_text(FAILING)
    selected = _pytest(tmp_path, "-k", "walks")
    assert selected.returncode == 0 and "1 passed, 1 deselected" in selected.stdout
    marked = _pytest(tmp_path, "-m", "not scenario")
    assert marked.returncode == 5 and "2 deselected" in marked.stdout  # 5: nothing ran


def test_the_repositorys_example_scenarios_pass_under_pytest(tmp_path):
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "scenarios/", "-p",
                          "no:cacheprovider", f"--junitxml={junit}"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    examples = sorted(ROOT.glob("scenarios/*.toml"))
    assert run.returncode == 0, run.stdout
    assert f"{len(examples)} passed" in run.stdout and len(examples) >= 3
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert all(any(p.get("name") == "stop_time_s" for p in c.iter("property")) for c in cases)


def test_the_plugins_protocols_are_the_emulators():
    assert pytest_plugin.PROTOCOLS == PROTOCOLS
