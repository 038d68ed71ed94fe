"""The emulator survives every reset, and the wall clock applies resets as lockstep does.

The host here is written from docs/protocol.md alone (its own SLIP, CRC and
packing; nothing from treadtwin's codec), talking to ``treadtwin``'s emulator
through a real pseudo-terminal on the default wall clock.
"""

from __future__ import annotations

import pytest
from hil_support import RunningEmulator
from spec_client import KEY_OUT_BIT, STOP_BUTTON_BIT, Client

from treadtwin.controllers.interface import Fault
from treadtwin.emulator.runner import EmulatorClock
from treadtwin.sim.faults import FaultKind, FaultSpec
from treadtwin.sim.presets import preset


def _key_then_stop_button() -> list[FaultSpec]:
    # The key out for 1 s, then the console stop button: both latched, both causes gone.
    return [FaultSpec(FaultKind.LANYARD_PULL, 1.0, 1.0), FaultSpec(FaultKind.STOP_BUTTON, 2.5)]


@pytest.mark.parametrize("clock", [EmulatorClock.WALL])
def test_a_reset_clears_two_latches_whose_causes_have_gone_and_the_belt_runs(clock):
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=clock, duration_s=12.0,
                          faults=_key_then_stop_button()) as emulator,
          Client(emulator.path) as client):
        client.hello(0x5EED)
        client.pump(3.5, keep_alive_mps=0.0)  # through both faults, belt at rest
        latched = client.telemetry[-1]["faults"]
        assert latched & KEY_OUT_BIT and latched & STOP_BUTTON_BIT
        assert client.telemetry[-1]["key"] == 0x01  # the key is back in
        stops_before = len(client.stopped)
        client.command(1.0, reset=True)  # the frame that used to kill the emulator
        client.pump(4.0, keep_alive_mps=1.0)
    result = emulator.result
    assert emulator.error is None and result is not None  # it served to the end
    last = client.telemetry[-1]
    assert last["faults"] & (KEY_OUT_BIT | STOP_BUTTON_BIT) == 0  # the reset cleared both
    assert last["speed_mps"] > 0.8  # and the belt runs
    # no spurious STOPPED for the latches the reset cleared
    assert len(client.stopped) == stops_before
    assert not client.nacks


def test_a_reset_with_the_key_still_out_keeps_the_belt_stopped():
    machine = preset("club-motorized")
    faults = [FaultSpec(FaultKind.LANYARD_PULL, 1.0)]  # out to the end
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=8.0,
                          faults=faults) as emulator,
          Client(emulator.path) as client):
        client.hello(0xBEEF)
        client.pump(1.5, keep_alive_mps=0.0)
        client.command(1.0, reset=True)
        client.pump(2.0, keep_alive_mps=1.0)
    assert emulator.error is None
    assert client.telemetry[-1]["faults"] & KEY_OUT_BIT
    assert client.telemetry[-1]["speed_mps"] == 0.0
    assert client.nacks  # NOT_PERMITTED: the host asked for motion against the key


def test_stop_reasons_cover_every_combination_of_latched_faults():
    from itertools import combinations

    from treadtwin.controllers.protocol import StopReason, stop_reason_for_faults
    latches = [Fault.KEY_OUT, Fault.STOP_BUTTON, Fault.OVERCURRENT, Fault.OVERVOLTAGE,
               Fault.OVERTEMP, Fault.INCLINE_STALL, Fault.COMMS]
    for n in range(1, len(latches) + 1):
        for combo in combinations(latches, n):
            faults = Fault(0)
            for fault in combo:
                faults |= fault
            assert isinstance(stop_reason_for_faults(faults), StopReason)
    assert stop_reason_for_faults(Fault.STOP_BUTTON | Fault.KEY_OUT) == StopReason.SAFETY_KEY


