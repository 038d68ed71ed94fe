"""The adapter board's firmware against docs/protocol.md sections 7 and 9, frame by frame.

The motor board is the mock treadmill (ideal: the belt is at the commanded
speed at once), so every effect here is the firmware's own.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Fault
from treadtwin.controllers.mock import MockTreadmill
from treadtwin.controllers.protocol import (
    Capability,
    CommandFlag,
    CommandPayload,
    FrameDecoder,
    Heartbeat,
    Hello,
    HelloAck,
    Nack,
    NackCode,
    Side,
    StatusFlag,
    Stopped,
    StopReason,
    TelemetryPayload,
    encode,
    encode_command,
)
from treadtwin.emulator.adapter_board import AdapterBoard, MachineLimits

LIMITS = MachineLimits(capabilities=Capability.INCLINE | Capability.MOTOR_CURRENT
                       | Capability.KEY_SENSE, max_speed_mps=5.0, min_incline_pct=0.0,
                       max_incline_pct=15.0)
SESSION = 0x1234ABCD


class Bench:
    """A board, a mock motor board and a host-side decoder, on one clock."""

    def __init__(self, answer_commands: bool = True) -> None:
        self.board = AdapterBoard(LIMITS, answer_commands=answer_commands)
        self.motor = MockTreadmill()
        self.host = FrameDecoder(Side.HOST)
        self.t_s = 0.0
        self.seq = 0

    def send(self, frame: bytes) -> list:
        out = self.board.on_bytes(frame, self.t_s, self.motor.read())
        self.motor.write(self.board.take_drive_command())
        return [m.body for m in self.host.feed(out)]

    def frame(self, body) -> bytes:
        self.seq += 1
        return encode(body, self.seq)

    def command(self, command: Command) -> list:
        self.seq += 1
        return self.send(encode_command(command, self.seq))

    def hello(self, session_id: int = SESSION, **kwargs) -> list:
        fields = dict(min_version=1, max_version=1, session_id=session_id, watchdog_ms=250,
                      telemetry_period_ms=20) | kwargs
        return self.send(self.frame(Hello(**fields)))

    def wait(self, dt_s: float, step_s: float = 0.001) -> list:
        bodies = []
        end = self.t_s + dt_s
        while self.t_s < end - 1e-12:
            self.t_s += step_s
            self.motor.advance(step_s)
            out = self.board.on_tick(self.t_s, self.motor.read())
            self.motor.write(self.board.take_drive_command())
            bodies += [m.body for m in self.host.feed(out)]
        return bodies


def of(kind, bodies):
    return [b for b in bodies if isinstance(b, kind)]


def test_commands_before_a_session_are_refused_and_not_acted_on():
    bench = Bench()
    replies = bench.command(Command(belt_speed_mps=1.0))
    assert [n.code for n in of(Nack, replies)] == [NackCode.NO_SESSION]
    assert bench.board.drive_command.mode is DriveMode.STOP
    assert bench.wait(0.1) == []  # nothing is sent before the first session


def test_hello_opens_a_session_clamps_settings_and_starts_telemetry():
    bench = Bench()
    replies = bench.hello(watchdog_ms=10, telemetry_period_ms=5000)
    ack = of(HelloAck, replies)[0]
    assert (ack.session_id, ack.watchdog_ms, ack.telemetry_period_ms) == (SESSION, 50, 1000)
    assert len(of(TelemetryPayload, replies)) == 1
    retry = bench.hello(watchdog_ms=10, telemetry_period_ms=5000)  # same session: a retry
    assert of(HelloAck, retry)[0].session_id == SESSION
    assert bench.board.counts.sessions == 1


def test_a_version_the_board_cannot_speak_gets_a_nack_and_no_session():
    bench = Bench()
    replies = bench.hello(min_version=2, max_version=3)
    assert [n.code for n in of(Nack, replies)] == [NackCode.UNSUPPORTED_VERSION]
    assert bench.board.session_id is None


def test_every_command_is_answered_at_once_with_telemetry_that_acks_it():
    bench = Bench()
    bench.hello()
    replies = bench.command(Command(belt_speed_mps=1.0))
    telemetry = of(TelemetryPayload, replies)
    assert len(telemetry) == 1 and telemetry[0].ack_seq == bench.seq


def test_commands_outside_the_machine_are_refused_and_the_previous_one_stands():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0, incline_pct=3.0))
    offsets = {name: CommandPayload.offset_of(name)
               for name in ("target_speed_kmh_x100", "target_incline_pct_x10", "direction")}
    for command, field in [
            (Command(belt_speed_mps=9.0, incline_pct=3.0), "target_speed_kmh_x100"),
            (Command(belt_speed_mps=1.0, incline_pct=40.0), "target_incline_pct_x10"),
            (Command(belt_speed_mps=1.0, incline_pct=-0.1), "target_incline_pct_x10"),
            (Command(belt_speed_mps=1.0, incline_pct=3.0, belt_direction=BeltDirection.REVERSE),
             "direction")]:
        replies = bench.command(command)
        assert [(n.code, n.ref_seq, n.detail) for n in of(Nack, replies)] == [
            (NackCode.INVALID_PARAMETER, bench.seq, offsets[field])], command
        drive = bench.board.drive_command
        assert (drive.belt_speed_mps, drive.incline_pct, drive.belt_direction) == (
            1.0, 3.0, BeltDirection.FORWARD), command
    # the top speed itself, as HELLO_ACK reports it, is honoured
    assert not of(Nack, bench.command(Command(belt_speed_mps=5.0, incline_pct=15.0)))
    assert bench.board.drive_command.belt_speed_mps == 5.0


def test_a_stop_is_never_refused_for_its_range():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0, incline_pct=3.0))
    replies = bench.command(Command(mode=DriveMode.STOP, incline_pct=40.0))
    assert [n.code for n in of(Nack, replies)] == [NackCode.INVALID_PARAMETER]
    drive = bench.board.drive_command
    assert drive.mode is DriveMode.STOP and drive.incline_pct == 3.0  # stops; incline holds


def test_an_emergency_stop_is_not_cancelled_by_a_command_behind_it():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    frames = (encode_command(Command(emergency_stop=True), bench.seq + 1)
              + encode_command(Command(mode=DriveMode.STOP), bench.seq + 2)
              + encode_command(Command(belt_speed_mps=1.0), bench.seq + 3))
    bench.seq += 3
    replies = bench.send(frames)  # one read: the motor board sees only what is left after
    assert [s.reason for s in of(Stopped, replies)] == [StopReason.HOST_EMERGENCY]
    assert [n.code for n in of(Nack, replies)] == [NackCode.NOT_PERMITTED]
    assert bench.motor.commands[-1].emergency_stop  # the motor board got the stop


def test_watchdog_stops_a_moving_belt_and_latches_comms_until_reset():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    sent = bench.wait(0.3)  # watchdog 250 ms, host silent
    assert [s.reason for s in of(Stopped, sent)] == [StopReason.WATCHDOG]
    assert bench.board.drive_command.mode is DriveMode.STOP
    last = of(TelemetryPayload, sent)[-1].to_telemetry()
    assert Fault.COMMS in last.faults
    refused = bench.command(Command(belt_speed_mps=1.0))  # the host is back: not yet
    assert [n.code for n in of(Nack, refused)] == [NackCode.NOT_PERMITTED]
    again = bench.command(Command(belt_speed_mps=1.0))  # every refusal is answered
    assert [(n.code, n.detail) for n in of(Nack, again)] == [(NackCode.NOT_PERMITTED, 0x40)]
    assert not of(Nack, bench.command(Command(mode=DriveMode.STOP)))  # a stop is no motion
    assert bench.board.drive_command.mode is DriveMode.STOP
    bench.command(Command(belt_speed_mps=1.0, reset=True))
    assert bench.board.drive_command.belt_speed_mps == 1.0
    assert bench.board.drive_command.mode is DriveMode.NORMAL


def test_heartbeats_keep_the_belt_running_and_an_idle_belt_latches_nothing():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    for _ in range(10):
        bench.wait(0.1)
        bench.send(bench.frame(Heartbeat(host_time_ms=0)))
    assert bench.board.drive_command.belt_speed_mps == 1.0
    idle = Bench()
    idle.hello()
    sent = idle.wait(1.0)
    assert of(Stopped, sent) == []
    assert Fault.COMMS not in of(TelemetryPayload, sent)[-1].to_telemetry().faults


def test_a_new_session_stops_the_belt_and_nothing_carries_over():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    bench.wait(0.05)
    replies = bench.hello(session_id=SESSION + 1)
    assert [s.reason for s in of(Stopped, replies)] == [StopReason.NEW_SESSION]
    assert bench.board.drive_command.mode is DriveMode.STOP


def test_emergency_stop_latches_on_the_motor_board_until_a_reset():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    replies = bench.command(Command(belt_speed_mps=1.0, emergency_stop=True))
    assert [s.reason for s in of(Stopped, replies)] == [StopReason.HOST_EMERGENCY]
    assert bench.motor.commands[-1].emergency_stop  # handed to the motor board, once
    assert not bench.board.drive_command.emergency_stop
    bench.motor.faults |= Fault.STOP_BUTTON  # the motor board latched its stop button
    refused = bench.command(Command(belt_speed_mps=1.0))
    assert [n.code for n in of(Nack, refused)] == [NackCode.NOT_PERMITTED]
    bench.command(Command(belt_speed_mps=1.0, reset=True))
    assert bench.board.drive_command.mode is DriveMode.NORMAL


def test_the_key_stops_the_belt_without_the_host():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    bench.motor.key_present = False
    sent = bench.wait(0.01)
    assert [s.reason for s in of(Stopped, sent)] == [StopReason.SAFETY_KEY]
    assert bench.board.drive_command.mode is DriveMode.STOP
    bench.motor.key_present = True  # key back: the belt stays stopped until a command says
    bench.wait(0.05)
    assert bench.board.drive_command.mode is DriveMode.STOP


GOOD = encode_command(Command(belt_speed_mps=2.0), 7)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=8, max_value=len(GOOD) * 8 - 9))
def test_a_command_with_any_single_bit_flipped_is_counted_and_never_acted_on(bit):
    bench = Bench()
    bench.hello()
    frame = bytearray(GOOD)
    frame[bit // 8] ^= 1 << (bit % 8)
    before = bench.board.decoder.counts.rejected
    bench.send(bytes(frame))
    assert bench.board.drive_command.mode is DriveMode.STOP
    assert bench.board.decoder.counts.rejected > before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_random_bytes_never_raise_and_never_move_the_belt(chunks):
    bench = Bench()
    bench.hello()
    for chunk in chunks:
        bench.send(chunk)
    assert bench.board.drive_command.mode is DriveMode.STOP


def test_a_replayed_command_is_dropped_as_stale():
    bench = Bench()
    bench.hello()
    frame = encode_command(Command(belt_speed_mps=1.0), 5)
    bench.send(frame)
    bench.send(encode_command(Command(mode=DriveMode.STOP), 6))
    replies = bench.send(frame)  # an old frame again: must not restart the belt
    assert [n.code for n in of(Nack, replies)] == [NackCode.STALE_SEQUENCE]
    assert bench.board.drive_command.mode is DriveMode.STOP


def test_reset_acts_once():
    # The reset stays in the drive command until the drive takes it, in either clock mode
    # (a tick in between does not eat it), and then it is gone.
    bench = Bench()
    bench.hello()
    bench.seq += 1
    board = bench.board
    board.on_bytes(encode_command(Command(belt_speed_mps=1.0, reset=True), bench.seq),
                   bench.t_s, bench.motor.read())
    board.on_tick(bench.t_s + 0.001, bench.motor.read())
    assert board.drive_command.reset
    assert board.take_drive_command().reset
    assert not board.take_drive_command().reset
    assert replace(board.drive_command, reset=False) == board.drive_command
    assert CommandPayload.from_command(Command(reset=True)).flags == CommandFlag.RESET


def test_a_reset_the_motor_board_has_taken_clears_latches_its_sample_still_shows():
    # Wall clock: the drive takes a RESET at tick k, but a host frame answered before tick
    # k+1 is judged on tick k's sample, read before the motor board acted.
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0, emergency_stop=True))
    bench.motor.faults |= Fault.STOP_BUTTON
    bench.wait(0.01)
    board, stale = bench.board, bench.motor.read()
    bench.seq += 1
    board.on_bytes(encode_command(Command(belt_speed_mps=1.0, reset=True), bench.seq),
                   bench.t_s, stale)
    assert board.take_drive_command().reset
    bench.seq += 1
    behind = board.on_bytes(encode_command(Command(belt_speed_mps=1.0), bench.seq),
                            bench.t_s, stale)
    assert of(Nack, [m.body for m in bench.host.feed(behind)]) == []
    assert board.drive_command.mode is DriveMode.NORMAL
    # The next tick's sample is the truth again: a latch still in it refuses motion.
    board.on_tick(bench.t_s + 0.001, stale)
    bench.seq += 1
    refused = board.on_bytes(encode_command(Command(belt_speed_mps=1.0), bench.seq),
                             bench.t_s + 0.001, stale)
    assert [n.code for n in of(Nack, [m.body for m in bench.host.feed(refused)])] == [
        NackCode.NOT_PERMITTED]


def test_an_emergency_stop_the_motor_board_has_taken_refuses_motion_before_its_sample_shows():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    board, before = bench.board, bench.motor.read()
    bench.seq += 1
    board.on_bytes(encode_command(Command(emergency_stop=True), bench.seq), bench.t_s, before)
    assert board.take_drive_command().emergency_stop
    bench.seq += 1
    behind = board.on_bytes(encode_command(Command(belt_speed_mps=1.0), bench.seq),
                            bench.t_s, before)
    assert [n.code for n in of(Nack, [m.body for m in bench.host.feed(behind)])] == [
        NackCode.NOT_PERMITTED]
    assert board.drive_command.mode is DriveMode.STOP


# --- the decisions of docs/protocol.md section 14 ---------------------------------------------


def test_ack_seq_acknowledges_commands_and_heartbeats_of_the_session_never_hello():
    bench = Bench()
    opened = of(TelemetryPayload, bench.hello())
    assert [(t.ack_seq, StatusFlag.ACK_VALID in t.status) for t in opened] == [(0, False)]
    heartbeat = bench.frame(Heartbeat(host_time_ms=0))
    bench.send(heartbeat)
    beat_seq = bench.seq
    after_beat = of(TelemetryPayload, bench.wait(0.03))[-1]
    assert (after_beat.ack_seq, StatusFlag.ACK_VALID in after_beat.status) == (beat_seq, True)
    retried = of(TelemetryPayload, bench.hello())  # a retry of the current session
    assert retried[-1].ack_seq == beat_seq
    fresh = of(TelemetryPayload, bench.hello(session_id=SESSION + 1))
    assert StatusFlag.ACK_VALID not in fresh[-1].status


def test_a_refused_command_is_answered_nack_first_then_the_telemetry_that_acks_it():
    bench = Bench()
    bench.hello()
    refused = bench.command(Command(belt_speed_mps=6.0))  # above the 5.0 m/s machine
    assert [type(b) for b in refused] == [Nack, TelemetryPayload]
    assert refused[0].code is NackCode.INVALID_PARAMETER
    assert refused[1].ack_seq == bench.seq


def test_the_adapter_numbers_its_frames_on_across_sessions():
    bench = Bench()
    board, host = bench.board, FrameDecoder(Side.HOST)
    bench.seq += 1
    first = host.feed(board.on_bytes(encode(Hello(1, 1, SESSION, 250, 20), bench.seq), 0.0,
                                     bench.motor.read()))
    bench.seq += 1
    second = host.feed(board.on_bytes(encode(Hello(1, 1, SESSION + 1, 250, 20), bench.seq),
                                      0.001, bench.motor.read()))
    assert [m.seq for m in first] == [0, 1]  # HELLO_ACK, TELEMETRY
    assert [m.seq for m in second] == [2, 3]  # not restarted by the new session
    assert all(isinstance(m.body, (HelloAck, TelemetryPayload)) for m in first + second)


def test_a_latched_stop_survives_a_new_session_until_a_reset():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    bench.wait(0.3)  # the watchdog stops the belt and latches COMMS
    opened = of(TelemetryPayload, bench.hello(session_id=SESSION + 1))
    assert Fault.COMMS in opened[-1].to_telemetry().faults
    assert [n.code for n in of(Nack, bench.command(Command(belt_speed_mps=1.0)))] == [
        NackCode.NOT_PERMITTED]
    assert not of(Nack, bench.command(Command(belt_speed_mps=1.0, reset=True)))
    assert bench.board.drive_command.mode is DriveMode.NORMAL


def test_a_new_session_during_a_reported_stop_sends_no_second_stopped():
    bench = Bench()
    bench.hello()
    bench.command(Command(belt_speed_mps=1.0))
    running = bench.motor.read()  # a belt still running down, as a real one is
    stopping = bench.command(Command(mode=DriveMode.STOP))
    assert [s.reason for s in of(Stopped, stopping)] == [StopReason.HOST_STOP]
    bench.seq += 1
    out = bench.board.on_bytes(encode(Hello(1, 1, SESSION + 1, 250, 20), bench.seq),
                               bench.t_s, running)
    assert of(Stopped, [m.body for m in bench.host.feed(out)]) == []
    control = Bench()  # a belt running under the old session gets its NEW_SESSION stop
    control.hello()
    control.command(Command(belt_speed_mps=1.0))
    assert [s.reason for s in of(Stopped, control.hello(session_id=SESSION + 1))] == [
        StopReason.NEW_SESSION]


def test_the_watchdog_starts_at_the_hello_that_opens_the_session_and_a_retry_leaves_it():
    # A belt still running when the host opens its session (say the adapter restarted
    # under it): if the host then falls silent, the watchdog that began at the HELLO stops it.
    bench = Bench()
    board, host = bench.board, bench.host
    coasting = bench.motor.read()._replace(belt_speed_mps=1.0)
    bench.seq += 1
    board.on_bytes(encode(Hello(1, 1, SESSION, 250, 20), bench.seq), 0.0, coasting)
    bench.seq += 1
    board.on_bytes(encode(Hello(1, 1, SESSION, 250, 20), bench.seq), 0.2, coasting)  # retry
    stops = []
    for k in range(1, 300):
        out = board.on_tick(k * 0.001, coasting)
        stops += [(k, m.body.reason) for m in host.feed(out) if isinstance(m.body, Stopped)]
    assert stops == [(251, StopReason.WATCHDOG)]
