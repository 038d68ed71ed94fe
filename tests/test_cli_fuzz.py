"""The command line under arbitrary arguments: every subcommand, any value, any order.

Whatever is typed, ``treadtwin`` ends with exit status 0, 1, 2 or 130 and no traceback.
The work behind a valid command (a run, a suite, a port) is replaced by a marker, so
this checks the parsing and the checks made before any work starts, quickly.
"""

from __future__ import annotations

import contextlib
import io
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadtwin.emulator import port
from treadtwin.scenarios import cli, hil, runner, suite, sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 1000


class WorkStarted(Exception):
    """The arguments passed every check: the command would start its work now."""


def _started(*args, **kwargs):
    raise WorkStarted


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-fuzz")
    (base / "a-file").write_text("not a folder\n")
    (base / "bad.toml").write_text("[scenario\nname = 1\n")
    (base / "not-a-scenario.toml").write_text("[machine]\npreset = \"home-motorized\"\n")
    return base


def _values(base: Path) -> st.SearchStrategy[str]:
    paths = [str(base / "out"), str(base / "a-file"), str(base / "a-file" / "x"),
             str(ROOT / "treadtwin" / "out"), "/proc/1/nope", str(base / "bad.toml"),
             str(base / "not-a-scenario.toml"), str(ROOT / "tests" / "data" / "hil-key-pull.toml"),
             "/dev/null", "/nonexistent/port", "loop://", str(base)]
    words = ["backward-warmup", "key-pull-backward", "home-motorized", "instrumented",
             "walker.mass_kg=50:90:3", "walker.facing=console,rear", "faults[4].at_s=1,2",
             "x=1:2:0", "machine.preset=nope",
             "treadtwin", "woodway", "trackmaster", "lockstep", "scaled", "wall", "nope"]
    numbers = ["0", "1", "2", "-1", "9600", "115200", "1e9", "nan", "inf", "-inf", "0.5",
               "3.7", "99999999999999999999", "0x10", "1_000"]
    return st.one_of(st.sampled_from(paths + words + numbers),
                     st.text(max_size=12).filter(lambda t: "\x00" not in t))


OPTIONS = ["--out", "--seed", "--seeds", "--vary", "--scheduler", "--serial", "--samples",
           "--metric", "--clock",
           "--time-scale", "--workers", "--junit", "--pty",
           "--device", "--scenario", "--preset", "--protocol", "--baud", "--link",
           "--duration-s", "--port", "--lockstep", "--help", "--version", "-h"]
COMMANDS = ["run", "suite", "emulate", "hil", "list", "presets", "sweep", "", "runn",
            "--version"]


# Each subcommand's own options, for command lines that get past the parser's grammar.
SHAPES = {
    "run": (["file"], ["--out", "--seed", "--clock", "--time-scale"]),
    "suite": ([], ["--out", "--workers", "--junit", "--seed"]),
    "emulate": (["--pty"], ["--scenario", "--preset", "--protocol", "--baud", "--clock",
                            "--link", "--duration-s", "--out"]),
    "hil": (["file", "--port"], ["--protocol", "--baud", "--out"]),
    "presets": ([], ["--help"]),
    "sweep": (["file"], ["--vary", "--seeds", "--seed", "--workers", "--scheduler", "--out",
                         "--samples", "--sample-seed", "--metric"]),
}


def _shaped(base: Path) -> st.SearchStrategy[list[str]]:
    """A subcommand with its required parts and some of its options, any values."""
    values = _values(base)

    def build(command: str, draw_values: list[str], options: list[str]) -> list[str]:
        required, _ = SHAPES[command]
        argv, supply = [command], iter(draw_values)
        for part in required:
            argv += [next(supply, "x")] if part == "file" else (
                [part] if part == "--pty" else [part, next(supply, "x")])
        for option in options:
            argv += [option, next(supply, "1")]
        if command == "presets" and draw_values:
            argv.append(draw_values[-1])
        return argv

    return st.sampled_from(sorted(SHAPES)).flatmap(lambda command: st.builds(
        build, st.just(command), st.lists(values, min_size=2, max_size=6),
        st.lists(st.sampled_from(SHAPES[command][1]), max_size=3, unique=True)))


def _argv(base: Path) -> st.SearchStrategy[list[str]]:
    token = st.one_of(st.sampled_from(OPTIONS), _values(base))
    anything = st.builds(lambda head, rest: [head, *rest] if head else rest,
                         st.sampled_from(COMMANDS), st.lists(token, max_size=7))
    return st.one_of(anything, _shaped(base))


def test_arbitrary_arguments_end_in_a_documented_exit_status_and_no_traceback(
        places, monkeypatch):
    monkeypatch.chdir(places)  # relative paths land in the test's own folder
    repository_before = sorted(ROOT.iterdir())
    monkeypatch.setattr(runner, "run_scenario", _started)
    monkeypatch.setattr(suite, "run_suite", _started)
    monkeypatch.setattr(sweep, "run_sweep", _started)
    monkeypatch.setattr(hil, "open_treadmill", _started)
    monkeypatch.setattr(port, "PtyPort", _started)
    monkeypatch.setattr(port, "SerialDevicePort", _started)
    tried, outcomes = [], []
    sigterm = signal.getsignal(signal.SIGTERM)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(_argv(places))
    def check(argv):
        tried.append(argv)
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = cli.main(argv)
                except SystemExit as exit_:
                    status = exit_.code if isinstance(exit_.code, int) else 2
        except WorkStarted:
            status = "work"
        finally:
            signal.signal(signal.SIGTERM, sigterm)
        outcomes.append(status)
        assert status in (0, 1, 2, 130, "work"), (argv, status, err.getvalue())
        assert "Traceback" not in err.getvalue() + out.getvalue(), argv
        if status == 2:  # refused: it says why
            assert err.getvalue().strip(), argv

    check()
    assert len(tried) >= EXAMPLES
    counts = {status: list(map(str, outcomes)).count(status) for status in set(map(str, outcomes))}
    print(f"{len(tried)} command lines: outcomes {counts}")
    assert not (ROOT / "treadtwin" / "out").exists()  # nothing written into the package
    assert sorted(ROOT.iterdir()) == repository_before
