"""The adapter refuses what it cannot honour, and a reset does what the spec says (9.3).

Driven through a real pseudo-terminal on the default wall clock by the host in
``spec_client``, written from docs/protocol.md alone.
"""

from __future__ import annotations

import os
import struct

import pytest
from hil_support import RunningEmulator
from spec_client import (
    COMMAND,
    HEARTBEAT,
    MODE_RESISTANCE,
    MODE_STOP,
    STOP_BUTTON_BIT,
    Client,
    command_payload,
    heartbeat_payload,
)

from treadtwin.emulator.runner import EmulatorClock
from treadtwin.sim.presets import preset

WALK_KMH_X100 = 360  # 1.00 m/s
WALK_INCLINE_X10 = 20  # 2.0 %


def _feed_with_heartbeats(client: Client, seconds: float) -> None:
    """Keep the watchdog fed without touching the command in force."""
    for _ in range(round(seconds / 0.1)):
        client.send(HEARTBEAT, heartbeat_payload())
        client.pump(0.1)


# (what, speed, incline, direction, mode, the offset the NACK names)
REFUSED = [
    ("speed 'not available' 0xFFFF", 0xFFFF, WALK_INCLINE_X10, 0, 0, 0),
    ("incline 'not available' 0x7FFF", WALK_KMH_X100, 0x7FFF, 0, 0, 2),
    ("speed one step above the top", 2415, WALK_INCLINE_X10, 0, 0, 0),
    ("speed 50.00 km/h", 5000, WALK_INCLINE_X10, 0, 0, 0),
    ("speed 655.34 km/h", 65534, WALK_INCLINE_X10, 0, 0, 0),
    ("incline one step above the top", WALK_KMH_X100, 151, 0, 0, 2),
    ("incline one step below the bottom", WALK_KMH_X100, -31, 0, 0, 2),
    ("incline -3276.8 %", WALK_KMH_X100, -32768, 0, 0, 2),
    ("reverse on a one-way belt", WALK_KMH_X100, WALK_INCLINE_X10, 1, 0, 4),
    ("resistance mode on a motorized machine", 0, WALK_INCLINE_X10, 0, MODE_RESISTANCE, 5),
]


def test_every_value_the_machine_cannot_honour_is_refused_and_the_belt_keeps_its_target():
    machine = preset("club-motorized")  # 0..24.14 km/h, -3.0..15.0 %, forward only
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=60.0) as emulator,
          Client(emulator.path) as client):
        client.hello(0xA11CE)
        client.pump(0.2)
        assert client.hello_ack["max_speed_kmh_x100"] == 2414
        client.send(COMMAND, command_payload(WALK_KMH_X100, WALK_INCLINE_X10))
        _feed_with_heartbeats(client, 5.0)  # up to speed and incline
        seen = []
        for what, speed, incline, direction, mode, _ in REFUSED:
            nacks_before = len(client.nacks)
            client.send(COMMAND, command_payload(speed, incline, direction, mode))
            _feed_with_heartbeats(client, 0.5)
            new = client.nacks[nacks_before:]
            last = client.telemetry[-1]
            seen.append((what, new, last))
    assert emulator.error is None
    for (what, new, last), (_, _, _, _, _, offset) in zip(seen, REFUSED, strict=True):
        assert [(n["code"], n["ref_seq"] > 0, n["detail"]) for n in new] == [
            ("INVALID_PARAMETER", True, offset)], what
        assert last["speed_mps"] == pytest.approx(1.0, abs=0.05), what  # the target stood
        assert last["incline_pct"] == pytest.approx(2.0, abs=0.15), what
        assert last["drive_enabled"] and last["faults"] == 0, what


