"""Woodway and Trackmaster profiles: codec, emulated console, host adapter.

The emulated console (:class:`LabBoard`) is driven by the real client
libraries ``pywoodway`` and ``trackmaster`` through a fake serial port that
hands their bytes to the board; an ideal belt (:class:`MockTreadmill`) fed
with the board's drive command stands in for the twin. The host adapter
(:class:`LabSerialTreadmill`) runs its thread against a board through an
injected serial factory.
"""

from __future__ import annotations

import threading
import time

import pytest
import pywoodway.treadmill
import serial
import trackmaster.raw
import trackmaster.treadmill
from hypothesis import given, settings
from hypothesis import strategies as st

from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Fault
from treadtwin.controllers.lab_protocols import (
    BeltStatus,
    LabProfile,
    decode_digits,
    decode_speed_data,
    encode_digits,
    encode_set_elevation,
    encode_set_speed,
    incline_to_x10,
    speed_to_x10,
    x10_to_mps,
)
from treadtwin.controllers.lab_serial import LabSerialTreadmill
from treadtwin.controllers.mock import MockTreadmill
from treadtwin.controllers.units import mph_to_mps
from treadtwin.emulator.lab_board import LabBoard

WOODWAY, TRACKMASTER = LabProfile.WOODWAY, LabProfile.TRACKMASTER
BYTE_S = 10 / 4800  # one byte on the wire at 4800 8N1


# --- a console on a bench: board, ideal belt, board clock ---------------------------------


class Rig:
    """A board and an ideal belt that follows the board's drive command."""

    def __init__(self, board: LabBoard) -> None:
        self.board = board
        self.belt = MockTreadmill()
        self.now_s = 0.0
        self._sent: Command | None = None

    def _sync(self) -> None:
        command = self.board.drive_command
        if command != self._sent:
            self._sent = command
            self.belt.write(command)

    def exchange(self, data: bytes) -> bytes:
        """Host bytes in, reply bytes out; board time moves on by the wire time."""
        self.now_s += len(data) * BYTE_S
        self.belt.advance(len(data) * BYTE_S)
        reply = self.board.on_bytes(data, self.now_s, self.belt.read())
        self._sync()
        self.now_s += len(reply) * BYTE_S
        return reply

    def advance(self, dt_s: float, tick_s: float = 0.01) -> None:
        """Let board time pass with no host bytes, ticking the board."""
        end_s = self.now_s + dt_s
        while self.now_s < end_s - 1e-12:
            step = min(tick_s, end_s - self.now_s)
            self.now_s += step
            self.belt.advance(step)
            self.board.on_tick(self.now_s, self.belt.read())
            self._sync()


class BenchSerial:
    """Stands in for ``serial.Serial``: writes go to the rig, reads come from its replies.

    With ``timeout=None`` (pywoodway) a read that would block forever fails the test.
    """

    def __init__(self, rig: Rig, *args: object, timeout: float | None = None,
                 **kwargs: object) -> None:
        self.rig = rig
        self.timeout = timeout
        self.rx = bytearray()
        self.open = True

    def write(self, data: bytes) -> int:
        self.rx += self.rig.exchange(bytes(data))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if len(self.rx) < size and self.timeout is None:
            pytest.fail(f"the client would block forever: wants {size} bytes,"
                        f" has {bytes(self.rx)!r}")
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def isOpen(self) -> bool:  # noqa: N802 (pyserial's old name, used by pywoodway)
        return self.open

    def flushInput(self) -> None:  # noqa: N802
        self.rx.clear()

    def flushOutput(self) -> None:  # noqa: N802
        pass

    def close(self) -> None:
        self.open = False


@pytest.fixture
def woodway(monkeypatch: pytest.MonkeyPatch) -> tuple[pywoodway.treadmill.Treadmill, Rig]:
    rig = Rig(LabBoard(WOODWAY, firmware_revision=0x00020105))
    monkeypatch.setattr(pywoodway.treadmill.serial, "Serial",
                        lambda *a, **k: BenchSerial(rig, *a, **k))
    return pywoodway.treadmill.Treadmill("/dev/ttyWOODWAY"), rig


