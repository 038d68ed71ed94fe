"""Woodway and Trackmaster serial protocols: codes, profile facts and ASCII-digit fields.

Both lab treadmills speak the same style of protocol at 4800 baud 8N1: the
host sends a one-byte command (``0xA?``) or status request (``0xC?``),
commands may carry a fixed number of ASCII-digit data bytes, and the
treadmill answers every request with one byte: the command code plus 0x10
(``0xB?``) as acknowledgement, the request code plus 0x10 (``0xD?``)
followed by fixed-length data for a status request, or an error code.

Sources:

- Trackmaster: TMX428/TMX58 service manual, chapter 8, "Communication
  hardware" and "Command protocol" with its communication notes
  (https://www.easymanua.ls/trackmaster/tmx428/manual?p=65 to ``p=67``),
  and the same section of the FVX/TMX series field service manual
  (https://manualshive.com/ru/manual/trackmaster/fvx325/1147260?page=120).
  Speed is 4 digits in 0.1 mph, elevation 4 digits in 0.1 % whose last
  digit must be 0 or 5 (otherwise "data out of range", ``0xBE``).
  Communication Disconnect Stop (CDS): started with ``0xA0`` the belt stops
  when no command arrives within 0.5 s; the Medisoft 870 manual
  (https://www.easymanua.ls/medisoft/870-s/manual?p=58) describes that stop
  as: decelerate to minimum, then stop and go to zero elevation.
- Woodway: no manual at hand; the command set is the one the PyPI client
  ``pywoodway`` 0.2.4 uses (facts only): start with communication timer
  ``0xA0``, without ``0xA9``, disengage ``0xA2``, set speed ``0xA3`` as a
  direction digit (``'0'`` forward, ``'3'`` reverse) and 3 digits of 0.1 mph,
  set elevation ``0xA4`` as 4 digits of 0.1 %, auto stop ``0xAA``; status
  ``0xC0`` test (``0xD0`` + one state byte), ``0xC1`` speed (``0xD1`` +
  direction digit and 3 digits), ``0xC2`` elevation (``0xD2`` + 4 digits),
  ``0xC3`` firmware revision (``0xD3`` + 4 raw bytes, big-endian); replies
  ``0xBD`` master timeout, ``0xBE`` invalid data, ``0xBF`` invalid command.

Choices marked [U] are not documented in any source we have:

- [U] Woodway's master-timeout duration: 0.5 s, as Trackmaster's CDS.
- [U] Woodway's ``0xD0`` state byte: the Trackmaster belt-status codes
  (``0x31`` stopped, ``0x32`` started with timer, ``0x33`` without).
- [U] Largest Woodway elevation: 29.9 %, the bound ``pywoodway`` enforces.
- [U] "Minimum" speed after an auto stop, cool down or CDS stop: 0.0 mph.

This module is pure and does no I/O. Internally speeds are integers of
0.1 mph and elevations integers of 0.1 % (``_x10``), so nothing drifts
through float rounding; conversion to SI goes through :mod:`.units`.
Every encoder refuses what the wire cannot carry with a one-line
``ValueError``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from types import MappingProxyType

from .interface import BeltDirection
from .units import mph_to_mps, mps_to_mph

BAUDRATE = 4800  # 8 data bits, no parity, 1 stop bit (both profiles)
WATCHDOG_S = 0.5  # Trackmaster CDS (manual note 1); Woodway master timeout [U]
SPEED_STEP_MPH = 0.1
DIGIT_FIELD_BYTES = 4  # speed and elevation fields

REPLY_OFFSET = 0x10  # acknowledgement = command + 0x10; status response = request + 0x10
REPLY_MASTER_TIMEOUT = 0xBD  # Woodway only
REPLY_OUT_OF_RANGE = 0xBE  # Trackmaster "input command data out of range"; Woodway invalid data
REPLY_ILLEGAL = 0xBF  # illegal or unrecognised command

WOODWAY_FORWARD_DIGIT = ord("0")
WOODWAY_REVERSE_DIGIT = ord("3")
WOODWAY_MAX_SPEED_X10 = 299  # tens, ones and tenths of mph: 29.9 mph
MAX_FIELD_X10 = 9999  # four digits


class Code(enum.IntEnum):
    """Request codes both profiles share (same meaning on both)."""

    START_WITH_WATCHDOG = 0xA0  # Trackmaster: CDS enabled; Woodway: communication timer
    STOP = 0xA2  # Trackmaster: stop belt; Woodway: disengage belt
    SET_SPEED = 0xA3
    SET_ELEVATION = 0xA4
    AUTO_STOP = 0xAA  # speed and elevation to minimum, belt stopped
    STATUS_BELT = 0xC0  # Trackmaster: belt status; Woodway: test communications
    STATUS_SPEED = 0xC1  # actual belt speed
    STATUS_ELEVATION = 0xC2  # actual elevation


class TrackmasterCommand(enum.IntEnum):
    """Trackmaster input commands (``0xA0``..``0xAC``)."""

    START_CDS = 0xA0
    START = 0xA1  # CDS disabled
    STOP = 0xA2
    SET_SPEED = 0xA3
    SET_ELEVATION = 0xA4
    SET_TIME = 0xA5  # accepted, not functional (note 5)
    SET_PROTOCOL = 0xA6  # accepted, not functional
    SET_STAGE = 0xA7  # accepted, not functional
    RESET_TOTALS = 0xA8  # distance, time and energy; accepted, not functional
    SET_WEIGHT = 0xA9  # accepted, not functional
    AUTO_STOP = 0xAA
    AUTO_COOL_DOWN = 0xAB  # speed and elevation to minimum, belt keeps running
    TOGGLE_ACK_DATA = 0xAC  # acks are followed by the command's data while set (note 6)


class TrackmasterStatus(enum.IntEnum):
    """Trackmaster status requests (``0xC0``..``0xCD``); the reply is the code + 0x10."""

    BELT = 0xC0
    ACTUAL_SPEED = 0xC1
    ACTUAL_ELEVATION = 0xC2
    SET_SPEED = 0xC3
    SET_ELEVATION = 0xC4
    LAP_TIME = 0xC5  # C5..CD: accepted, always zero data (notes 8 and 9)
    TOTAL_TIME = 0xC6
    DISTANCE = 0xC7
    PROTOCOL = 0xC8
    STAGE = 0xC9
    WEIGHT = 0xCA
    CALORIES = 0xCB
    VO2 = 0xCC
    METS = 0xCD


class WoodwayCommand(enum.IntEnum):
    """Woodway commands (as used by pywoodway 0.2.4)."""

    START_TIMER = 0xA0
    DISENGAGE = 0xA2
    SET_SPEED = 0xA3
    SET_ELEVATION = 0xA4
    START = 0xA9  # no communication timer
    AUTO_STOP = 0xAA


class WoodwayStatus(enum.IntEnum):
    """Woodway status requests; the reply is the code + 0x10."""

    TEST_COMMS = 0xC0
    SPEED = 0xC1
    ELEVATION = 0xC2
    FIRMWARE = 0xC3


class BeltStatus(enum.IntEnum):
    """The data byte after ``0xD0`` (Trackmaster manual; Woodway assumed the same [U])."""

    STOPPED = 0x31
    STARTED_WATCHDOG = 0x32  # CDS / communication timer enabled
    STARTED = 0x33  # CDS / timer disabled

    @property
    def running(self) -> bool:
        """Whether the belt is started (either way)."""
        return self is not BeltStatus.STOPPED


_TRACKMASTER_COMMAND_DATA = {c.value: 0 for c in TrackmasterCommand} | {
    0xA3: 4, 0xA4: 4, 0xA5: 4, 0xA6: 2, 0xA7: 2, 0xA9: 4,
}
_TRACKMASTER_STATUS_DATA = {c.value: 4 for c in TrackmasterStatus} | {0xC0: 1, 0xC8: 2, 0xC9: 2}
_WOODWAY_COMMAND_DATA = {c.value: 0 for c in WoodwayCommand} | {0xA3: 4, 0xA4: 4}
_WOODWAY_STATUS_DATA = {0xC0: 1, 0xC1: 4, 0xC2: 4, 0xC3: 4}


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """What one profile's wire and (default) machine can do.

    ``max_speed_mph`` and ``max_incline_pct`` are the default machine
    limits an emulated board uses; ``speed_field_max_x10`` and
    ``incline_field_max_x10`` are what the wire can carry at all.
    """

    name: str
    baudrate: int
    speed_step_mph: float
    incline_step_x10: int  # set-point resolution in 0.1 %: 5 (0.5 %) or 1 (0.1 %)
    max_speed_mph: float
    max_incline_pct: float
    speed_field_max_x10: int
    incline_field_max_x10: int
    reverse: bool
    watchdog_s: float
    start_code: int  # start without the watchdog
    command_data_bytes: MappingProxyType[int, int]  # command code -> data bytes it carries
    status_data_bytes: MappingProxyType[int, int]  # request code -> data bytes after the reply

    @property
    def incline_step_pct(self) -> float:
        """Set-point elevation resolution in percent grade."""
        return self.incline_step_x10 / 10.0

    @property
    def start_codes(self) -> frozenset[int]:
        """Every command that starts the belt."""
        return frozenset({Code.START_WITH_WATCHDOG.value, self.start_code})


class LabProfile(enum.Enum):
    """A lab treadmill's serial protocol."""

    WOODWAY = "woodway"
    TRACKMASTER = "trackmaster"

    @property
    def spec(self) -> ProfileSpec:
        """The profile's facts."""
        return _SPECS[self]


