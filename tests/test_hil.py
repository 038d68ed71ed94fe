"""Hardware in the loop without hardware: host adapter -> pseudo-terminal -> emulator -> twin.

What is shown here:

- equivalence: a scenario's controller stack run through the serial
  adapter and the emulator in lockstep sends exactly the commands it sends
  in-process, and the twin behind the emulator reaches the same verdicts;
- the adapter board's safety over a real pseudo-terminal: a host killed
  mid-run leaves the belt stopped within the watchdog time; unplugging and
  replugging the port recovers;
- the lab treadmills' own client libraries (``trackmaster``, ``pywoodway``)
  and treadtwin's lab adapter drive the twin through the emulator.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import tty
from pathlib import Path

import numpy as np
import pytest
from hil_support import RunningEmulator

from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Fault
from treadtwin.controllers.lab_protocols import LabProfile
from treadtwin.controllers.lab_serial import LabSerialTreadmill
from treadtwin.controllers.protocol import (
    FrameDecoder,
    Hello,
    HelloAck,
    Side,
    encode,
    encode_command,
)
from treadtwin.controllers.serial_adapter import SerialAdapterTreadmill
from treadtwin.controllers.units import kmh_to_mps, mph_to_mps
from treadtwin.emulator.port import SerialDevicePort
from treadtwin.emulator.runner import EmulatorClock
from treadtwin.scenarios.cli import main
from treadtwin.scenarios.hil import run_hil
from treadtwin.scenarios.runner import build_twin, judge, run_scenario
from treadtwin.scenarios.schema import load_scenario
from treadtwin.sim.presets import preset

DATA = Path(__file__).parent / "data"
SUITES = Path(__file__).parents[1] / "treadtwin" / "scenarios" / "suites"
#: Half the wire's speed quantum (0.01 km/h) and incline quantum (0.1 %).
SPEED_HALF_QUANTUM_MPS = kmh_to_mps(0.005)
INCLINE_HALF_QUANTUM_PCT = 0.05


def _in_force(commands, times_s: np.ndarray) -> np.ndarray:
    """The command in force at each time, as rows of numbers."""
    stamps = np.array([t for t, _ in commands])
    rows = []
    for t in times_s:
        c = commands[int(np.searchsorted(stamps, t + 1e-9)) - 1][1]
        rows.append((c.belt_speed_mps, c.incline_pct, int(c.belt_direction), int(c.mode),
                     c.emergency_stop))
    return np.array(rows, dtype=float)


@pytest.fixture(scope="module")
def lockstep_runs():
    scenario = load_scenario(DATA / "hil-key-pull.toml")
    in_process = run_scenario(scenario)
    treadmill, walker = build_twin(scenario)
    with RunningEmulator(scenario.machine, clock=EmulatorClock.LOCKSTEP, baud=921600,
                         duration_s=scenario.duration_s, treadmill=treadmill, walker=walker,
                         faults=scenario.faults) as emulator:
        host = SerialAdapterTreadmill(emulator.path, baudrate=921600,
                                      telemetry_period_ms=10).open(lockstep=True)
        try:
            through_wire = run_hil(scenario, host, lockstep=True)
        finally:
            host.close()
        twin = judge(scenario, emulator.join())
        twin.extra["board_counts"] = emulator.board.counts
    return scenario, in_process, through_wire, twin


def test_lockstep_host_sends_exactly_the_in_process_commands(lockstep_runs):
    scenario, in_process, through_wire, _ = lockstep_runs
    ticks = np.arange(round(scenario.duration_s / scenario.engine.control_period_s))
    times = ticks * scenario.engine.control_period_s
    assert len(through_wire.run.commands) == len(ticks)  # one COMMAND per period
    host = _in_force(through_wire.run.commands, times)
    local = _in_force(in_process.run.commands, times)
    np.testing.assert_allclose(host, local, rtol=0, atol=1e-12)


def test_lockstep_twin_gets_the_commands_within_the_wire_quantum(lockstep_runs):
    scenario, in_process, _, twin = lockstep_runs
    key_pull_s = scenario.faults[0].at_s
    times = np.arange(0.0, key_pull_s, scenario.engine.control_period_s)
    drive = _in_force(twin.run.commands, times)
    local = _in_force(in_process.run.commands, times)
    assert np.max(np.abs(drive[:, 0] - local[:, 0])) <= SPEED_HALF_QUANTUM_MPS + 1e-12
    assert np.max(np.abs(drive[:, 1] - local[:, 1])) <= INCLINE_HALF_QUANTUM_PCT + 1e-9
    np.testing.assert_array_equal(drive[:, 2:], local[:, 2:])
    # After the key pull the board holds the drive in STOP itself (section 9.3, rule 5),
    # where in-process the supervisor's ramp-down command reaches the motor board: the
    # motor board has cut the drive in both cases, so the belt does the same, but for the
    # walker: it follows the belt it feels, and that belt ran within the wire's quantum of
    # the in-process one, so its steps (and their dips) differ by as little.
    np.testing.assert_allclose(twin.run.trace["belt_speed_mps"],
                               in_process.run.trace["belt_speed_mps"],
                               atol=SPEED_HALF_QUANTUM_MPS)


def test_lockstep_verdicts_are_the_in_process_verdicts(lockstep_runs):
    _, in_process, through_wire, twin = lockstep_runs
    assert in_process.passed
    assert [(c["name"], c["passed"]) for c in twin.criteria] == [
        (c["name"], c["passed"]) for c in in_process.criteria]
    for ours, theirs in zip(twin.criteria, in_process.criteria, strict=True):
        assert ours["value"] == pytest.approx(theirs["value"], rel=1e-3, abs=1e-3), ours["name"]
    # The host judges what it can from telemetry; the fall needs the twin's truth.
    assert through_wire.passed and through_wire.extra["not_judged"] == ["no_fall"]
    assert through_wire.extra["link"]["bad_frames"] == 0
    # A clean link: the host never asks the board for what it must refuse. (After the key
    # pull the supervisor commands STOP at once: the hardware has already cut the drive.)
    counts = twin.extra["board_counts"]
    assert counts.nacks_sent == 0


def test_host_and_twin_time_the_same_stop_from_the_same_tach(lockstep_runs):
    # On hardware the host only has the tach: its stop_time_s is the twin's
    # measured_stop_time_s, within one telemetry period. The twin's stop_time_s judges the
    # true belt, which on a reed switch stops well before the tach reads standstill.
    _, _, through_wire, twin = lockstep_runs
    host_s = through_wire.metrics["stop_time_s"]
    assert host_s == pytest.approx(through_wire.metrics["measured_stop_time_s"], abs=1e-9)
    assert host_s == pytest.approx(twin.metrics["measured_stop_time_s"], abs=0.010 + 1e-9)
    assert twin.metrics["stop_time_s"] < twin.metrics["measured_stop_time_s"]


def test_a_killed_host_leaves_the_belt_stopped_within_the_watchdog_time():
    host_script = (
        "import sys, time\n"
        "from treadtwin.controllers.serial_adapter import SerialAdapterTreadmill\n"
        "from treadtwin.controllers.interface import Command\n"
        "t = SerialAdapterTreadmill(sys.argv[1], watchdog_ms=250).open()\n"
        "while True:\n"
        "    t.write(Command(belt_speed_mps=1.0)); time.sleep(0.01)\n"
    )
    # The club board brakes (2 quadrants); a home board would let the belt coast down.
    with RunningEmulator(preset("club-motorized"), duration_s=20.0) as emulator:
        host = subprocess.Popen([sys.executable, "-c", host_script, emulator.path])
        try:
            deadline = time.monotonic() + 10.0
            while emulator.treadmill.truth_belt_speed_mps() < 0.9:
                assert time.monotonic() < deadline, "the belt never came up to speed"
                time.sleep(0.05)
        finally:
            host.kill()
            host.wait()
        killed_wall = time.monotonic()
        deadline = killed_wall + 5.0
        while emulator.board.drive_command.mode is not DriveMode.STOP:
            assert time.monotonic() < deadline, "the board never stopped the belt"
            time.sleep(0.005)
        stopped_wall = time.monotonic()
        time.sleep(1.5)  # the stop ramp at 1.5 m/s^2, then standstill
        belt_mps = abs(emulator.treadmill.truth_belt_speed_mps())
    board = emulator.board
    assert board.counts.watchdog_stops == 1
    # On the board's clock: the stop comes one watchdog time (250 ms) after the last frame,
    # to the board's 1 ms tick. On the wall clock (loaded machines wake late): well within
    # twice that.
    assert board.watchdog_stops_s[0] - board.last_fed_s == pytest.approx(0.25, abs=0.0015)
    assert stopped_wall - killed_wall < 0.5
    assert belt_mps < 0.05


def test_in_lockstep_a_silent_host_lets_the_board_clock_run_and_the_watchdog_stop_the_belt():
    with RunningEmulator(preset("club-motorized"), clock=EmulatorClock.LOCKSTEP, baud=921600,
                         duration_s=30.0) as emulator:
        host = SerialAdapterTreadmill(emulator.path, baudrate=921600,
                                      telemetry_period_ms=10).open(lockstep=True)
        seen = None
        for _ in range(300):  # 3 s of board time, one COMMAND per period
            seen = host.wait_telemetry(seen).t_s
            host.write(Command(belt_speed_mps=1.0))
        assert host.read().belt_speed_mps > 0.9
        time.sleep(1.5)  # the host falls silent (without closing the port)
        board = emulator.board
        assert board.counts.watchdog_stops == 1
        assert board.watchdog_stops_s[0] - board.last_fed_s == pytest.approx(0.25, abs=0.011)
        assert emulator.board.drive_command.mode is DriveMode.STOP
        host.close()


def test_unplugging_and_replugging_the_port_recovers(tmp_path):
    link = tmp_path / "ttyTREADTWIN"
    with RunningEmulator(preset("home-motorized"), duration_s=20.0,
                         link_path=str(link)) as emulator:
        host = SerialAdapterTreadmill(str(link)).open()
        try:
            host.write(Command(belt_speed_mps=1.0))
            time.sleep(0.3)
            before = host.read().t_s
            emulator.port.unplug()
            time.sleep(0.5)
            assert Fault.COMMS in host.read().faults  # the host noticed
            emulator.port.replug()
            deadline = time.monotonic() + 5.0
            while not host.link_up or host.read().t_s <= before + 0.5:
                assert time.monotonic() < deadline, f"no recovery: {host.counters}"
                time.sleep(0.05)
            assert host.counters.reconnects >= 1
            assert emulator.board.counts.sessions == 2
            # The belt was running when the host vanished: the board stopped it and holds
            # COMMS latched until the host, back again, decides to reset (section 9.4).
            assert Fault.COMMS in host.read().faults
            assert emulator.board.drive_command.mode is DriveMode.STOP
            host.write(Command(belt_speed_mps=1.0, reset=True))
            time.sleep(0.3)
            assert Fault.COMMS not in host.read().faults
            assert emulator.board.drive_command.mode is DriveMode.NORMAL
        finally:
            host.close()


def test_the_trackmaster_client_library_drives_the_twin_through_the_emulator():
    trackmaster = pytest.importorskip("trackmaster.treadmill")
    with RunningEmulator(preset("home-motorized"), protocol="trackmaster", baud=4800,
                         duration_s=30.0) as emulator:
        client = trackmaster.Treadmill(emulator.path)
        try:
            client.speed = 2.0  # mph; starts the belt
            client.incline = 2.5
            assert client.belt_running
            time.sleep(3.0)
            actual_mph = client.get_actual_speed()
            true_mps = emulator.treadmill.truth_belt_speed_mps()
            client.auto_stop()
        finally:
            client.device.close()
    assert actual_mph == pytest.approx(2.0, abs=0.15)
    assert true_mps == pytest.approx(mph_to_mps(2.0), rel=0.06)
    assert emulator.board.counts.illegal == 0


def test_the_pywoodway_client_library_runs_the_belt_in_reverse_on_a_twin_that_can():
    woodway = pytest.importorskip("pywoodway.treadmill")
    with RunningEmulator(preset("instrumented"), protocol="woodway", baud=4800,
                         duration_s=30.0) as emulator:
        client = woodway.Treadmill(emulator.path)
        try:
            assert client.start_belt(False)
            assert client.set_speed(-1.5)  # negative: reverse
            time.sleep(3.0)
            speed_mph = client.get_speed()
            true_mps = emulator.treadmill.truth_belt_speed_mps()
            assert client.stop_belt()
        finally:
            client.close()
    assert speed_mph == pytest.approx(-1.5, abs=0.15)
    assert true_mps == pytest.approx(-mph_to_mps(1.5), rel=0.06)


def test_the_lab_adapter_drives_the_emulated_trackmaster_and_reports_what_it_cannot_know():
    with RunningEmulator(preset("home-motorized"), protocol="trackmaster", baud=4800,
                         duration_s=30.0) as emulator:
        treadmill = LabSerialTreadmill(emulator.path, LabProfile.TRACKMASTER).open()
        try:
            treadmill.write(Command(belt_speed_mps=mph_to_mps(1.5), incline_pct=3.0))
            deadline = time.monotonic() + 15.0  # the home lift is slow
            while (treadmill.read().incline_pct or 0.0) < 2.9:
                assert time.monotonic() < deadline, f"lift never got there: {treadmill.read()}"
                time.sleep(0.1)
            telemetry = treadmill.read()
        finally:
            treadmill.close()
    assert telemetry.belt_speed_mps == pytest.approx(mph_to_mps(1.5), abs=mph_to_mps(0.15))
    assert telemetry.belt_direction is BeltDirection.FORWARD
    assert telemetry.incline_pct == pytest.approx(3.0, abs=0.5)
    assert (telemetry.motor_current_a, telemetry.key_present, telemetry.motor_temp_c) == (
        None, None, None)


def test_the_emulator_serves_a_given_serial_device_too():
    # A pseudo-terminal pair stands in for a null-modem cable: the emulator opens one end as
    # a serial device, the host talks raw bytes on the other.
    host_fd, device_fd = os.openpty()
    tty.setraw(device_fd)
    device = SerialDevicePort(os.ttyname(device_fd), 115200)
    with RunningEmulator(preset("home-motorized"), port=device, duration_s=10.0) as emulator:
        decoder = FrameDecoder(Side.HOST)
        os.write(host_fd, encode(Hello(1, 1, 77, 250, 20), 1))
        os.write(host_fd, encode_command(Command(belt_speed_mps=1.0), 2))
        bodies, deadline = [], time.monotonic() + 3.0
        while not any(isinstance(b, HelloAck) for b in bodies) or len(bodies) < 3:
            assert time.monotonic() < deadline, bodies
            select.select([host_fd], [], [], 0.1)
            bodies += [m.body for m in decoder.feed(os.read(host_fd, 4096))]
        time.sleep(0.1)
        assert emulator.board.drive_command.belt_speed_mps == 1.0
    os.close(host_fd)
    os.close(device_fd)


@pytest.mark.parametrize("argv, words", [
    (["emulate", "--pty", "--preset", "no-such-machine"], "no-such-machine"),
    (["emulate", "--pty", "--protocol", "woodway", "--clock", "lockstep"], "lockstep"),
    (["emulate", "--pty", "--preset", "manual-flat", "--protocol", "trackmaster"], "no motor"),
    (["hil", str(DATA / "hil-key-pull.toml"), "--port", "/dev/no-such-port"], "no-such-port"),
    (["hil", str(DATA / "hil-key-pull.toml"), "--port", "loop://", "--protocol", "woodway",
      "--lockstep"], "lockstep"),
    (["hil", str(SUITES / "emulated-manual.toml"), "--port", "loop://", "--protocol",
      "trackmaster"], "motor current"),
    (["hil", str(SUITES / "self-paced.toml"), "--port", "loop://", "--protocol", "woodway"],
     "distance sensor"),
    (["emulate", "--pty", "--protocol", "woodway", "--baud", "9600"], "4800 baud only"),
    (["emulate", "--pty", "--baud", "9600"], "from 38400 up"),
    (["hil", str(DATA / "hil-key-pull.toml"), "--port", "loop://", "--baud", "123456"],
     "standard rate"),
    (["hil", str(DATA / "hil-key-pull.toml"), "--port", "loop://", "--out",
      str(DATA / "hil-key-pull.toml")], "is a file, not a folder"),
])
def test_bad_emulate_and_hil_arguments_are_one_clear_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_emulate_out_without_a_host_says_that_nothing_was_written(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["emulate", "--pty", "--scenario", str(DATA / "hil-key-pull.toml"),
                 "--duration-s", "0.3", "--out", str(out)])
    assert code == 0 and not out.exists()
    assert "nothing written" in capsys.readouterr().err


def test_the_documented_wall_clock_example_passes_as_two_processes(tmp_path):
    # docs/hil.md: `treadtwin emulate --pty --scenario ...` in one process, `treadtwin hil`
    # in another, on the default wall clock. Board time starts with the host's session, so
    # the scenario's program, walker and key pull line up with the host's run.
    import subprocess
    import sys
    scenario = str(DATA / "hil-key-pull.toml")
    cli = [sys.executable, "-m", "treadtwin.scenarios.cli"]
    emulator = subprocess.Popen([*cli, "emulate", "--pty", "--scenario", scenario],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = emulator.stdout.readline().strip()
        host = subprocess.run([*cli, "hil", scenario, "--port", port, "--out", str(tmp_path)],
                              capture_output=True, text=True, timeout=90)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    assert host.returncode == 0, host.stdout + host.stderr
    assert host.stdout.startswith("PASS hil-key-pull")


def test_emulate_link_refuses_an_existing_file_and_leaves_it_unchanged(tmp_path, capsys):
    precious = tmp_path / "precious.txt"
    precious.write_text("data\n")
    code = main(["emulate", "--pty", "--duration-s", "1", "--link", str(precious)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--link" in err[0] and "not a link" in err[0]
    assert precious.read_text() == "data\n" and not precious.is_symlink()


def test_a_port_another_program_holds_is_refused_in_one_line(tmp_path, capsys):
    import fcntl

    leader, follower = os.openpty()
    path = os.ttyname(follower)
    holder = os.open(path, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as pyserial's exclusive open does
    try:
        code = main(["hil", str(DATA / "hil-key-pull.toml"), "--port", path, "--out",
                     str(tmp_path / "out")])
    finally:
        for fd in (holder, follower, leader):
            os.close(fd)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and path in err[0] and "lock" in err[0], err