@pytest.fixture
def tmx(monkeypatch: pytest.MonkeyPatch) -> tuple[trackmaster.treadmill.Treadmill, Rig]:
    rig = Rig(LabBoard(TRACKMASTER))
    monkeypatch.setattr(trackmaster.treadmill, "Serial",
                        lambda *a, **k: BenchSerial(rig, *a, **k))
    return trackmaster.treadmill.Treadmill("/dev/ttyTMX"), rig


# --- codec -----------------------------------------------------------------------------------


def test_digit_fields_round_trip_and_refuse_what_does_not_fit():
    assert encode_digits(45, 4) == b"0045"
    assert decode_digits(b"0045") == 45
    with pytest.raises(ValueError, match="does not fit 4 ASCII digits"):
        encode_digits(10000, 4)
    with pytest.raises(ValueError, match="ASCII digits"):
        decode_digits(b"00-1")


def test_set_point_encoding_per_profile():
    assert encode_set_speed(TRACKMASTER, 40) == b"\xa30040"  # 4.0 mph, the manual's example
    assert encode_set_elevation(TRACKMASTER, 50) == b"\xa40050"  # 5 %
    assert encode_set_speed(WOODWAY, 25, BeltDirection.REVERSE) == b"\xa33025"
    assert decode_speed_data(WOODWAY, b"3025") == (25, BeltDirection.REVERSE)
    with pytest.raises(ValueError, match="no reverse belt"):
        encode_set_speed(TRACKMASTER, 25, BeltDirection.REVERSE)
    with pytest.raises(ValueError, match="outside the Woodway field"):
        encode_set_speed(WOODWAY, 300)
    with pytest.raises(ValueError, match="multiple of 0.5"):
        encode_set_elevation(TRACKMASTER, 43)
    assert incline_to_x10(TRACKMASTER, 4.3) == 45 and incline_to_x10(WOODWAY, 4.33) == 43
    assert speed_to_x10(mph_to_mps(2.25)) == 23 and x10_to_mps(10) == pytest.approx(0.44704)


def test_board_refuses_bad_construction():
    with pytest.raises(ValueError, match="max_speed_mps"):
        LabBoard(WOODWAY, max_speed_mps=mph_to_mps(40.0))
    with pytest.raises(ValueError, match="min_incline_pct <= max_incline_pct"):
        LabBoard(TRACKMASTER, max_incline_pct=2.0, min_incline_pct=3.0)
    with pytest.raises(ValueError, match="firmware revision"):
        LabBoard(WOODWAY, firmware_revision=-1)


# --- pywoodway drives the emulated Woodway ------------------------------------------------


def test_pywoodway_connects_tests_comms_and_reads_firmware(woodway):
    tm, rig = woodway
    assert tm.test_treadmill() is True
    assert tm.treadmill_state == b"1"  # stopped (the constructor sent an auto stop)
    assert tm.get_fw_rev() == 0x00020105


def test_pywoodway_speed_forward_reverse_and_elevation(woodway):
    tm, rig = woodway
    assert tm.start_belt(True) is True
    assert rig.board.belt_status is BeltStatus.STARTED_WATCHDOG
    assert tm.set_speed(3.0) is True
    drive = rig.board.drive_command
    assert drive.mode is DriveMode.NORMAL and drive.belt_direction is BeltDirection.FORWARD
    assert drive.belt_speed_mps == pytest.approx(mph_to_mps(3.0))
    rig.advance(0.05)
    assert tm.get_speed() == pytest.approx(3.0)

    assert tm.set_speed(-2.0) is True  # reverse: through a stop
    drive = rig.board.drive_command
    assert drive.belt_speed_mps == 0.0 and drive.belt_direction is BeltDirection.FORWARD
    rig.advance(0.05)
    drive = rig.board.drive_command
    assert drive.belt_direction is BeltDirection.REVERSE
    assert drive.belt_speed_mps == pytest.approx(mph_to_mps(2.0))
    assert tm.get_speed() == pytest.approx(-2.0)

    assert tm.set_elevation(5.5) is True
    rig.advance(0.05)
    assert tm.get_elevation() == pytest.approx(5.5)
    assert rig.board.drive_command.incline_pct == pytest.approx(5.5)