_SPECS = {
    LabProfile.TRACKMASTER: ProfileSpec(
        name="Trackmaster",
        baudrate=BAUDRATE,
        speed_step_mph=SPEED_STEP_MPH,
        incline_step_x10=5,  # manual note 4
        max_speed_mph=15.0,  # TMX-class default; the trackmaster client caps at the same
        max_incline_pct=25.0,
        speed_field_max_x10=MAX_FIELD_X10,
        incline_field_max_x10=MAX_FIELD_X10,
        reverse=False,
        watchdog_s=WATCHDOG_S,
        start_code=TrackmasterCommand.START.value,
        command_data_bytes=MappingProxyType(_TRACKMASTER_COMMAND_DATA),
        status_data_bytes=MappingProxyType(_TRACKMASTER_STATUS_DATA),
    ),
    LabProfile.WOODWAY: ProfileSpec(
        name="Woodway",
        baudrate=BAUDRATE,
        speed_step_mph=SPEED_STEP_MPH,
        incline_step_x10=1,
        max_speed_mph=WOODWAY_MAX_SPEED_X10 / 10.0,
        max_incline_pct=29.9,  # [U]
        speed_field_max_x10=WOODWAY_MAX_SPEED_X10,
        incline_field_max_x10=MAX_FIELD_X10,
        reverse=True,
        watchdog_s=WATCHDOG_S,  # [U]
        start_code=WoodwayCommand.START.value,
        command_data_bytes=MappingProxyType(_WOODWAY_COMMAND_DATA),
        status_data_bytes=MappingProxyType(_WOODWAY_STATUS_DATA),
    ),
}