def test_an_emergency_stop_is_reset_by_reset_and_the_belt_runs_again():
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=30.0) as emulator,
          Client(emulator.path) as client):
        client.hello(0xE5709)
        client.pump(2.0, keep_alive_mps=1.0)
        running = client.telemetry[-1]["speed_mps"]
        # The emergency stop and a STOP right behind it, in one write: the second frame
        # must not cancel the first before the motor board has taken it.
        client.command(0.0, estop=True)
        client.command(0.0, mode=MODE_STOP)
        client.pump(4.0, keep_alive_mps=0.0)
        stopped = client.telemetry[-1]
        nacks_before = len(client.nacks)
        client.command(1.0)  # motion without RESET: refused, and answered
        client.pump(0.3)
        refused = client.nacks[nacks_before:]
        still = client.telemetry[-1]
        client.command(0.0, reset=True, mode=MODE_STOP)  # RESET at standstill
        client.pump(0.3, keep_alive_mps=None)
        cleared = client.telemetry[-1]
        client.pump(4.0, keep_alive_mps=1.0)  # then NORMAL
        again = client.telemetry[-1]
    assert emulator.error is None
    assert running > 0.9
    assert stopped["faults"] & STOP_BUTTON_BIT and stopped["speed_mps"] < 0.05
    assert "HOST_EMERGENCY" in [s["reason"] for s in client.stopped]
    assert [(n["code"], n["detail"]) for n in refused] == [("NOT_PERMITTED", STOP_BUTTON_BIT)]
    assert still["speed_mps"] < 0.05
    assert cleared["faults"] == 0
    assert again["speed_mps"] == pytest.approx(1.0, abs=0.05) and again["faults"] == 0


def test_a_reset_with_normal_in_the_same_command_restarts_the_belt_after_an_emergency_stop():
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=30.0) as emulator,
          Client(emulator.path) as client):
        client.hello(0xE5710)
        client.pump(2.0, keep_alive_mps=1.0)
        client.command(0.0, estop=True)
        client.pump(4.0, keep_alive_mps=0.0)
        assert client.telemetry[-1]["faults"] & STOP_BUTTON_BIT
        client.command(1.0, reset=True)
        client.pump(4.0, keep_alive_mps=1.0)
    assert client.telemetry[-1]["speed_mps"] == pytest.approx(1.0, abs=0.05)
    assert client.telemetry[-1]["faults"] == 0
    assert not client.nacks


def test_twenty_stale_frames_in_one_write_give_one_nack():
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=10.0) as emulator,
          Client(emulator.path) as client):
        client.hello(0x57A1E)
        client.pump(0.2)
        replayed = client.send(HEARTBEAT, heartbeat_payload(1))
        client.pump(0.2)
        os.write(client.fd, replayed * 20)
        client.pump(0.5)
        stale = [n for n in client.nacks if n["code"] == "STALE_SEQUENCE"]
        # one period later, a stale frame is answered again
        os.write(client.fd, replayed)
        client.pump(0.2)
        later = [n for n in client.nacks if n["code"] == "STALE_SEQUENCE"]
    assert len(stale) == 1 and stale[0]["detail"] == struct.unpack("<H", replayed[3:5])[0]
    assert len(later) == 2


def test_the_stop_table_in_the_hil_guide_is_what_the_twin_does():
    import re
    from pathlib import Path

    from stop_table import table

    doc = (Path(__file__).parents[1] / "docs" / "hil.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([\w-]+) \| (watchdog|emergency) \| ([\d.]+) kg \| ([\d.]+) s \|"
                      r" ([\d.]+) s \| ([\d.]+) s \|$", doc, flags=re.M)
    measured = table()
    assert len(rows) == len(measured) == 12
    for row, outcome in zip(rows, measured, strict=True):
        name, stop, load, cut, stopped, coasting = row
        assert (name, stop, float(load)) == (outcome.preset, outcome.stop, outcome.load_kg)
        for written, value in ((cut, outcome.drive_cut_s), (stopped, outcome.stopped_s),
                               (coasting, outcome.coasting_s)):
            assert float(written) == pytest.approx(value, abs=0.02), row
    # and the distinction the table draws: only the machine that cannot brake coasts
    for outcome in measured:
        coasts = outcome.preset == "home-motorized"
        assert (outcome.coasting_s > 0.5 * outcome.stopped_s) == coasts, outcome