def test_pywoodway_disengage_restart_and_auto_stop(woodway):
    tm, rig = woodway
    assert tm.set_speed(4.0) and tm.set_elevation(2.0)
    assert rig.board.drive_command.mode is DriveMode.STOP  # set points alone do not start it
    assert tm.start_belt(False) is True
    assert rig.board.belt_status is BeltStatus.STARTED
    assert rig.board.drive_command.mode is DriveMode.NORMAL
    assert tm.disengage_belt() is True
    assert rig.board.drive_command.mode is DriveMode.STOP
    assert rig.board.set_speed_mph == 4.0  # kept: disengage is not latched
    assert tm.start_belt(False) is True
    assert rig.board.drive_command.belt_speed_mps == pytest.approx(mph_to_mps(4.0))
    assert tm.stop_belt() is True
    assert rig.board.drive_command.mode is DriveMode.STOP
    assert (rig.board.set_speed_mph, rig.board.set_incline_pct) == (0.0, 0.0)


def test_pywoodway_sees_refusals_and_illegal_commands(woodway, monkeypatch):
    tm, rig = woodway
    rig.board = LabBoard(WOODWAY, max_speed_mps=mph_to_mps(10.0))
    assert tm.set_speed(12.0) is False and tm.last_error[0] == b"\xbe"
    assert tm.set_elevation(28.0) is True  # within 29.9 %
    tm.comport.write(b"\xa1")  # not a Woodway command
    assert tm.comport.read(1) == b"\xbf"
    assert rig.board.counts.out_of_range == 1 and rig.board.counts.illegal == 1


def test_a_woodway_without_reverse_refuses_a_reverse_speed_with_its_error_byte(woodway):
    tm, rig = woodway
    rig.board = LabBoard(WOODWAY, reverse=False)
    assert tm.set_speed(-1.5) is False and tm.last_error[0] == b"\xbe"
    assert rig.board.counts.out_of_range == 1
    assert tm.set_speed(1.5) is True  # forwards is fine
    assert rig.board.set_direction.name == "FORWARD"


def test_woodway_master_timeout_stops_and_answers_bd_once(woodway):
    tm, rig = woodway
    assert tm.start_belt(True) and tm.set_speed(3.0) and tm.set_elevation(4.0)
    rig.advance(0.4)
    assert tm.get_speed() == pytest.approx(3.0)  # a request feeds the timer
    rig.advance(0.6)
    assert rig.board.drive_command.mode is DriveMode.STOP
    assert rig.board.drive_command.incline_pct == 0.0
    assert rig.board.counts.watchdog_stops == 1
    assert tm.get_speed() is False and tm.last_error[0] == b"\xbd"  # one byte: no hang
    assert tm.get_speed() == 0.0
    assert rig.board.counts.master_timeout_replies == 1


def test_woodway_master_timeout_is_fed_by_complete_requests_only(woodway):
    tm, rig = woodway
    assert tm.start_belt(True) and tm.set_speed(3.0)
    for _ in range(4):  # 0.8 s of bytes that start no request: 0xBF each, no feeding
        rig.advance(0.2)
        assert rig.exchange(b"\x00") == b"\xbf"
    assert rig.board.counts.watchdog_stops == 1
    assert rig.board.drive_command.mode is DriveMode.STOP


def test_woodway_without_timer_keeps_running(woodway):
    tm, rig = woodway
    assert tm.start_belt(False) and tm.set_speed(3.0)
    rig.advance(2.0)
    assert rig.board.drive_command.mode is DriveMode.NORMAL
    assert tm.get_speed() == pytest.approx(3.0)


# --- trackmaster drives the emulated Trackmaster ------------------------------------------


def test_trackmaster_speed_incline_and_belt_status(tmx):
    tm, rig = tmx
    assert (tm.speed, tm.incline) == (0.0, 0.0)  # read from the console at connect
    tm.speed = 3.5  # sets the speed, then starts the belt (CDS disabled)
    assert tm.belt_running is True
    assert rig.board.belt_status is BeltStatus.STARTED
    rig.advance(0.05)
    assert tm.get_actual_speed() == pytest.approx(3.5)
    assert tm.get_set_speed() == pytest.approx(3.5)
    tm.incline = 4.3  # the client rounds to 4.5 itself
    rig.advance(0.05)
    assert tm.get_set_incline() == pytest.approx(4.5)
    assert tm.get_actual_elevation() == pytest.approx(4.5)
    drive = rig.board.drive_command
    assert drive.belt_speed_mps == pytest.approx(mph_to_mps(3.5)) and drive.incline_pct == 4.5