def request_data_bytes(profile: LabProfile, code: int) -> int | None:
    """Data bytes the host sends after request ``code``; ``None`` if the profile lacks it."""
    spec = profile.spec
    if code in spec.command_data_bytes:
        return spec.command_data_bytes[code]
    if code in spec.status_data_bytes:
        return 0
    return None


def reply_code(code: int) -> int:
    """The acknowledgement or status-response code for request ``code``."""
    if not (0xA0 <= code <= 0xAF or 0xC0 <= code <= 0xCF):
        raise ValueError(f"request code must be 0xA0..0xAF or 0xC0..0xCF, got {code!r}")
    return code + REPLY_OFFSET


def reply_data_bytes(profile: LabProfile, code: int) -> int:
    """Data bytes after a good reply to ``code`` (acks carry none unless echo is on)."""
    n = profile.spec.status_data_bytes.get(code)
    if n is not None:
        return n
    if code in profile.spec.command_data_bytes:
        return 0
    raise ValueError(f"0x{code:02X} is no request of the {profile.spec.name} profile")


# --- ASCII-digit fields ------------------------------------------------------------------


def _round_half_away(x: float) -> int:
    n = math.floor(abs(x) + 0.5)
    return -n if x < 0 else n


def encode_digits(value: int, width: int) -> bytes:
    """``value`` as ``width`` ASCII decimal digits, zero-padded: (45, 4) -> b"0045"."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"digit field value must be an int, got {value!r}")
    if width < 1 or not 0 <= value < 10**width:
        raise ValueError(f"{value!r} does not fit {width} ASCII digits (0..{10**width - 1})")
    return b"%0*d" % (width, value)


def decode_digits(data: bytes) -> int:
    """ASCII decimal digits to an int: b"0045" -> 45."""
    data = bytes(data)
    if not data or any(not 0x30 <= b <= 0x39 for b in data):
        raise ValueError(f"expected ASCII digits 0-9, got {data!r}")
    return int(data)


def speed_to_x10(speed_mps: float) -> int:
    """A speed magnitude (m/s) to the nearest 0.1 mph, as an integer of tenths."""
    if not (math.isfinite(speed_mps) and speed_mps >= 0.0):
        raise ValueError(f"speed_mps must be a finite magnitude >= 0, got {speed_mps!r}")
    return _round_half_away(mps_to_mph(speed_mps) * 10.0)


def x10_to_mps(speed_x10: int) -> float:
    """Tenths of mph to m/s."""
    return mph_to_mps(speed_x10 / 10.0)


def incline_to_x10(profile: LabProfile, incline_pct: float) -> int:
    """Elevation (%) to the nearest set-point step of the profile, in tenths of %."""
    if not math.isfinite(incline_pct):
        raise ValueError(f"incline_pct must be finite, got {incline_pct!r}")
    step = profile.spec.incline_step_x10
    return step * _round_half_away(incline_pct * 10.0 / step)


def encode_speed_data(profile: LabProfile, speed_x10: int,
                      direction: BeltDirection = BeltDirection.FORWARD) -> bytes:
    """The 4 data bytes of a speed (set-speed command or speed reply)."""
    spec = profile.spec
    if isinstance(speed_x10, bool) or not isinstance(speed_x10, int) or not (
            0 <= speed_x10 <= spec.speed_field_max_x10):
        raise ValueError(f"speed {speed_x10!r} x 0.1 mph is outside the {spec.name} field"
                         f" 0..{spec.speed_field_max_x10}")
    reverse = BeltDirection(direction) is BeltDirection.REVERSE
    if profile is LabProfile.WOODWAY:
        digit = WOODWAY_REVERSE_DIGIT if reverse else WOODWAY_FORWARD_DIGIT
        return bytes([digit]) + encode_digits(speed_x10, 3)
    if reverse:
        raise ValueError(f"the {spec.name} profile has no reverse belt")
    return encode_digits(speed_x10, DIGIT_FIELD_BYTES)


def decode_speed_data(profile: LabProfile, data: bytes) -> tuple[int, BeltDirection]:
    """The 4 data bytes of a speed to (tenths of mph, direction)."""
    data = bytes(data)
    if len(data) != DIGIT_FIELD_BYTES:
        raise ValueError(f"a speed field is {DIGIT_FIELD_BYTES} bytes, got {data!r}")
    if profile is LabProfile.WOODWAY:
        if data[0] == WOODWAY_FORWARD_DIGIT:
            direction = BeltDirection.FORWARD
        elif data[0] == WOODWAY_REVERSE_DIGIT:
            direction = BeltDirection.REVERSE
        else:
            raise ValueError(f"Woodway direction digit must be '0' or '3', got {data[:1]!r}")
        return decode_digits(data[1:]), direction
    return decode_digits(data), BeltDirection.FORWARD


def encode_incline_data(profile: LabProfile, incline_x10: int) -> bytes:
    """The 4 data bytes of an elevation in tenths of %; set points must be on the profile's step."""
    spec = profile.spec
    if isinstance(incline_x10, bool) or not isinstance(incline_x10, int) or not (
            0 <= incline_x10 <= spec.incline_field_max_x10):
        raise ValueError(f"elevation {incline_x10!r} x 0.1 % is outside the {spec.name} field"
                         f" 0..{spec.incline_field_max_x10}")
    return encode_digits(incline_x10, DIGIT_FIELD_BYTES)