def test_an_exception_in_the_board_logic_stops_the_belt_and_the_emulator_serves_on():
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=8.0) as emulator,
          Client(emulator.path) as client):
        inner = emulator.board
        original = inner.on_tick
        calls = []

        def failing_once(now_s, telemetry):
            if 2.0 <= now_s and not calls:
                calls.append(now_s)
                raise RuntimeError("a bug in the board model")
            return original(now_s, telemetry)

        inner.on_tick = failing_once
        client.hello(0xF00D)
        client.pump(4.0, keep_alive_mps=1.0)
    result = emulator.result
    assert emulator.error is None and result is not None
    errors = emulator.emulator.board.errors
    assert len(errors) == 1 and "a bug in the board model" in errors[0].text
    assert errors[0].where == "on_tick"
    assert client.telemetry[-1]["speed_mps"] > 0.8  # the host's next command stood


def test_a_command_the_board_logic_fails_on_is_answered_operation_failed_on_the_wire():
    machine = preset("club-motorized")
    with (RunningEmulator(machine, clock=EmulatorClock.WALL, duration_s=8.0) as emulator,
          Client(emulator.path) as client):
        inner = emulator.board
        original = inner._command
        failed = []

        def failing_once(seq, payload, now_s, telemetry):
            if now_s >= 1.0 and not failed:
                failed.append(seq)
                raise ZeroDivisionError("a bug in the command handling")
            return original(seq, payload, now_s, telemetry)

        inner._command = failing_once
        client.hello(0xFA11)
        client.pump(3.0, keep_alive_mps=1.0)
    assert emulator.error is None
    assert [(n["code"], n["ref_type"], n["ref_seq"]) for n in client.nacks] == [
        ("OPERATION_FAILED", 0x03, failed[0])]
    assert emulator.emulator.board.errors[0].where == "on_bytes"
    assert client.telemetry[-1]["speed_mps"] > 0.8  # the next command stood


def test_a_lab_request_the_board_logic_fails_on_gets_the_error_byte_not_silence():
    from treadtwin.controllers.lab_protocols import LabProfile
    from treadtwin.emulator.guard import GuardedBoard
    from treadtwin.emulator.lab_board import LabBoard

    board = LabBoard(LabProfile.TRACKMASTER)
    guarded = GuardedBoard(board)

    def broken(code, payload):
        raise RuntimeError("a bug in the lab firmware")

    board._execute = broken
    telemetry = SimulatedTreadmill(preset("club-motorized"), duration_s=1.0).read()
    assert guarded.on_bytes(bytes([0xA1]), 0.0, telemetry) == bytes([0xBE])  # start belt
    assert len(guarded.errors) == 1


# --- properties over host sessions and scenario faults, in both tick orders ---------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from treadtwin.controllers.interface import Command  # noqa: E402
from treadtwin.controllers.protocol import Heartbeat, Hello, encode, encode_command  # noqa: E402
from treadtwin.emulator.runner import adapter_board_for  # noqa: E402
from treadtwin.sim.treadmill import SimulatedTreadmill  # noqa: E402

LATCHES = Fault.KEY_OUT | Fault.STOP_BUTTON | Fault.COMMS
TICK_S = 0.01

ACTIONS = st.one_of(
    st.tuples(st.just("command"), st.sampled_from([0.0, 0.5, 1.0]), st.booleans(),
              st.booleans()),
    st.tuples(st.just("heartbeat")),
    st.tuples(st.just("hello"), st.sampled_from([1, 2])),
    st.tuples(st.just("key"), st.booleans()),
    st.tuples(st.just("button")),
    st.tuples(st.just("wait"), st.sampled_from([0.02, 0.1, 0.4, 1.0])),
)