def test_trackmaster_auto_stop_and_stop(tmx):
    tm, rig = tmx
    tm.speed = 2.0
    tm.incline = 3.0
    tm.auto_stop()
    assert tm.belt_running is False
    assert tm.get_set_speed() == 0.0 and tm.get_set_incline() == 0.0
    assert rig.board.drive_command.mode is DriveMode.STOP
    tm.speed = 2.0
    tm.stop_belt()
    assert rig.board.drive_command.mode is DriveMode.STOP
    assert tm.get_set_speed() == 2.0  # stop keeps the set speed


def test_trackmaster_out_of_range_and_illegal_commands(tmx):
    tm, rig = tmx
    with pytest.raises(trackmaster.raw.TreadmillError, match="Out of Range"):
        trackmaster.raw.command(tm.device, "4", data="0043")  # 4.3 %: not a half percent
    with pytest.raises(trackmaster.raw.TreadmillError, match="Out of Range"):
        trackmaster.raw.command(tm.device, "3", data="0200")  # 20 mph: above the machine
    with pytest.raises(trackmaster.raw.TreadmillError, match="Illegal"):
        trackmaster.raw.command(tm.device, "D")  # 0xAD
    with pytest.raises(trackmaster.raw.TreadmillError, match="Illegal"):
        trackmaster.raw.status_request(tm.device, "E", 4)  # 0xCE
    assert rig.board.counts.out_of_range == 2 and rig.board.counts.illegal == 2
    assert trackmaster.raw.status_request(tm.device, "8", 2) == b"00"  # not functional: zeros


def test_trackmaster_ack_data_flag_echoes_command_data(tmx):
    tm, rig = tmx
    trackmaster.raw.command(tm.device, "C")
    assert rig.board.ack_data
    trackmaster.raw.command(tm.device, "3", data="0020")
    assert tm.device.read(4) == b"0020"
    trackmaster.raw.command(tm.device, "C")
    trackmaster.raw.command(tm.device, "3", data="0030")
    assert tm.device.read(4) == b""


def test_trackmaster_cds_stops_the_belt_and_disabled_cds_does_not(tmx):
    tm, rig = tmx
    tm.incline = 5.0
    tm.speed = 3.0  # started with CDS disabled
    rig.advance(2.0)
    assert rig.board.drive_command.mode is DriveMode.NORMAL
    trackmaster.raw.command(tm.device, "0")  # start with CDS enabled
    assert trackmaster.raw.status_request(tm.device, "0", 1) == b"2"
    for _ in range(5):  # polled every 0.3 s: keeps running
        rig.advance(0.3)
        tm.get_actual_speed()
    assert rig.board.drive_command.mode is DriveMode.NORMAL
    rig.advance(0.6)
    drive = rig.board.drive_command
    assert drive.mode is DriveMode.STOP and drive.incline_pct == 0.0
    assert tm.belt_running is False and tm.get_set_speed() == 0.0


# --- LabSerialTreadmill against an emulated console ---------------------------------------


class Device:
    """A console on the far end of a cable: board and belt on the wall clock."""

    def __init__(self, profile: LabProfile, **board_args: object) -> None:
        self.board = LabBoard(profile, **board_args)
        self.belt = MockTreadmill()
        self.t0_s = time.monotonic()
        self.silent = False
        self.lock = threading.Lock()
        self.opened = 0
        self.fail_on_write: set[int] = set()  # port instance numbers whose 20th write raises

    def now_s(self) -> float:
        return time.monotonic() - self.t0_s

    def factory(self, port: str, *, baudrate: int, timeout: float) -> DeviceSerial:
        assert baudrate == 4800
        self.opened += 1
        return DeviceSerial(self, timeout, fail_at_write=20 if self.opened in self.fail_on_write
                            else None)

    def handle(self, data: bytes) -> bytes:
        with self.lock:
            now = self.now_s()
            self.belt.advance(max(now - self.belt.t_s, 0.0))
            reply = b"" if self.silent else self.board.on_bytes(data, now, self.belt.read())
            self.belt.write(self.board.drive_command)
            return reply