def decode_incline_data(data: bytes) -> int:
    """The 4 data bytes of an elevation to tenths of %."""
    data = bytes(data)
    if len(data) != DIGIT_FIELD_BYTES:
        raise ValueError(f"an elevation field is {DIGIT_FIELD_BYTES} bytes, got {data!r}")
    return decode_digits(data)


def encode_firmware_revision(revision: int) -> bytes:
    """Woodway firmware revision as 4 raw bytes, big-endian."""
    if isinstance(revision, bool) or not isinstance(revision, int) or not (
            0 <= revision <= 0xFFFFFFFF):
        raise ValueError(f"firmware revision must be an int in 0..0xFFFFFFFF, got {revision!r}")
    return revision.to_bytes(4, "big")


def decode_firmware_revision(data: bytes) -> int:
    """4 raw big-endian bytes to the firmware revision."""
    data = bytes(data)
    if len(data) != 4:
        raise ValueError(f"a firmware revision is 4 bytes, got {data!r}")
    return int.from_bytes(data, "big")


def decode_belt_status(data: bytes) -> BeltStatus:
    """The byte after ``0xD0``."""
    data = bytes(data)
    if len(data) != 1 or data[0] not in BeltStatus._value2member_map_:
        raise ValueError(f"belt status must be one of b'1', b'2', b'3', got {data!r}")
    return BeltStatus(data[0])