class BoardRig:
    """The emulator's loop without a port: host frames, ticks, the twin's motor board."""

    def __init__(self, bytes_before_tick: bool) -> None:
        self.machine = preset("club-motorized")
        self.twin = SimulatedTreadmill(self.machine, duration_s=120.0)
        self.board = adapter_board_for(self.machine, EmulatorClock.WALL)
        self.bytes_before_tick = bytes_before_tick  # wall clock; after: lockstep's order
        self.now_s = 0.0
        self.seq = 0
        self.pending: list[bytes] = []
        self.last: Command | None = None

    def frame(self, body=None, command: Command | None = None) -> None:
        self.seq += 1
        self.pending.append(encode_command(command, self.seq) if command is not None
                            else encode(body, self.seq))

    def tick(self) -> None:
        telemetry = self.twin.read()
        if self.bytes_before_tick:
            self._deliver(telemetry)
        self.board.on_tick(self.now_s, telemetry)
        if not self.bytes_before_tick:
            self._deliver(telemetry)
        command = self.board.take_drive_command()
        if command != self.last:
            self.twin.write(command)
            self.last = command
        self.now_s += TICK_S
        self.twin.advance_to(self.now_s)

    def _deliver(self, telemetry) -> None:
        for data in self.pending:
            self.board.on_bytes(data, self.now_s, telemetry)
        self.pending.clear()


def _play(rig: BoardRig, actions) -> None:
    latched_at_rest = False
    for action in actions:
        kind = action[0]
        reset_sent = False
        if kind == "command":
            _, speed, reset, estop = action
            rig.frame(command=Command(belt_speed_mps=speed, reset=reset, emergency_stop=estop))
            reset_sent = reset and not estop
        elif kind == "heartbeat":
            rig.frame(Heartbeat(host_time_ms=round(rig.now_s * 1000)))
        elif kind == "hello":
            rig.frame(Hello(min_version=1, max_version=1, session_id=action[1],
                            watchdog_ms=250, telemetry_period_ms=20))
        elif kind == "key":
            rig.twin.set_key_present(action[1])
        elif kind == "button":
            rig.twin.press_stop_button()
        ticks = round(action[1] / TICK_S) if kind == "wait" else 3
        for _ in range(ticks):
            before = rig.twin.read()
            rig.tick()
            after = rig.twin.read()
            held = Fault(int(before.faults)) & LATCHES and Fault(int(after.faults)) & LATCHES
            if held and before.belt_speed_mps < 0.05:
                latched_at_rest = True
            if not Fault(int(after.faults)) & LATCHES:
                latched_at_rest = False
            if latched_at_rest:  # a latch holds from standstill: the belt does not move
                assert after.belt_speed_mps < 0.05, (action, after)
        if reset_sent and rig.twin.read().key_present and kind == "command":
            # a reset clears every latch whose cause has gone (the key is in; nothing new)
            assert not Fault(int(rig.twin.read().faults)) & (Fault.KEY_OUT | Fault.STOP_BUTTON)


@settings(max_examples=40, deadline=None)
@given(actions=st.lists(ACTIONS, min_size=1, max_size=25), bytes_first=st.booleans())
def test_no_sequence_of_frames_and_faults_breaks_the_board(actions, bytes_first):
    rig = BoardRig(bytes_before_tick=bytes_first)
    rig.frame(Hello(min_version=1, max_version=1, session_id=7, watchdog_ms=250,
                    telemetry_period_ms=20))
    rig.tick()
    _play(rig, actions)


def test_both_tick_orders_leave_the_board_in_the_same_state_after_each_frame():
    script = [("hello", 1), ("command", 1.0, False, False), ("wait", 1.0), ("key", False),
              ("wait", 0.4), ("key", True), ("button",), ("wait", 0.1),
              ("command", 1.0, True, False), ("wait", 1.0), ("command", 0.5, False, True),
              ("wait", 0.4), ("command", 0.5, True, False), ("wait", 1.0)]
    states = []
    for bytes_first in (True, False):
        rig = BoardRig(bytes_before_tick=bytes_first)
        seen = []
        for action in script:
            _play(rig, [action])
            telemetry = rig.twin.read()
            seen.append((int(telemetry.faults), round(telemetry.belt_speed_mps, 1),
                         rig.board.drive_command.mode, rig.board.counts.stops_sent))
        states.append(seen)
    assert states[0] == states[1]