class DeviceSerial:
    """The host's end of the cable, as ``serial_for_url`` would return it."""

    def __init__(self, device: Device, timeout: float, fail_at_write: int | None) -> None:
        self.device = device
        self.timeout = timeout
        self.fail_at_write = fail_at_write
        self.writes = 0
        self.rx = bytearray()

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes == self.fail_at_write:
            raise serial.SerialException("device reports readiness to read but returned no data")
        self.rx += self.device.handle(bytes(data))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if len(self.rx) < size:
            time.sleep(self.timeout)
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self.rx.clear()

    def close(self) -> None:
        pass


def wait_for(condition, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.002)


def host(device: Device, profile: LabProfile, **kwargs: object) -> LabSerialTreadmill:
    kwargs = {"reply_timeout_s": 0.01, "poll_interval_s": 0.001} | kwargs
    return LabSerialTreadmill("loop://", profile, serial_factory=device.factory, **kwargs)


def test_host_program_reaches_trackmaster_quantised():
    device = Device(TRACKMASTER)
    board = device.board
    with host(device, TRACKMASTER) as tm:
        tm.write(Command(belt_speed_mps=1.0, incline_pct=4.3))  # 2.24 mph, 4.3 %
        wait_for(lambda: (board.set_speed_mph, board.set_incline_pct) == (2.2, 4.5)
                 and board.belt_status is BeltStatus.STARTED_WATCHDOG)
        wait_for(lambda: tm.read().incline_pct == 4.5
                 and tm.read().belt_speed_mps == pytest.approx(mph_to_mps(2.2)))
        t = tm.read()
        assert t.drive_enabled and t.faults is Fault.NONE
        assert (t.motor_current_a, t.bus_voltage_v, t.key_present, t.motor_temp_c) == (None,) * 4
        assert (t.tach_pulse_count, t.tach_last_pulse_t_s) == (0, None)
        assert t.t_s > 0.0
        tm.write(Command(belt_speed_mps=1.5, incline_pct=7.76))  # 3.36 mph, 7.76 %
        wait_for(lambda: (board.set_speed_mph, board.set_incline_pct) == (3.4, 8.0))
        tm.write(Command(belt_speed_mps=1.5, mode=DriveMode.STOP))
        wait_for(lambda: board.drive_command.mode is DriveMode.STOP)
        wait_for(lambda: not tm.read().drive_enabled)
        with pytest.raises(ValueError, match="no reverse belt"):
            tm.write(Command(belt_speed_mps=1.0, belt_direction=BeltDirection.REVERSE))
    assert board.counts.illegal == board.counts.out_of_range == 0
    assert tm.counters.bad_replies == 0


def test_host_reverses_a_woodway_and_feeds_its_timer():
    device = Device(WOODWAY)
    board = device.board
    with host(device, WOODWAY) as tm:
        tm.write(Command(belt_speed_mps=1.2, incline_pct=3.14,
                         belt_direction=BeltDirection.REVERSE))
        wait_for(lambda: board.drive_command.belt_direction is BeltDirection.REVERSE
                 and board.drive_command.mode is DriveMode.NORMAL)
        assert (board.set_speed_mph, board.set_incline_pct) == (2.7, 3.1)
        wait_for(lambda: tm.read().belt_direction is BeltDirection.REVERSE
                 and tm.read().belt_speed_mps > 0.0)
        time.sleep(0.6)  # longer than the master timeout: the polls keep it fed
        assert board.counts.watchdog_stops == 0
        assert board.drive_command.mode is DriveMode.NORMAL
    assert board.drive_command.mode is DriveMode.STOP  # close() sent an auto stop


def test_host_flags_a_silent_device_and_recovers():
    device = Device(TRACKMASTER)
    with host(device, TRACKMASTER) as tm:
        wait_for(lambda: tm.read().incline_pct is not None)
        device.silent = True
        wait_for(lambda: Fault.COMMS in tm.read().faults)
        assert tm.counters.timeouts >= 3
        device.silent = False
        wait_for(lambda: Fault.COMMS not in tm.read().faults)


def test_host_reconnects_after_a_serial_exception():
    device = Device(WOODWAY)
    device.fail_on_write = {1}
    board = device.board
    with host(device, WOODWAY) as tm:
        tm.write(Command(belt_speed_mps=1.0, incline_pct=2.0))
        wait_for(lambda: tm.counters.reconnects == 1)
        wait_for(lambda: board.drive_command.belt_speed_mps == pytest.approx(mph_to_mps(2.2))
                 and board.set_incline_pct == 2.0)
        wait_for(lambda: tm.read().faults is Fault.NONE and tm.read().drive_enabled)
    assert device.opened == 2