# --- host requests -----------------------------------------------------------------------


def encode_request(profile: LabProfile, code: int) -> bytes:
    """A request without data (start, stop, auto stop, any status request)."""
    n = request_data_bytes(profile, code)
    if n is None:
        raise ValueError(f"0x{code:02X} is no request of the {profile.spec.name} profile")
    if n:
        raise ValueError(f"0x{code:02X} carries {n} data bytes: use its own encoder")
    return bytes([code])


def encode_set_speed(profile: LabProfile, speed_x10: int,
                     direction: BeltDirection = BeltDirection.FORWARD) -> bytes:
    """The set-speed command for a speed in tenths of mph."""
    return bytes([Code.SET_SPEED]) + encode_speed_data(profile, speed_x10, direction)


def encode_set_elevation(profile: LabProfile, incline_x10: int) -> bytes:
    """The set-elevation command for tenths of %; must be on the profile's step."""
    step = profile.spec.incline_step_x10
    if isinstance(incline_x10, int) and incline_x10 % step:
        raise ValueError(f"{profile.spec.name} elevation must be a multiple of {step / 10} %,"
                         f" got {incline_x10 / 10} %")
    return bytes([Code.SET_ELEVATION]) + encode_incline_data(profile, incline_x10)


__all__ = [
    "BAUDRATE", "WATCHDOG_S", "SPEED_STEP_MPH", "REPLY_OFFSET", "REPLY_MASTER_TIMEOUT",
    "REPLY_OUT_OF_RANGE", "REPLY_ILLEGAL", "BeltStatus", "Code", "LabProfile", "ProfileSpec",
    "TrackmasterCommand", "TrackmasterStatus", "WoodwayCommand", "WoodwayStatus",
    "decode_belt_status", "decode_digits", "decode_firmware_revision", "decode_incline_data",
    "decode_speed_data", "encode_digits", "encode_firmware_revision", "encode_incline_data",
    "encode_request", "encode_set_elevation", "encode_set_speed", "encode_speed_data",
    "incline_to_x10", "reply_code", "reply_data_bytes", "request_data_bytes", "speed_to_x10",
    "x10_to_mps",
]
