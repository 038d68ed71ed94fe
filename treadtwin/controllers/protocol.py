"""Host <-> adapter-board wire protocol, version 1: frames, messages and codec.

The specification is ``docs/protocol.md``; this module is one implementation
of it and produced the test vectors there. It is pure Python and does no
I/O: callers hand it bytes from whatever link they have (UART, USB CDC,
pseudo-terminal, TCP) and write the bytes it returns.

Frames are SLIP-delimited (``0xC0`` at both ends, ``0xC0``/``0xDB`` escaped)
and carry a little-endian header (version, message type, sequence number,
payload length), a fixed-length payload and a CRC-16/CCITT-FALSE. Payload
units follow Bluetooth FTMS where it has one (speed 0.01 km/h, incline
0.1 %, "not available" as all-ones); inside treadtwin everything stays SI,
and :class:`CommandPayload` / :class:`TelemetryPayload` convert at the edge.

Encoding refuses anything the wire cannot carry with a ``ValueError``.
:class:`FrameDecoder` never raises on bad bytes: it drops the frame, counts
it by kind and keeps a short record so the adapter can answer with a NACK.
"""

from __future__ import annotations

import binascii
import enum
import functools
import math
import operator
import struct
from collections import deque
from dataclasses import dataclass, fields
from typing import ClassVar

from .interface import BeltDirection, Command, DriveMode, Fault, Telemetry
from .units import kmh_to_mps, mps_to_kmh

PROTOCOL_VERSION = 1  # the only version this module speaks
MIN_PROTOCOL_VERSION = 1

# SLIP (RFC 1055) special bytes.
END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

HEADER_BYTES = 5  # version u8, type u8, seq u16, payload length u8
CRC_BYTES = 2
MIN_FRAME_BYTES = HEADER_BYTES + CRC_BYTES
MAX_PAYLOAD_BYTES = 0xFF  # the length field is one byte, in every version
MAX_FRAME_BYTES = HEADER_BYTES + MAX_PAYLOAD_BYTES + CRC_BYTES  # unescaped
MAX_ESCAPED_FRAME_BYTES = 2 * MAX_FRAME_BYTES  # every byte escaped, delimiters excluded
CRC_INIT = 0xFFFF

SEQ_MODULUS = 1 << 16
SEQ_WINDOW = SEQ_MODULUS // 2 - 1  # a frame is newer if 1 <= (seq - last) mod 2**16 <= this

DEFAULT_WATCHDOG_MS = 250
MIN_WATCHDOG_MS = 50
MAX_WATCHDOG_MS = 2000
DEFAULT_TELEMETRY_PERIOD_MS = 20
MIN_TELEMETRY_PERIOD_MS = 5
MAX_TELEMETRY_PERIOD_MS = 1000

# "Not available" values, FTMS style: all ones, or 0x7FFF for signed fields.
U16_UNKNOWN = 0xFFFF
S16_UNKNOWN = 0x7FFF
U32_UNKNOWN = 0xFFFFFFFF

_INT_RANGES = {
    "B": (0, 0xFF),
    "H": (0, 0xFFFF),
    "I": (0, 0xFFFFFFFF),
    "h": (-0x8000, 0x7FFF),
}
_HEADER = struct.Struct("<BBHB")
_CRC = struct.Struct("<H")