def test_host_refuses_bad_arguments():
    with pytest.raises(ValueError, match="reply_timeout_s"):
        LabSerialTreadmill("loop://", WOODWAY, reply_timeout_s=1.0)
    with pytest.raises(ValueError, match="profile"):
        LabSerialTreadmill("loop://", "treadmill")


# --- fuzz ------------------------------------------------------------------------------------

# Whole requests and pieces of them, so random streams also reach the running states.
_TOKENS = [b"\xa0", b"\xa1", b"\xa2", b"\xa9", b"\xaa", b"\xab", b"\xac", b"\xc0", b"\xc1",
           b"\xc2", b"\xc3", b"\xc8", b"\xa30035", b"\xa33020", b"\xa40050", b"\xa40043",
           b"\xa3", b"\xa4", b"0", b"3", b"5", b"9"]
_STARTS = {WOODWAY: {0xA0, 0xA9}, TRACKMASTER: {0xA0, 0xA1}}
_FIRMWARE = 0x01020304


def _replies(profile: LabProfile, stream: bytes) -> int:
    """Check a reply stream holds only legal replies; return how many."""
    spec = profile.spec
    woodway = profile is WOODWAY
    count, i = 0, 0
    while i < len(stream):
        code = stream[i]
        i += 1
        count += 1
        if code in (0xBE, 0xBF) or (woodway and code == 0xBD):
            continue
        if 0xB0 <= code <= 0xBC:
            assert code - 0x10 in spec.command_data_bytes
            while not woodway and i < len(stream) and 0x30 <= stream[i] <= 0x39:
                i += 1  # acknowledge data echo
            continue
        assert code - 0x10 in spec.status_data_bytes, f"illegal reply byte 0x{code:02X}"
        n = spec.status_data_bytes[code - 0x10]
        data = stream[i:i + n]
        assert len(data) == n
        i += n
        if code == 0xD0:
            assert data in (b"1", b"2", b"3")
        elif woodway and code == 0xD3:
            assert data == _FIRMWARE.to_bytes(4, "big")
        elif woodway and code == 0xD1:
            assert data[:1] in (b"0", b"3") and data[1:].isdigit()
        else:
            assert data.isdigit()
    return count


@settings(max_examples=150, deadline=None)
@given(profile=st.sampled_from(LabProfile),
       pieces=st.lists(st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from(_TOKENS)),
                       max_size=30),
       cuts=st.lists(st.tuples(st.integers(0, 120), st.floats(0.0, 0.3)), max_size=12))
def test_fuzz_board_never_raises_and_answers_only_legal_replies(profile, pieces, cuts):
    """Random bytes in random chunks at random gaps.

    The board never raises; it answers each complete request or illegal byte
    with exactly one legal reply; and if no byte that starts the belt (A0 or
    A9 on Woodway, A0 or A1 on Trackmaster) was ever sent, the drive is
    never asked to move.
    """
    board = LabBoard(profile, firmware_revision=_FIRMWARE)
    belt = MockTreadmill()
    data = b"".join(pieces)
    bounds = sorted({0, len(data), *(min(c, len(data)) for c, _ in cuts)})
    gaps = [g for _, g in cuts] + [0.0] * len(bounds)
    now, replies, sent = 0.0, 0, b""
    max_mps = mph_to_mps(profile.spec.max_speed_mph) + 1e-9
    for (start, end), gap in zip(zip(bounds, bounds[1:], strict=False), gaps, strict=False):
        now += gap
        belt.advance(gap)
        chunk = data[start:end]
        sent += chunk
        replies += _replies(profile, board.on_bytes(chunk, now, belt.read()))
        belt.write(board.drive_command)
        board.on_tick(now + 0.01, belt.read())
        drive = board.drive_command
        assert drive.belt_speed_mps <= max_mps
        if not _STARTS[profile] & set(sent):
            assert drive.mode is DriveMode.STOP and board.belt_status is BeltStatus.STOPPED
    counts = board.counts
    assert replies == counts.requests + counts.illegal
    assert counts.bytes_in == len(data)