def crc16_ccitt_false(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    The standard library's ``binascii.crc_hqx`` is exactly this CRC when
    seeded with 0xFFFF (check value for b"123456789" is 0x29B1).
    """
    return binascii.crc_hqx(data, CRC_INIT)


def next_seq(seq: int) -> int:
    """The sequence number after ``seq``, wrapping 65535 -> 0."""
    return (seq + 1) % SEQ_MODULUS


def seq_is_newer(seq: int, last: int) -> bool:
    """Whether ``seq`` comes after ``last`` in serial-number arithmetic (RFC 1982)."""
    return 1 <= (seq - last) % SEQ_MODULUS <= SEQ_WINDOW


# --- codes -----------------------------------------------------------------------------


class Side(enum.Enum):
    """The two ends of the link; a decoder is built for the side it runs on."""

    HOST = "host"
    ADAPTER = "adapter"


class MessageType(enum.IntEnum):
    """Message type byte; the high bit says the adapter sent it."""

    HELLO = 0x01
    HEARTBEAT = 0x02
    COMMAND = 0x03
    HELLO_ACK = 0x81
    TELEMETRY = 0x82
    STOPPED = 0x83
    NACK = 0x84

    @property
    def sender(self) -> Side:
        """Which side sends this message."""
        return Side.ADAPTER if self.value & 0x80 else Side.HOST


class WireDirection(enum.IntEnum):
    """Belt direction on the wire."""

    FORWARD = 0
    REVERSE = 1


class WireMode(enum.IntEnum):
    """Drive mode on the wire (names match :class:`DriveMode`)."""

    NORMAL = 0
    RESISTANCE = 1
    STOP = 2


class KeyState(enum.IntEnum):
    """Safety key as the board sees it."""

    OUT = 0x00
    PRESENT = 0x01
    UNKNOWN = 0xFF


class CommandFlag(enum.IntFlag):
    """COMMAND flag bits; the others are reserved and must be zero."""

    EMERGENCY_STOP = 0x01
    RESET = 0x02


class StatusFlag(enum.IntFlag):
    """TELEMETRY status bits; the others are reserved and must be zero."""

    DRIVE_ENABLED = 0x01
    ACK_VALID = 0x02  # ack_seq holds the last accepted host frame
    COASTING = 0x04  # the belt moves and the motor neither drives nor brakes it


class Capability(enum.IntFlag):
    """What the adapter and its machine can do (HELLO_ACK)."""

    REVERSE = 0x0001
    INCLINE = 0x0002
    RESISTANCE = 0x0004
    MOTOR_CURRENT = 0x0008
    BUS_VOLTAGE = 0x0010
    MOTOR_TEMP = 0x0020
    KEY_SENSE = 0x0040
    WALKER_DISTANCE = 0x0080
    DECK_FORCE = 0x0100


class FaultBit(enum.IntFlag):
    """Fault bits on the wire; names match :class:`Fault`, values are fixed here."""

    KEY_OUT = 0x0001
    STOP_BUTTON = 0x0002
    OVERCURRENT = 0x0004
    OVERVOLTAGE = 0x0008
    OVERTEMP = 0x0010
    INCLINE_STALL = 0x0020
    COMMS = 0x0040


class StopReason(enum.IntEnum):
    """Why the belt stopped; FTMS Fitness Machine Status op codes where FTMS has one."""

    USER = 0x02  # FTMS "Stopped or Paused by the User": the console's stop button
    SAFETY_KEY = 0x03  # FTMS "Stopped by Safety Key"
    HOST_STOP = 0x40  # the host commanded mode STOP
    HOST_EMERGENCY = 0x41  # the host set the emergency-stop flag
    WATCHDOG = 0x42  # no valid COMMAND or HEARTBEAT within the watchdog time
    OVERCURRENT = 0x43
    OVERVOLTAGE = 0x44
    OVERTEMP = 0x45
    INCLINE_STALL = 0x46
    NEW_SESSION = 0x47  # a HELLO with a new session id arrived while running


class NackCode(enum.IntEnum):
    """NACK error codes; FTMS control-point result codes where FTMS has one."""

    UNKNOWN_TYPE = 0x02  # FTMS "Op Code Not Supported"
    INVALID_PARAMETER = 0x03  # FTMS "Invalid Parameter"; detail = byte offset in payload
    OPERATION_FAILED = 0x04  # FTMS "Operation Failed"; detail = fault bits
    NOT_PERMITTED = 0x05  # FTMS "Control Not Permitted"; detail = latched fault bits
    UNSUPPORTED_VERSION = 0x41  # detail = min_version | max_version << 8
    BAD_LENGTH = 0x42  # detail = expected payload length, 0 if unknown
    NO_SESSION = 0x43  # COMMAND or HEARTBEAT before a HELLO
    STALE_SEQUENCE = 0x44  # detail = last accepted sequence number


class RejectKind(enum.Enum):
    """Why the decoder dropped a frame, in the order the checks run."""

    FRAMING = "framing"  # bad escape, runt, or longer than any frame can be
    CRC = "crc"
    VERSION = "version"
    LENGTH = "length"  # length field disagrees with the bytes, or with the type
    UNKNOWN_TYPE = "unknown_type"  # undefined, or not sent by the other side
    PAYLOAD = "payload"  # a field outside its encoding
    STALE = "stale"  # sequence not newer than the last accepted: replay or reorder


_FAULT_REASON = {
    Fault.KEY_OUT: StopReason.SAFETY_KEY,
    Fault.STOP_BUTTON: StopReason.USER,
    Fault.OVERCURRENT: StopReason.OVERCURRENT,
    Fault.OVERVOLTAGE: StopReason.OVERVOLTAGE,
    Fault.OVERTEMP: StopReason.OVERTEMP,
    Fault.INCLINE_STALL: StopReason.INCLINE_STALL,
    Fault.COMMS: StopReason.WATCHDOG,
}


#: When several faults stop the belt at once, the STOPPED reason names the first of these:
#: the user's own stops, then the drive's trips, then the lift, then the link.
STOP_REASON_ORDER = (Fault.KEY_OUT, Fault.STOP_BUTTON, Fault.OVERCURRENT, Fault.OVERVOLTAGE,
                     Fault.OVERTEMP, Fault.INCLINE_STALL, Fault.COMMS)


def stop_reason_for_faults(faults: Fault) -> StopReason:
    """The STOPPED reason for a stop caused by one or more fault flags: the first of
    :data:`STOP_REASON_ORDER` present (the STOPPED frame's fault field carries them all)."""
    for fault in STOP_REASON_ORDER:
        if fault in faults:
            return _FAULT_REASON[fault]
    raise ValueError(f"no stop reason for {faults!r}: no stopping fault flag is set")


def stop_reason_for_fault(fault: Fault) -> StopReason:
    """The STOPPED reason for a stop caused by one fault flag."""
    reason = _FAULT_REASON.get(Fault(fault))
    if reason is None:
        raise ValueError(f"no stop reason for {fault!r}: give exactly one fault flag")
    return reason


def faults_to_wire(faults: Fault) -> FaultBit:
    """treadtwin fault flags to wire bits, matched by name."""
    return _faults_to_wire(int(faults))


@functools.cache
def _faults_to_wire(value: int) -> FaultBit:
    faults = Fault(value)
    bits = FaultBit(0)
    for member in Fault:
        if member.value and member in faults:
            try:
                bits |= FaultBit[member.name]
            except KeyError:
                raise ValueError(
                    f"fault {member.name} has no bit in protocol v{PROTOCOL_VERSION}"
                ) from None
    return bits


def faults_from_wire(bits: FaultBit) -> Fault:
    """Wire fault bits to treadtwin fault flags, matched by name."""
    return _faults_from_wire(int(bits))


@functools.cache
def _faults_from_wire(bits: int) -> Fault:
    faults = Fault.NONE
    for member in FaultBit:
        if member.value & bits:
            faults |= Fault[member.name]
    return faults


# --- payloads --------------------------------------------------------------------------


class PayloadError(ValueError):
    """A payload field outside its encoding; ``field`` names it when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _round_half_away(x: float) -> int:
    """Nearest integer, ties away from zero (the rounding the spec fixes)."""
    n = math.floor(abs(x) + 0.5)
    return -n if x < 0 else n


def _to_wire(value: float, scale: float, lo: int, hi: int, what: str, unit: str) -> int:
    """Scale and round an SI value into an integer field, or raise ValueError."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    n = _round_half_away(value * scale)
    if not lo <= n <= hi:
        raise ValueError(
            f"{what}={value!r} does not fit the wire: {n} is outside {lo}..{hi} (unit {unit})"
        )
    return n


def _optional_to_wire(
    value: float | None, scale: float, lo: int, hi: int, unknown: int, what: str, unit: str
) -> int:
    """Like :func:`_to_wire`; ``None`` becomes the field's "not available" value."""
    if value is None:
        return unknown
    return _to_wire(value, scale, lo, hi, what, unit)


def _coerce_enum(obj: object, name: str, kind: type[enum.IntEnum]) -> None:
    value = getattr(obj, name)
    try:
        member = kind(value)
    except ValueError:
        raise PayloadError(f"{name}={value!r} is not a valid {kind.__name__}", name) from None
    object.__setattr__(obj, name, member)


@functools.cache
def _flag_mask(kind: type[enum.IntFlag]) -> int:
    allowed = 0
    for member in kind:
        allowed |= member.value
    return allowed


def _coerce_flags(obj: object, name: str, kind: type[enum.IntFlag]) -> None:
    value = getattr(obj, name)
    allowed = _flag_mask(kind)
    if not isinstance(value, int) or value & ~allowed:
        raise PayloadError(
            f"{name}={value!r} sets bits outside {kind.__name__} (mask 0x{allowed:x})", name
        )
    object.__setattr__(obj, name, kind(value))


@dataclass(frozen=True, slots=True)
class _Payload:
    """Base of the message payloads: fields in wire order, one struct code each."""

    MESSAGE_TYPE: ClassVar[MessageType]
    FORMAT: ClassVar[str]

    def __post_init__(self) -> None:
        for name, lo, hi in _field_ranges(type(self)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise PayloadError(
                    f"{type(self).__name__}.{name}={value!r} is not an integer in {lo}..{hi}",
                    name,
                )
        self._validate()

    def _validate(self) -> None:
        """Checks beyond the integer ranges; subclasses coerce enums here."""

    @classmethod
    def length(cls) -> int:
        """Payload length in bytes (fixed per message type in version 1)."""
        return struct.calcsize(cls.FORMAT)

    @classmethod
    def offset_of(cls, field_name: str) -> int:
        """Byte offset of a field within the payload."""
        for i, f in enumerate(fields(cls)):
            if f.name == field_name:
                return struct.calcsize("<" + cls.FORMAT[1 : i + 1])
        raise KeyError(field_name)

    def pack(self) -> bytes:
        """The payload bytes."""
        return struct.pack(self.FORMAT,
                           *(getattr(self, name) for name, _, _ in _field_ranges(type(self))))

    @classmethod
    def unpack(cls, payload: bytes) -> _Payload:
        """Parse a payload; raises :class:`PayloadError` if it is not valid."""
        if len(payload) != cls.length():
            raise PayloadError(
                f"{cls.__name__} payload is {cls.length()} bytes, got {len(payload)}"
            )
        return cls(*struct.unpack(cls.FORMAT, payload))


@functools.cache
def _field_ranges(cls: type[_Payload]) -> tuple[tuple[str, int, int], ...]:
    """Each field's name and integer range, in wire order (computed once per class)."""
    return tuple((f.name, *_INT_RANGES[code])
                 for f, code in zip(fields(cls), cls.FORMAT[1:], strict=True))


def _check_version_range(min_version: int, max_version: int) -> None:
    """A version range, as HELLO and HELLO_ACK carry it: 1 <= min <= max."""
    if min_version < 1:
        raise PayloadError(f"min_version must be >= 1, got {min_version}", "min_version")
    if max_version < min_version:
        raise PayloadError(f"max_version {max_version} is below min_version {min_version}",
                           "max_version")


@dataclass(frozen=True, slots=True)
class Hello(_Payload):
    """Host opens (or reopens) a session; the layout is frozen across versions."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.HELLO
    FORMAT: ClassVar[str] = "<BBIHH"

    min_version: int
    max_version: int
    session_id: int  # random, non-zero, new for every host connection
    watchdog_ms: int  # requested; 0 = adapter default
    telemetry_period_ms: int  # requested; 0 = adapter default

    def _validate(self) -> None:
        _check_version_range(self.min_version, self.max_version)
        if self.session_id == 0:
            raise PayloadError("session_id must be non-zero", "session_id")


@dataclass(frozen=True, slots=True)
class HelloAck(_Payload):
    """Adapter accepts a session: chosen version, settings in effect, machine limits."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.HELLO_ACK
    FORMAT: ClassVar[str] = "<BBBIHHHHhh"

    min_version: int
    max_version: int
    version: int  # the version both sides use from now on
    session_id: int  # echo of the HELLO's
    watchdog_ms: int  # in effect
    telemetry_period_ms: int  # in effect
    capabilities: Capability
    max_speed_kmh_x100: int
    min_incline_pct_x10: int
    max_incline_pct_x10: int

    def _validate(self) -> None:
        _check_version_range(self.min_version, self.max_version)
        if not self.min_version <= self.version <= self.max_version:
            raise PayloadError(
                f"version {self.version} is outside {self.min_version}..{self.max_version}",
                "version",
            )
        if self.session_id == 0:
            raise PayloadError("session_id must be non-zero", "session_id")
        _coerce_flags(self, "capabilities", Capability)
        if self.min_incline_pct_x10 > self.max_incline_pct_x10:
            raise PayloadError("min_incline_pct_x10 > max_incline_pct_x10", "min_incline_pct_x10")


@dataclass(frozen=True, slots=True)
class Heartbeat(_Payload):
    """Host is alive and the last command still stands (feeds the watchdog)."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.HEARTBEAT
    FORMAT: ClassVar[str] = "<I"

    host_time_ms: int  # host clock, wrapping; informational


@dataclass(frozen=True, slots=True)
class CommandPayload(_Payload):
    """COMMAND on the wire: FTMS units; :meth:`from_command`/:meth:`to_command` convert."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.COMMAND
    FORMAT: ClassVar[str] = "<HhBBHB"

    target_speed_kmh_x100: int
    target_incline_pct_x10: int
    direction: WireDirection
    mode: WireMode
    resistance_permille: int  # 0..1000 of the machine's brake range
    flags: CommandFlag

    def _validate(self) -> None:
        # The "not available" values (section 8.0) are no target: a host that sends one has
        # a bug, and the adapter refuses the frame (check 7) rather than clamp it.
        if self.target_speed_kmh_x100 == U16_UNKNOWN:
            raise PayloadError("target_speed_kmh_x100=0xFFFF is \"not available\", no target",
                               "target_speed_kmh_x100")
        if self.target_incline_pct_x10 == S16_UNKNOWN:
            raise PayloadError("target_incline_pct_x10=0x7FFF is \"not available\", no target",
                               "target_incline_pct_x10")
        _coerce_enum(self, "direction", WireDirection)
        _coerce_enum(self, "mode", WireMode)
        if self.resistance_permille > 1000:
            raise PayloadError(
                f"resistance_permille={self.resistance_permille} is above 1000",
                "resistance_permille",
            )
        _coerce_flags(self, "flags", CommandFlag)

    @classmethod
    def from_command(cls, command: Command) -> CommandPayload:
        """Quantise a :class:`Command` to the wire; ValueError if it does not fit."""
        speed_kmh = mps_to_kmh(command.belt_speed_mps)
        flags = CommandFlag(0)
        if command.emergency_stop:
            flags |= CommandFlag.EMERGENCY_STOP
        if command.reset:
            flags |= CommandFlag.RESET
        return cls(
            target_speed_kmh_x100=_to_wire(
                speed_kmh, 100.0, 0, U16_UNKNOWN - 1, "belt_speed_mps (as km/h)", "0.01 km/h"
            ),
            target_incline_pct_x10=_to_wire(
                command.incline_pct, 10.0, -0x8000, S16_UNKNOWN - 1, "incline_pct", "0.1 %"
            ),
            direction=WireDirection[BeltDirection(command.belt_direction).name],
            mode=_wire_mode(command.mode),
            resistance_permille=_to_wire(
                command.resistance_level, 1000.0, 0, 1000, "resistance_level", "0.001"
            ),
            flags=flags,
        )

    def to_command(self) -> Command:
        """The SI :class:`Command` this payload stands for."""
        return Command(
            belt_speed_mps=kmh_to_mps(self.target_speed_kmh_x100 / 100.0),
            incline_pct=self.target_incline_pct_x10 / 10.0,
            belt_direction=BeltDirection[self.direction.name],
            mode=DriveMode[self.mode.name],
            resistance_level=self.resistance_permille / 1000.0,
            emergency_stop=CommandFlag.EMERGENCY_STOP in self.flags,
            reset=CommandFlag.RESET in self.flags,
        )


def _wire_mode(mode: DriveMode) -> WireMode:
    try:
        return WireMode[DriveMode(mode).name]
    except KeyError:
        raise ValueError(f"drive mode {mode!r} has no code in protocol v1") from None


@dataclass(frozen=True, slots=True)
class TelemetryPayload(_Payload):
    """TELEMETRY on the wire; :meth:`from_telemetry`/:meth:`to_telemetry` convert."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.TELEMETRY
    FORMAT: ClassVar[str] = "<IHBBHIIhhHhBHHh"

    board_time_ms: int  # board clock at sampling, wrapping
    ack_seq: int  # last accepted host frame (valid if ACK_VALID), else 0
    status: StatusFlag
    direction: WireDirection
    speed_kmh_x100: int  # tach estimate, a magnitude
    tach_pulse_count: int  # wrapping
    tach_pulse_age_us: int  # time from last pulse to board_time_ms; 0xFFFFFFFF = none
    incline_pct_x10: int  # 0x7FFF = not available
    motor_current_a_x100: int  # signed (regeneration); 0x7FFF = not available
    bus_voltage_v_x10: int  # 0xFFFF = not available
    motor_temp_c_x10: int  # 0x7FFF = not available
    key: KeyState
    faults: FaultBit
    walker_distance_mm: int  # 0xFFFF = not available
    deck_force_n: int  # 0x7FFF = not available

    def _validate(self) -> None:
        _coerce_flags(self, "status", StatusFlag)
        _coerce_enum(self, "direction", WireDirection)
        _coerce_enum(self, "key", KeyState)
        _coerce_flags(self, "faults", FaultBit)
        if StatusFlag.ACK_VALID not in self.status and self.ack_seq != 0:
            raise PayloadError("ack_seq must be 0 unless ACK_VALID is set", "ack_seq")

    @classmethod
    def from_telemetry(
        cls, telemetry: Telemetry, *, ack_seq: int | None = None
    ) -> TelemetryPayload:
        """Quantise :class:`Telemetry` to the wire; ValueError if it does not fit.

        ``ack_seq`` is the sequence number of the last host frame the adapter
        accepted, or ``None`` before it has accepted any.
        """
        t = telemetry
        board_time_ms = _to_wire(t.t_s, 1000.0, 0, 0xFFFFFFFF, "t_s", "1 ms")
        status = StatusFlag.DRIVE_ENABLED if t.drive_enabled else StatusFlag(0)
        if t.belt_coasting:
            status |= StatusFlag.COASTING
        if ack_seq is not None:
            if isinstance(ack_seq, bool) or not 0 <= ack_seq < SEQ_MODULUS:
                raise ValueError(f"ack_seq must be in 0..65535, got {ack_seq!r}")
            status |= StatusFlag.ACK_VALID
        try:
            pulses = operator.index(t.tach_pulse_count)  # numpy integers too
        except TypeError:
            pulses = -1
        if isinstance(t.tach_pulse_count, bool) or not 0 <= pulses <= 0xFFFFFFFF:
            raise ValueError(
                f"tach_pulse_count must be an integer in 0..2**32-1, got {t.tach_pulse_count!r}"
            )
        if t.key_present is None:
            key = KeyState.UNKNOWN
        else:
            key = KeyState.PRESENT if t.key_present else KeyState.OUT
        return cls(
            board_time_ms=board_time_ms,
            ack_seq=0 if ack_seq is None else ack_seq,
            status=status,
            direction=WireDirection[BeltDirection(t.belt_direction).name],
            speed_kmh_x100=_to_wire(
                mps_to_kmh(t.belt_speed_mps), 100.0, 0, 0xFFFF,
                "belt_speed_mps (as km/h)", "0.01 km/h",
            ),
            tach_pulse_count=pulses,
            tach_pulse_age_us=_pulse_age_us(board_time_ms, t.t_s, t.tach_last_pulse_t_s),
            incline_pct_x10=_optional_to_wire(
                t.incline_pct, 10.0, -0x8000, S16_UNKNOWN - 1, S16_UNKNOWN, "incline_pct", "0.1 %"
            ),
            motor_current_a_x100=_optional_to_wire(
                t.motor_current_a, 100.0, -0x8000, S16_UNKNOWN - 1, S16_UNKNOWN,
                "motor_current_a", "0.01 A",
            ),
            bus_voltage_v_x10=_optional_to_wire(
                t.bus_voltage_v, 10.0, 0, U16_UNKNOWN - 1, U16_UNKNOWN, "bus_voltage_v", "0.1 V"
            ),
            motor_temp_c_x10=_optional_to_wire(
                t.motor_temp_c, 10.0, -0x8000, S16_UNKNOWN - 1, S16_UNKNOWN,
                "motor_temp_c", "0.1 C",
            ),
            key=key,
            faults=faults_to_wire(t.faults),
            walker_distance_mm=_optional_to_wire(
                t.walker_distance_m, 1000.0, 0, U16_UNKNOWN - 1, U16_UNKNOWN,
                "walker_distance_m", "1 mm",
            ),
            deck_force_n=_optional_to_wire(
                t.deck_force_n, 1.0, -0x8000, S16_UNKNOWN - 1, S16_UNKNOWN, "deck_force_n", "1 N"
            ),
        )

    def to_telemetry(self) -> Telemetry:
        """The SI :class:`Telemetry` this payload stands for (board clock, not unwrapped)."""
        t_s = self.board_time_ms / 1000.0
        if self.tach_pulse_age_us == U32_UNKNOWN:
            last_pulse_t_s = None
        else:
            last_pulse_t_s = (self.board_time_ms * 1000 - self.tach_pulse_age_us) / 1e6
        key_present = {KeyState.PRESENT: True, KeyState.OUT: False}.get(self.key)
        return Telemetry(
            t_s=t_s,
            belt_speed_mps=kmh_to_mps(self.speed_kmh_x100 / 100.0),
            belt_direction=BeltDirection[self.direction.name],
            tach_pulse_count=self.tach_pulse_count,
            tach_last_pulse_t_s=last_pulse_t_s,
            incline_pct=_from_wire(self.incline_pct_x10, 10.0, S16_UNKNOWN),
            motor_current_a=_from_wire(self.motor_current_a_x100, 100.0, S16_UNKNOWN),
            bus_voltage_v=_from_wire(self.bus_voltage_v_x10, 10.0, U16_UNKNOWN),
            key_present=key_present,
            drive_enabled=StatusFlag.DRIVE_ENABLED in self.status,
            faults=faults_from_wire(self.faults),
            belt_coasting=StatusFlag.COASTING in self.status,
            motor_temp_c=_from_wire(self.motor_temp_c_x10, 10.0, S16_UNKNOWN),
            walker_distance_m=_from_wire(self.walker_distance_mm, 1000.0, U16_UNKNOWN),
            deck_force_n=_from_wire(self.deck_force_n, 1.0, S16_UNKNOWN),
        )


def _from_wire(value: int, scale: float, unknown: int) -> float | None:
    return None if value == unknown else value / scale


def _pulse_age_us(board_time_ms: int, t_s: float, last_pulse_t_s: float | None) -> int:
    """Age of the last tach pulse at the (rounded) report time, in µs.

    A pulse inside the report time's rounding reads as age 0; older than the
    field can hold saturates at 0xFFFFFFFE ("at least that old").
    """
    if last_pulse_t_s is None:
        return U32_UNKNOWN
    if not math.isfinite(last_pulse_t_s):
        raise ValueError(f"tach_last_pulse_t_s must be finite or None, got {last_pulse_t_s!r}")
    if last_pulse_t_s > t_s:
        raise ValueError(
            f"tach_last_pulse_t_s={last_pulse_t_s!r} is after the report time t_s={t_s!r}"
        )
    age_us = _round_half_away(board_time_ms * 1000.0 - last_pulse_t_s * 1e6)
    return min(max(age_us, 0), U32_UNKNOWN - 1)


@dataclass(frozen=True, slots=True)
class Stopped(_Payload):
    """The adapter stopped the belt, or saw it stopped; sent once per stop."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.STOPPED
    FORMAT: ClassVar[str] = "<IBHH"

    board_time_ms: int
    reason: StopReason
    faults: FaultBit  # latched faults when the stop began
    speed_kmh_x100: int  # belt speed when the stop began

    def _validate(self) -> None:
        _coerce_enum(self, "reason", StopReason)
        _coerce_flags(self, "faults", FaultBit)


@dataclass(frozen=True, slots=True)
class Nack(_Payload):
    """The adapter refused a frame or a command; the layout is frozen across versions."""

    MESSAGE_TYPE: ClassVar[MessageType] = MessageType.NACK
    FORMAT: ClassVar[str] = "<BBHH"

    code: NackCode
    ref_type: int  # type byte of the refused frame
    ref_seq: int  # sequence number of the refused frame
    detail: int  # meaning depends on the code

    def _validate(self) -> None:
        _coerce_enum(self, "code", NackCode)


Body = Hello | HelloAck | Heartbeat | CommandPayload | TelemetryPayload | Stopped | Nack

_BODY_BY_TYPE: dict[int, type[_Payload]] = {
    cls.MESSAGE_TYPE.value: cls
    for cls in (Hello, HelloAck, Heartbeat, CommandPayload, TelemetryPayload, Stopped, Nack)
}


@dataclass(frozen=True, slots=True)
class Message:
    """One accepted frame: header fields and the parsed payload."""

    version: int
    seq: int
    body: Body

    @property
    def msg_type(self) -> MessageType:
        """The message type, from the payload's class."""
        return self.body.MESSAGE_TYPE


# --- encoding --------------------------------------------------------------------------


def slip_escape(raw: bytes) -> bytes:
    """SLIP-escape bytes (no delimiters): 0xDB -> DB DD first, then 0xC0 -> DB DC."""
    return raw.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")


def slip_unescape(chunk: bytes) -> bytes | None:
    """Undo :func:`slip_escape`; ``None`` if an escape is invalid or cut off."""
    if ESC not in chunk:
        return chunk
    out = bytearray()
    start = 0
    while True:
        i = chunk.find(ESC, start)
        if i < 0:
            out += chunk[start:]
            return bytes(out)
        out += chunk[start:i]
        if i + 1 >= len(chunk):
            return None
        code = chunk[i + 1]
        if code == ESC_END:
            out.append(END)
        elif code == ESC_ESC:
            out.append(ESC)
        else:
            return None
        start = i + 2


def _check_u(value: int, bits: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be an integer in 0..{(1 << bits) - 1}, got {value!r}")


def encode_frame(
    msg_type: int, seq: int, payload: bytes, *, version: int = PROTOCOL_VERSION
) -> bytes:
    """A complete wire frame: END, escaped header + payload + CRC, END.

    Takes any type byte and version so tests and future versions can build
    frames this version would refuse.
    """
    _check_u(version, 8, "version")
    _check_u(msg_type, 8, "msg_type")
    _check_u(seq, 16, "seq")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes, at most {MAX_PAYLOAD_BYTES}")
    raw = _HEADER.pack(version, msg_type, seq, len(payload)) + bytes(payload)
    raw += _CRC.pack(crc16_ccitt_false(raw))
    return bytes((END,)) + slip_escape(raw) + bytes((END,))


def encode(body: Body, seq: int) -> bytes:
    """The wire frame for any message payload."""
    return encode_frame(body.MESSAGE_TYPE, seq, body.pack())


def encode_command(command: Command, seq: int) -> bytes:
    """The COMMAND frame for an SI :class:`Command`."""
    return encode(CommandPayload.from_command(command), seq)


def encode_telemetry(telemetry: Telemetry, seq: int, *, ack_seq: int | None = None) -> bytes:
    """The TELEMETRY frame for SI :class:`Telemetry` (see ``TelemetryPayload.from_telemetry``)."""
    return encode(TelemetryPayload.from_telemetry(telemetry, ack_seq=ack_seq), seq)


# --- decoding --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecodeCounts:
    """How many frames a decoder accepted and dropped, by kind."""

    accepted: int = 0
    framing: int = 0
    crc: int = 0
    version: int = 0
    length: int = 0
    unknown_type: int = 0
    payload: int = 0
    stale: int = 0

    @property
    def rejected(self) -> int:
        """All dropped frames."""
        return (self.framing + self.crc + self.version + self.length + self.unknown_type
                + self.payload + self.stale)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A dropped frame. Header fields are ``None`` unless the CRC was good."""

    kind: RejectKind
    reason: str
    version: int | None = None
    msg_type: int | None = None
    seq: int | None = None
    detail: int = 0

    def nack(self) -> Nack | None:
        """The NACK an adapter answers with, or ``None`` (corrupt frames get none)."""
        code = _NACK_FOR_KIND.get(self.kind)
        if code is None or self.msg_type is None or self.seq is None:
            return None
        return Nack(code=code, ref_type=self.msg_type, ref_seq=self.seq, detail=self.detail)


_NACK_FOR_KIND = {
    RejectKind.VERSION: NackCode.UNSUPPORTED_VERSION,
    RejectKind.LENGTH: NackCode.BAD_LENGTH,
    RejectKind.UNKNOWN_TYPE: NackCode.UNKNOWN_TYPE,
    RejectKind.PAYLOAD: NackCode.INVALID_PARAMETER,
    RejectKind.STALE: NackCode.STALE_SEQUENCE,
}


class FrameDecoder:
    """Streaming decoder for one direction of the link.

    Built for the side it runs on: an adapter's decoder accepts only
    host-sent types and vice versa (so an echoing line is caught). ``feed``
    takes any chunking of the byte stream and returns the messages completed
    by it. Every non-empty run of bytes between delimiters is either accepted
    or counted once as rejected; nothing raises.
    """

    def __init__(self, side: Side, *, max_rejections: int = 32) -> None:
        if max_rejections < 0:
            raise ValueError(f"max_rejections must be >= 0, got {max_rejections!r}")
        self.side = Side(side)
        self._accepts = frozenset(t.value for t in MessageType if t.sender is not self.side)
        self._pending = bytearray()
        self._overflow = False
        self._accepted = 0
        self._rejected = dict.fromkeys(RejectKind, 0)
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._last_seq: int | None = None
        self._session_id: int | None = None

    @property
    def counts(self) -> DecodeCounts:
        """A snapshot of the counters."""
        return DecodeCounts(
            accepted=self._accepted, **{k.value: n for k, n in self._rejected.items()}
        )

    @property
    def last_seq(self) -> int | None:
        """Sequence number of the last accepted frame, ``None`` before the first."""
        return self._last_seq

    @property
    def session_id(self) -> int | None:
        """Session id of the last accepted HELLO or HELLO_ACK."""
        return self._session_id

    def pop_rejections(self) -> list[Rejection]:
        """The most recent rejections (bounded), oldest first; clears the list."""
        out = list(self._rejections)
        self._rejections.clear()
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Take more bytes; return the messages they complete, in order."""
        data = bytes(data)
        messages: list[Message] = []
        start = 0
        while True:
            end = data.find(END, start)
            if end < 0:
                self._buffer(data[start:])
                return messages
            self._buffer(data[start:end])
            chunk, overflow = bytes(self._pending), self._overflow
            self._pending.clear()
            self._overflow = False
            if overflow:
                self._reject(RejectKind.FRAMING, "longer than any frame")
            elif chunk:
                message = self._decode(chunk)
                if message is not None:
                    messages.append(message)
            start = end + 1

    def _buffer(self, part: bytes) -> None:
        if self._overflow or not part:
            return
        if len(self._pending) + len(part) > MAX_ESCAPED_FRAME_BYTES:
            self._pending.clear()
            self._overflow = True  # drop everything up to the next END
        else:
            self._pending += part

    def _reject(self, kind: RejectKind, reason: str, header: tuple[int, int, int] | None = None,
                detail: int = 0) -> None:
        self._rejected[kind] += 1
        version, msg_type, seq = header if header is not None else (None, None, None)
        self._rejections.append(Rejection(kind, reason, version, msg_type, seq, detail))

    def _decode(self, chunk: bytes) -> Message | None:
        raw = slip_unescape(chunk)
        if raw is None:
            self._reject(RejectKind.FRAMING, "invalid SLIP escape")
            return None
        if len(raw) < MIN_FRAME_BYTES:
            self._reject(RejectKind.FRAMING, f"runt of {len(raw)} bytes")
            return None
        if len(raw) > MAX_FRAME_BYTES:
            self._reject(RejectKind.FRAMING, f"{len(raw)} bytes, longer than any frame")
            return None
        body_end = len(raw) - CRC_BYTES
        (crc,) = _CRC.unpack_from(raw, body_end)
        if crc != crc16_ccitt_false(raw[:body_end]):
            self._reject(RejectKind.CRC, "CRC mismatch")
            return None
        version, msg_type, seq, length = _HEADER.unpack_from(raw)
        header = (version, msg_type, seq)
        payload = raw[HEADER_BYTES:body_end]
        if version != PROTOCOL_VERSION:
            self._reject(RejectKind.VERSION, f"version {version}", header,
                         MIN_PROTOCOL_VERSION | PROTOCOL_VERSION << 8)
            return None
        if length != len(payload):
            self._reject(RejectKind.LENGTH,
                         f"length field {length}, {len(payload)} payload bytes", header)
            return None
        cls = _BODY_BY_TYPE.get(msg_type)
        if cls is None or msg_type not in self._accepts:
            self._reject(RejectKind.UNKNOWN_TYPE, f"type 0x{msg_type:02x}", header)
            return None
        if length != cls.length():
            self._reject(RejectKind.LENGTH,
                         f"{cls.__name__} is {cls.length()} bytes, got {length}", header,
                         cls.length())
            return None
        try:
            body = cls.unpack(payload)
        except PayloadError as error:
            offset = cls.offset_of(error.field) if error.field is not None else 0
            self._reject(RejectKind.PAYLOAD, str(error), header, offset)
            return None
        if not self._sequence_ok(seq, body):
            self._reject(RejectKind.STALE, f"seq {seq} not newer than {self._last_seq}", header,
                         self._last_seq if self._last_seq is not None else 0)
            return None
        self._accepted += 1
        return Message(version, seq, body)

    def _sequence_ok(self, seq: int, body: _Payload) -> bool:
        """Apply the sequence rules; update the state if the frame is accepted."""
        opens_session = isinstance(body, Hello | HelloAck)
        new_session = opens_session and body.session_id != self._session_id
        if not (self._last_seq is None or new_session or seq_is_newer(seq, self._last_seq)):
            return False
        self._last_seq = seq
        if opens_session:
            self._session_id = body.session_id
        return True
