"""The host <-> adapter wire protocol: round trips, the spec's test vectors, and fuzzing.

Round trips hold within the FTMS quantisation: speed 0.005 km/h (half of
0.01 km/h), incline 0.05 %, resistance 0.0005 of range, current 0.005 A,
voltage 0.05 V, temperature 0.05 C, distance 0.5 mm, force 0.5 N, board time
0.5 ms; the last tach pulse keeps 1 µs relative to the reported board time.
"""

from __future__ import annotations

import enum
import re
import struct
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadtwin.controllers import protocol as p
from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Fault, Telemetry
from treadtwin.controllers.units import kmh_to_mps

DOC = Path(__file__).parents[1] / "docs" / "protocol.md"
FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow])

SPEED_TOL_MPS = kmh_to_mps(0.005) + 1e-12


# --- helpers ---------------------------------------------------------------------------


def _fmt(value: object) -> str:
    """How the spec's test vectors print a payload field."""
    if isinstance(value, enum.IntFlag):
        names = [m.name for m in type(value) if m.value and m in value]
        return "|".join(names) if names else "0"
    if isinstance(value, enum.IntEnum):
        return value.name
    return str(value)


def payload_fields(body: p.Body) -> str:
    return " ".join(f"{f.name}={_fmt(getattr(body, f.name))}" for f in fields(body))


def header_fields(frame: bytes) -> str:
    raw = p.slip_unescape(frame[1:-1])
    version, msg_type, seq, length = struct.unpack_from("<BBHB", raw)
    return f"version={version} type=0x{msg_type:02x} seq={seq} length={length}"


def decoder_for(sender: p.Side) -> p.FrameDecoder:
    return p.FrameDecoder(p.Side.ADAPTER if sender is p.Side.HOST else p.Side.HOST)


def bitwise_crc16_ccitt_false(data: bytes) -> int:
    """Reference CRC, bit by bit from the definition (test only)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def heartbeat(seq: int) -> bytes:
    return p.encode(p.Heartbeat(host_time_ms=seq), seq)


def segments(stream: bytes) -> int:
    """Non-empty runs of bytes between delimiters (the last one closed by an END)."""
    return sum(1 for part in stream.split(bytes((p.END,)))[:-1] if part)


# --- test vectors (printed into docs/protocol.md, read back from there) -------------------

SESSION = 0x12345678
TV03_COMMAND = Command(belt_speed_mps=1.0, incline_pct=5.0)


def _flip(frame: bytes, index: int, bit: int) -> bytes:
    out = bytearray(frame)
    out[index] ^= 1 << bit
    return bytes(out)


_TV02_BODY = p.HelloAck(1, 1, 1, SESSION, 250, 20,
                        p.Capability.REVERSE | p.Capability.INCLINE | p.Capability.MOTOR_CURRENT
                        | p.Capability.BUS_VOLTAGE | p.Capability.MOTOR_TEMP
                        | p.Capability.KEY_SENSE, 2000, -30, 150)
_TV02_FRAME = p.encode(_TV02_BODY, 0)
# TV-08's payload with status DRIVE_ENABLED alone (ACK_VALID clear) and ack_seq still 5
_TV08_WITHOUT_ACK_VALID = struct.pack(p.TelemetryPayload.FORMAT, 12345, 5, 0x01, 0, 360, 100,
                                      45000, 50, 321, 1800, 405, 0x01, 0, 850, 0x7FFF)


@dataclass(frozen=True)
class Vector:
    """One test vector: how to build its frame and what a receiver makes of it."""

    name: str
    title: str
    sender: p.Side
    frame: bytes
    means: str
    body: p.Body | None = None  # expected payload if accepted
    rejected: p.RejectKind | None = None
    after: str | None = None  # the vectors the receiver saw just before, comma-separated


VECTORS = [
    Vector("TV-01", "HELLO", p.Side.HOST,
           p.encode(p.Hello(1, 1, SESSION, 250, 20), 0),
           "host speaks v1 only, opens session 0x12345678, asks for a 250 ms watchdog "
           "and telemetry every 20 ms",
           body=p.Hello(1, 1, SESSION, 250, 20)),
    Vector("TV-02", "HELLO_ACK", p.Side.ADAPTER,
           _TV02_FRAME,
           "adapter speaks v1 only, uses v1, accepts session 0x12345678 with a 250 ms "
           "watchdog and 20 ms telemetry; reverse, incline lift, current, voltage, "
           "temperature and key sensing; 0 to 20.00 km/h, -3.0 % to 15.0 %",
           body=_TV02_BODY),
    Vector("TV-03", "COMMAND", p.Side.HOST,
           p.encode_command(TV03_COMMAND, 1),
           "3.60 km/h (1.000 m/s) forward at 5.0 % incline, normal mode",
           body=p.CommandPayload(360, 50, p.WireDirection.FORWARD, p.WireMode.NORMAL, 0,
                                 p.CommandFlag(0))),
    Vector("TV-04", "COMMAND", p.Side.HOST,
           p.encode_command(Command(belt_speed_mps=kmh_to_mps(1.92), incline_pct=0.0,
                                    belt_direction=BeltDirection.REVERSE, reset=True), 2),
           "1.92 km/h reverse, level, normal mode, reset latched stops; the speed's low "
           "byte 0xC0 goes on the wire escaped as DB DC",
           body=p.CommandPayload(192, 0, p.WireDirection.REVERSE, p.WireMode.NORMAL, 0,
                                 p.CommandFlag.RESET)),
    Vector("TV-05", "COMMAND", p.Side.HOST,
           p.encode_command(Command(mode=DriveMode.RESISTANCE, resistance_level=0.219), 3),
           "resistance mode (manual-treadmill emulation) at 21.9 % of the brake range; "
           "the resistance's low byte 0xDB goes on the wire escaped as DB DD",
           body=p.CommandPayload(0, 0, p.WireDirection.FORWARD, p.WireMode.RESISTANCE, 219,
                                 p.CommandFlag(0))),
    Vector("TV-06", "COMMAND", p.Side.HOST,
           p.encode_command(Command(mode=DriveMode.STOP, emergency_stop=True), 4),
           "emergency stop",
           body=p.CommandPayload(0, 0, p.WireDirection.FORWARD, p.WireMode.STOP, 0,
                                 p.CommandFlag.EMERGENCY_STOP)),
    Vector("TV-07", "HEARTBEAT", p.Side.HOST,
           p.encode(p.Heartbeat(123456), 5),
           "host alive at host time 123.456 s; the last command stands",
           body=p.Heartbeat(123456)),
    Vector("TV-08", "TELEMETRY", p.Side.ADAPTER,
           p.encode_telemetry(Telemetry(
               t_s=12.345, belt_speed_mps=1.0, belt_direction=BeltDirection.FORWARD,
               tach_pulse_count=100, tach_last_pulse_t_s=12.3, incline_pct=5.0,
               motor_current_a=3.21, bus_voltage_v=180.0, key_present=True, drive_enabled=True,
               faults=Fault.NONE, motor_temp_c=40.5, walker_distance_m=0.85,
               deck_force_n=None), 1, ack_seq=5),
           "board time 12.345 s, has accepted host frame 5, drive enabled, 3.60 km/h "
           "forward, 100 pulses, the last 45.000 ms ago (at 12.300 s), 5.0 %, 3.21 A, "
           "180.0 V, 40.5 C, key present, no faults, walker 0.850 m from the console, "
           "no force deck",
           body=p.TelemetryPayload(12345, 5, p.StatusFlag(3), p.WireDirection.FORWARD, 360, 100,
                                   45000, 50, 321, 1800, 405, p.KeyState.PRESENT,
                                   p.FaultBit(0), 850, p.S16_UNKNOWN)),
    Vector("TV-09", "TELEMETRY", p.Side.ADAPTER,
           p.encode_telemetry(Telemetry(
               t_s=60.0, belt_speed_mps=kmh_to_mps(0.72), belt_direction=BeltDirection.FORWARD,
               tach_pulse_count=70000, tach_last_pulse_t_s=None, incline_pct=None,
               motor_current_a=-1.5, bus_voltage_v=None, key_present=False,
               drive_enabled=False, faults=Fault.KEY_OUT, motor_temp_c=None), 2),
           "board time 60.000 s, no host frame accepted yet, drive disabled, 0.72 km/h "
           "forward (coasting), 70000 pulses, no pulse time, incline unknown, -1.50 A "
           "(regenerating), voltage, temperature, distance and force unknown, key out, "
           "fault KEY_OUT",
           body=p.TelemetryPayload(60000, 0, p.StatusFlag(0), p.WireDirection.FORWARD, 72,
                                   70000, p.U32_UNKNOWN, p.S16_UNKNOWN, -150, p.U16_UNKNOWN,
                                   p.S16_UNKNOWN, p.KeyState.OUT, p.FaultBit.KEY_OUT,
                                   p.U16_UNKNOWN, p.S16_UNKNOWN)),
    Vector("TV-10", "STOPPED", p.Side.ADAPTER,
           p.encode(p.Stopped(59800, p.StopReason.SAFETY_KEY, p.FaultBit.KEY_OUT, 540), 3),
           "stopped by safety key (FTMS status 0x03) at board time 59.800 s, "
           "from 5.40 km/h",
           body=p.Stopped(59800, p.StopReason.SAFETY_KEY, p.FaultBit.KEY_OUT, 540)),
    Vector("TV-11", "STOPPED", p.Side.ADAPTER,
           p.encode(p.Stopped(75250, p.StopReason.WATCHDOG, p.FaultBit.COMMS, 360), 4),
           "watchdog: no valid COMMAND or HEARTBEAT for the watchdog time; controlled stop "
           "from 3.60 km/h at board time 75.250 s, fault COMMS latched",
           body=p.Stopped(75250, p.StopReason.WATCHDOG, p.FaultBit.COMMS, 360)),
    Vector("TV-12", "NACK", p.Side.ADAPTER,
           p.encode(p.Nack(p.NackCode.UNSUPPORTED_VERSION, 0x03, 9, 0x0101), 5),
           "refused the COMMAND with sequence 9 (TV-14): unsupported version; the adapter "
           "speaks versions 1 to 1",
           body=p.Nack(p.NackCode.UNSUPPORTED_VERSION, 0x03, 9, 0x0101)),
    Vector("TV-13", "COMMAND, one bit flipped", p.Side.HOST,
           _flip(p.encode_command(TV03_COMMAND, 1), 6, 0),
           "TV-03 with bit 0 of payload byte 0 flipped (68 -> 69): dropped, counted as crc",
           rejected=p.RejectKind.CRC),
    Vector("TV-14", "COMMAND in version 2", p.Side.HOST,
           p.encode_frame(0x03, 9, p.CommandPayload.from_command(TV03_COMMAND).pack(),
                          version=2),
           "TV-03's payload in a version 2 frame with a good CRC: dropped, counted as version; "
           "an adapter answers with TV-12",
           rejected=p.RejectKind.VERSION),
    Vector("TV-15", "COMMAND replayed", p.Side.HOST,
           p.encode_command(TV03_COMMAND, 1),
           "TV-03 again, received right after TV-03: sequence 1 is not newer than 1, "
           "dropped, counted as stale",
           rejected=p.RejectKind.STALE, after="TV-03"),
    Vector("TV-16", "COMMAND with a bad field", p.Side.HOST,
           p.encode_frame(0x03, 10, struct.pack("<HhBBHB", 360, 50, 2, 0, 0, 0)),
           "direction byte 2 is not a direction: dropped, counted as payload; an adapter "
           "answers NACK INVALID_PARAMETER with detail 4 (the field's offset)",
           rejected=p.RejectKind.PAYLOAD),
    Vector("TV-17", "COMMAND with a \"not available\" speed", p.Side.HOST,
           p.encode_frame(0x03, 11, struct.pack("<HhBBHB", 0xFFFF, 50, 0, 0, 0, 0)),
           "speed 0xFFFF is \"not available\", no target: dropped, counted as payload; an "
           "adapter answers NACK INVALID_PARAMETER with detail 0 and the previous command "
           "stays in force",
           rejected=p.RejectKind.PAYLOAD),
    Vector("TV-18", "COMMAND with a \"not available\" incline", p.Side.HOST,
           p.encode_frame(0x03, 12, struct.pack("<HhBBHB", 360, 0x7FFF, 0, 0, 0, 0)),
           "incline 0x7FFF is \"not available\", no target: dropped, counted as payload; an "
           "adapter answers NACK INVALID_PARAMETER with detail 2",
           rejected=p.RejectKind.PAYLOAD),
    Vector("TV-19", "COMMAND above the machine's top speed", p.Side.HOST,
           p.encode_command(Command(belt_speed_mps=kmh_to_mps(20.01)), 1),
           "20.01 km/h forward, level: a valid frame, but the TV-02 machine tops out at "
           "20.00 km/h; its adapter refuses it with TV-20 and the previous command stays in "
           "force",
           body=p.CommandPayload(2001, 0, p.WireDirection.FORWARD, p.WireMode.NORMAL, 0,
                                 p.CommandFlag(0))),
    Vector("TV-20", "NACK", p.Side.ADAPTER,
           p.encode(p.Nack(p.NackCode.INVALID_PARAMETER, 0x03, 1, 0), 2),
           "refused the COMMAND with sequence 1 (TV-19): the field at offset 0, the speed, is "
           "outside the machine's range",
           body=p.Nack(p.NackCode.INVALID_PARAMETER, 0x03, 1, 0)),
    Vector("TV-21", "NACK", p.Side.ADAPTER,
           p.encode(p.Nack(p.NackCode.NOT_PERMITTED, 0x03, 13, 0x0002), 7),
           "refused the COMMAND with sequence 13: it asked for motion while STOP_BUTTON is "
           "latched (a host emergency stop) and did not set RESET",
           body=p.Nack(p.NackCode.NOT_PERMITTED, 0x03, 13, 0x0002)),
    Vector("TV-22", "TELEMETRY", p.Side.ADAPTER,
           p.encode_telemetry(Telemetry(
               t_s=80.0, belt_speed_mps=kmh_to_mps(3.0), belt_direction=BeltDirection.FORWARD,
               tach_pulse_count=5000, tach_last_pulse_t_s=79.7, incline_pct=0.0,
               motor_current_a=0.0, bus_voltage_v=170.0, key_present=True,
               drive_enabled=False, faults=Fault.COMMS, motor_temp_c=31.0,
               belt_coasting=True), 8, ack_seq=40),
           "board time 80.000 s, has accepted host frame 40, drive cut and the belt coasting "
           "at 3.00 km/h after a watchdog stop (fault COMMS): nothing but friction slows it",
           body=p.TelemetryPayload(80000, 40, p.StatusFlag(6), p.WireDirection.FORWARD, 300,
                                   5000, 300000, 0, 0, 1700, 310, p.KeyState.PRESENT,
                                   p.FaultBit.COMMS, p.U16_UNKNOWN, p.S16_UNKNOWN)),
    Vector("TV-23", "HELLO in header version 2", p.Side.HOST,
           p.encode_frame(0x01, 0, p.Hello(1, 2, SESSION, 250, 20).pack(), version=2),
           "a host that speaks versions 1 and 2 wrote its HELLO in version 2: HELLO, "
           "HELLO_ACK and NACK are always written in version 1, so it is dropped, counted "
           "as version; an adapter answers NACK UNSUPPORTED_VERSION with detail 257",
           rejected=p.RejectKind.VERSION),
    Vector("TV-24", "HELLO offering versions 1 to 2", p.Side.HOST,
           p.encode(p.Hello(1, 2, SESSION, 250, 20), 0),
           "the same host done right: header version 1, its range 1..2 in the payload; a "
           "version-1 adapter answers HELLO_ACK with version=1",
           body=p.Hello(1, 2, SESSION, 250, 20)),
    Vector("TV-25", "TELEMETRY with an ack_seq but no ACK_VALID", p.Side.ADAPTER,
           p.encode_frame(0x82, 1, _TV08_WITHOUT_ACK_VALID),
           "TV-08 with status DRIVE_ENABLED only while ack_seq is 5: ack_seq must be 0 "
           "unless ACK_VALID is set, so it is dropped, counted as payload (offset 4)",
           rejected=p.RejectKind.PAYLOAD),
    Vector("TV-26", "NACK before any session", p.Side.ADAPTER,
           p.encode(p.Nack(p.NackCode.NO_SESSION, 0x03, 1, 0), 5),
           "refused the COMMAND with sequence 1: no session is open",
           body=p.Nack(p.NackCode.NO_SESSION, 0x03, 1, 0)),
    Vector("TV-27", "HELLO_ACK after a NACK", p.Side.ADAPTER,
           _TV02_FRAME,
           "TV-02 (sequence 0) right after TV-26 (sequence 5): 0 is not newer than 5, but "
           "this receiver has accepted no HELLO_ACK yet, so any session_id is new "
           "(section 6, rule 2) and the frame is accepted",
           body=_TV02_BODY, after="TV-26"),
    Vector("TV-28", "COMMAND replayed twice", p.Side.HOST,
           p.encode_command(TV03_COMMAND, 1),
           "TV-03 a third time: dropped, counted as stale like TV-15; an adapter that "
           "answered TV-15 with NACK STALE_SEQUENCE less than one telemetry period ago "
           "sends no NACK for this one, but counts it",
           rejected=p.RejectKind.STALE, after="TV-03, TV-15"),
    Vector("TV-29", "HELLO_ACK with max_version below min_version", p.Side.ADAPTER,
           p.encode_frame(0x81, 0, struct.pack(p.HelloAck.FORMAT, 2, 1, 1, SESSION, 250, 20,
                                               0, 2000, 0, 150)),
           "versions 2..1 is no range: dropped, counted as payload (offset 1), as for HELLO",
           rejected=p.RejectKind.PAYLOAD),
]
_BY_NAME = {v.name: v for v in VECTORS}


def render_vector(v: Vector) -> str:
    """The vector as the spec prints it (used to write docs/protocol.md)."""
    arrow = "host -> adapter" if v.sender is p.Side.HOST else "adapter -> host"
    entries = [("frame", v.frame.hex(" "))]
    if v.after:
        entries.append(("after", v.after))
    if v.body is not None:
        entries += [("header", header_fields(v.frame)), ("payload", payload_fields(v.body))]
    else:
        entries.append(("result", f"rejected {v.rejected.value}"))
    entries.append(("means", v.means))
    lines = [f"{v.name}  {v.title}  ({arrow})"]
    for key, value in entries:
        lines.append(textwrap.fill(value, width=84, initial_indent=f"{key + ':':<9}",
                                   subsequent_indent=" " * 9, break_long_words=False,
                                   break_on_hyphens=False))
    return "\n".join(lines)


def parse_doc_vectors(text: str) -> dict[str, dict[str, str]]:
    """Every ```text block in the spec that starts with a vector name, as key -> value."""
    found: dict[str, dict[str, str]] = {}
    for block in re.findall(r"```text\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        head = re.match(r"(TV-\d\d)\s", lines[0])
        if not head:
            continue
        entry: dict[str, str] = {}
        key = None
        for line in lines[1:]:
            if line.startswith(" ") and key is not None:
                entry[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            entry[key] = value.strip()
        found[head.group(1)] = entry
    return found


def _after(v: Vector) -> list[str]:
    """The vectors the receiver saw before ``v``, in order."""
    return [name.strip() for name in v.after.split(",")] if v.after else []


def _decode_vector(v: Vector) -> tuple[list[p.Message], p.FrameDecoder]:
    decoder = decoder_for(v.sender)
    for name in _after(v):
        decoder.feed(_BY_NAME[name].frame)
    before = decoder.counts
    messages = decoder.feed(v.frame)
    counts = decoder.counts
    return messages, p.DecodeCounts(**{
        f.name: getattr(counts, f.name) - getattr(before, f.name) for f in fields(counts)})


# --- CRC, framing basics ---------------------------------------------------------------


def test_crc_is_ccitt_false():
    assert p.crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value
    assert p.crc16_ccitt_false(b"") == 0xFFFF


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_crc_matches_the_bitwise_definition(data):
    assert p.crc16_ccitt_false(data) == bitwise_crc16_ccitt_false(data)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_slip_escape_round_trips_and_hides_delimiters(data):
    escaped = p.slip_escape(data)
    assert p.END not in escaped
    assert p.slip_unescape(escaped) == data


def test_frame_layout_is_as_specified():
    frame = p.encode_frame(0x03, 0x1234, b"\x01\x02")
    assert frame[0] == frame[-1] == p.END
    raw = p.slip_unescape(frame[1:-1])
    assert raw[:5] == bytes([1, 0x03, 0x34, 0x12, 2])  # version, type, seq LE, length
    assert raw[5:7] == b"\x01\x02"
    assert raw[7:] == p.crc16_ccitt_false(raw[:7]).to_bytes(2, "little")


def test_payload_lengths_fit_the_frame_and_are_fixed():
    lengths = {cls.MESSAGE_TYPE: cls.length() for cls in p._BODY_BY_TYPE.values()}
    assert lengths == {
        p.MessageType.HELLO: 10, p.MessageType.HEARTBEAT: 4, p.MessageType.COMMAND: 9,
        p.MessageType.HELLO_ACK: 19, p.MessageType.TELEMETRY: 33, p.MessageType.STOPPED: 9,
        p.MessageType.NACK: 6,
    }


# --- the spec's test vectors -----------------------------------------------------------


def test_spec_lists_every_vector_exactly_as_the_codec_writes_it():
    doc = parse_doc_vectors(DOC.read_text(encoding="utf-8"))
    assert sorted(doc) == sorted(_BY_NAME)
    assert sum(v.body is not None for v in VECTORS) >= 8
    for v in VECTORS:
        entry = doc[v.name]
        assert bytes.fromhex(entry["frame"]) == v.frame, v.name
        if v.body is not None:
            assert entry["header"] == header_fields(v.frame), v.name
            assert entry["payload"] == payload_fields(v.body), v.name
        else:
            assert entry["result"] == f"rejected {v.rejected.value}", v.name
        assert entry.get("after") == v.after, v.name


_WIRE_TYPES = {"u8": "B", "u16": "H", "u32": "I", "s16": "h"}


def test_spec_payload_tables_match_the_codec():
    text = DOC.read_text(encoding="utf-8")
    for cls in p._BODY_BY_TYPE.values():
        name = cls.MESSAGE_TYPE.name
        section = re.search(
            rf"^### 8\.\d {name} \(`0x{cls.MESSAGE_TYPE.value:02x}`, [^,]+, (\d+) bytes"
            rf"(.*?)(?=^#)", text, flags=re.S | re.M)
        assert section, name
        assert int(section.group(1)) == cls.length(), name
        rows = re.findall(r"^\| (\d+) \| (u8|u16|u32|s16) \| `(\w+)` \|", section.group(2),
                          flags=re.M)
        assert [(int(o), _WIRE_TYPES[t], f) for o, t, f in rows] == [
            (cls.offset_of(f.name), code, f.name)
            for f, code in zip(fields(cls), cls.FORMAT[1:], strict=True)], name


def test_spec_code_tables_match_the_codec():
    text = DOC.read_text(encoding="utf-8")
    byte_rows = set(re.findall(r"^\| `0x([0-9a-f]{2})` \| (\w+) \|", text, flags=re.M))
    bit_rows = set(re.findall(r"^\| \d+ \| `0x([0-9a-f]{4})` \| (\w+) \|", text, flags=re.M))
    byte_codes = {(f"{m.value:02x}", m.name) for e in (p.StopReason, p.NackCode) for m in e}
    byte_codes |= {(f"{m.value:02x}", m.name) for m in p.MessageType}
    bit_codes = {(f"{m.value:04x}", m.name) for e in (p.FaultBit, p.Capability) for m in e}
    assert byte_rows == byte_codes
    assert bit_rows == bit_codes


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector_decodes_to_its_stated_meaning(vector):
    messages, counts = _decode_vector(vector)
    if vector.body is not None:
        assert counts == p.DecodeCounts(accepted=1)
        assert [m.body for m in messages] == [vector.body]
        assert p.encode(messages[0].body, messages[0].seq) == vector.frame
    else:
        assert messages == []
        assert counts.accepted == 0 and counts.rejected == 1
        assert getattr(counts, vector.rejected.value) == 1


def test_vector_conversions_to_si():
    command = p.FrameDecoder(p.Side.ADAPTER).feed(_BY_NAME["TV-03"].frame)[0].body.to_command()
    assert command == TV03_COMMAND
    telemetry = p.FrameDecoder(p.Side.HOST).feed(_BY_NAME["TV-08"].frame)[0].body.to_telemetry()
    assert telemetry.t_s == 12.345 and telemetry.tach_last_pulse_t_s == pytest.approx(12.3)
    assert telemetry.deck_force_n is None and telemetry.walker_distance_m == 0.85
    telemetry = p.FrameDecoder(p.Side.HOST).feed(_BY_NAME["TV-09"].frame)[0].body.to_telemetry()
    assert telemetry.key_present is False and telemetry.faults == Fault.KEY_OUT
    assert telemetry.motor_current_a == -1.5 and telemetry.incline_pct is None


def test_vector_rejections_give_the_stated_nacks():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    decoder.feed(_BY_NAME["TV-14"].frame)
    (rejection,) = decoder.pop_rejections()
    assert p.encode(rejection.nack(), 5) == _BY_NAME["TV-12"].frame
    decoder.feed(_BY_NAME["TV-16"].frame)
    (rejection,) = decoder.pop_rejections()
    assert rejection.nack() == p.Nack(p.NackCode.INVALID_PARAMETER, 0x03, 10, 4)
    decoder.feed(_BY_NAME["TV-13"].frame)
    (rejection,) = decoder.pop_rejections()
    assert rejection.kind is p.RejectKind.CRC and rejection.nack() is None
    for name, seq, offset in (("TV-17", 11, 0), ("TV-18", 12, 2)):
        decoder.feed(_BY_NAME[name].frame)
        (rejection,) = decoder.pop_rejections()
        assert rejection.nack() == p.Nack(p.NackCode.INVALID_PARAMETER, 0x03, seq, offset)


def test_vector_rejections_of_the_implementers_section_name_their_fields():
    adapter = p.FrameDecoder(p.Side.ADAPTER)
    adapter.feed(_BY_NAME["TV-23"].frame)
    (rejection,) = adapter.pop_rejections()
    assert rejection.nack() == p.Nack(p.NackCode.UNSUPPORTED_VERSION, 0x01, 0, 0x0101)
    for name, offset in (("TV-25", 4), ("TV-29", 1)):
        host = p.FrameDecoder(p.Side.HOST)
        host.feed(_BY_NAME[name].frame)
        (rejection,) = host.pop_rejections()
        assert (rejection.kind, rejection.detail) == (p.RejectKind.PAYLOAD, offset), name


def _adapter_board():
    from treadtwin.controllers.mock import MockTreadmill
    from treadtwin.emulator.adapter_board import AdapterBoard, MachineLimits

    ack = _BY_NAME["TV-02"].body
    board = AdapterBoard(MachineLimits(
        capabilities=p.Capability(ack.capabilities), max_speed_mps=kmh_to_mps(20.0),
        min_incline_pct=-3.0, max_incline_pct=15.0))
    return board, MockTreadmill()


def _answers(board, frame: bytes, t_s: float, motor) -> list[p.Body]:
    return [m.body for m in p.FrameDecoder(p.Side.HOST).feed(
        board.on_bytes(frame, t_s, motor.read()))]


def test_an_adapter_answers_tv24_in_version_1_and_tv23_not_at_all():
    board, motor = _adapter_board()
    assert _answers(board, _BY_NAME["TV-23"].frame, 0.0, motor) == [
        p.Nack(p.NackCode.UNSUPPORTED_VERSION, 0x01, 0, 0x0101)]
    assert board.session_id is None
    ack = _answers(board, _BY_NAME["TV-24"].frame, 0.0, motor)[0]
    assert (ack.min_version, ack.max_version, ack.version) == (1, 1, 1)


def test_an_adapter_nacks_tv15_but_not_tv28_inside_one_telemetry_period():
    board, motor = _adapter_board()
    _answers(board, _BY_NAME["TV-01"].frame, 0.0, motor)
    _answers(board, _BY_NAME["TV-03"].frame, 0.001, motor)
    stale_nack = p.Nack(p.NackCode.STALE_SEQUENCE, 0x03, 1, 1)
    assert _answers(board, _BY_NAME["TV-15"].frame, 0.002, motor) == [stale_nack]
    assert _answers(board, _BY_NAME["TV-28"].frame, 0.002 + 0.019, motor) == []
    assert board.decoder.counts.stale == 2  # the silent one is counted all the same
    assert _answers(board, _BY_NAME["TV-28"].frame, 0.002 + 0.020, motor) == [stale_nack]


def test_an_adapter_for_the_tv02_machine_answers_tv19_with_tv20():
    board, motor = _adapter_board()
    board.on_bytes(_BY_NAME["TV-01"].frame, 0.0, motor.read())  # HELLO_ACK seq 0, TELEMETRY 1
    out = board.on_bytes(_BY_NAME["TV-19"].frame, 0.01, motor.read())
    assert out.startswith(_BY_NAME["TV-20"].frame)  # then the TELEMETRY that answers it
    rest = p.FrameDecoder(p.Side.HOST).feed(out[len(_BY_NAME["TV-20"].frame):])
    assert [(type(m.body), m.body.ack_seq) for m in rest] == [(p.TelemetryPayload, 1)]
    assert board.drive_command.mode is DriveMode.STOP  # the session's STOP stood


# --- round trips -----------------------------------------------------------------------

commands = st.builds(
    Command,
    belt_speed_mps=st.floats(0.0, 180.0),
    incline_pct=st.floats(-3000.0, 3000.0),
    belt_direction=st.sampled_from(BeltDirection),
    mode=st.sampled_from(DriveMode),
    resistance_level=st.floats(0.0, 1.0),
    emergency_stop=st.booleans(),
    reset=st.booleans(),
)
seqs = st.integers(0, 0xFFFF)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(commands, seqs)
def test_command_round_trip_within_quantisation(command, seq):
    frame = p.encode_command(command, seq)
    (message,) = p.FrameDecoder(p.Side.ADAPTER).feed(frame)
    back = message.body.to_command()
    assert message.seq == seq and message.msg_type is p.MessageType.COMMAND
    assert abs(back.belt_speed_mps - command.belt_speed_mps) <= SPEED_TOL_MPS
    assert abs(back.incline_pct - command.incline_pct) <= 0.05 + 1e-9
    assert abs(back.resistance_level - command.resistance_level) <= 0.0005 + 1e-12
    assert (back.belt_direction, back.mode, back.emergency_stop, back.reset) == (
        command.belt_direction, command.mode, command.emergency_stop, command.reset)
    assert p.encode_command(back, seq) == frame  # quantising twice changes nothing


def _maybe(strategy):
    return st.none() | strategy


@st.composite
def telemetries(draw):
    t_s = draw(st.floats(0.0, 4.0e6))
    age_s = draw(st.floats(0.0, 4000.0))
    return Telemetry(
        t_s=t_s,
        belt_speed_mps=draw(st.floats(0.0, 180.0)),
        belt_direction=draw(st.sampled_from(BeltDirection)),
        tach_pulse_count=draw(st.integers(0, 0xFFFFFFFF)),
        tach_last_pulse_t_s=draw(st.none() | st.just(t_s - age_s)),
        incline_pct=draw(_maybe(st.floats(-3000.0, 3000.0))),
        motor_current_a=draw(_maybe(st.floats(-300.0, 300.0))),
        bus_voltage_v=draw(_maybe(st.floats(0.0, 6000.0))),
        key_present=draw(st.sampled_from([True, False, None])),
        drive_enabled=draw(st.booleans()),
        faults=Fault(draw(st.integers(0, 0x7F))),
        motor_temp_c=draw(_maybe(st.floats(-200.0, 3000.0))),
        walker_distance_m=draw(_maybe(st.floats(0.0, 60.0))),
        deck_force_n=draw(_maybe(st.floats(-30000.0, 30000.0))),
    )


def _close(a: float | None, b: float | None, tol: float) -> bool:
    return (a is None) == (b is None) and (a is None or abs(a - b) <= tol)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(telemetries(), seqs, st.none() | seqs)
def test_telemetry_round_trip_within_quantisation(telemetry, seq, ack_seq):
    frame = p.encode_telemetry(telemetry, seq, ack_seq=ack_seq)
    (message,) = p.FrameDecoder(p.Side.HOST).feed(frame)
    body = message.body
    back = body.to_telemetry()
    assert (p.StatusFlag.ACK_VALID in body.status) == (ack_seq is not None)
    assert body.ack_seq == (0 if ack_seq is None else ack_seq)
    assert abs(back.t_s - telemetry.t_s) <= 0.0005 + 1e-9
    assert abs(back.belt_speed_mps - telemetry.belt_speed_mps) <= SPEED_TOL_MPS
    assert back.belt_direction == telemetry.belt_direction
    assert back.tach_pulse_count == telemetry.tach_pulse_count
    if telemetry.tach_last_pulse_t_s is None:
        assert back.tach_last_pulse_t_s is None
    elif telemetry.tach_last_pulse_t_s <= back.t_s:  # older than the rounded report time
        assert abs(back.tach_last_pulse_t_s - telemetry.tach_last_pulse_t_s) <= 0.5e-6 + 1e-8
    else:  # inside the report time's rounding: reads as "just now"
        assert back.tach_last_pulse_t_s == back.t_s
    assert _close(back.incline_pct, telemetry.incline_pct, 0.05 + 1e-9)
    assert _close(back.motor_current_a, telemetry.motor_current_a, 0.005 + 1e-9)
    assert _close(back.bus_voltage_v, telemetry.bus_voltage_v, 0.05 + 1e-9)
    assert _close(back.motor_temp_c, telemetry.motor_temp_c, 0.05 + 1e-9)
    assert _close(back.walker_distance_m, telemetry.walker_distance_m, 0.0005 + 1e-12)
    assert _close(back.deck_force_n, telemetry.deck_force_n, 0.5 + 1e-9)
    assert back.key_present == telemetry.key_present
    assert back.drive_enabled == telemetry.drive_enabled
    assert back.faults == telemetry.faults
    assert p.encode_telemetry(back, seq, ack_seq=ack_seq) == frame


def test_fault_bits_cover_every_fault_and_stop_reasons_follow_ftms():
    for fault in Fault:
        if fault.value:
            assert p.faults_from_wire(p.faults_to_wire(fault)) == fault
            assert isinstance(p.stop_reason_for_fault(fault), p.StopReason)
    assert p.stop_reason_for_fault(Fault.KEY_OUT) == 0x03  # FTMS "Stopped by Safety Key"
    assert p.stop_reason_for_fault(Fault.STOP_BUTTON) == 0x02  # FTMS "Stopped by the User"
    with pytest.raises(ValueError, match="exactly one"):
        p.stop_reason_for_fault(Fault.KEY_OUT | Fault.COMMS)


# --- what the wire cannot carry --------------------------------------------------------

_T = Telemetry(t_s=1.0, belt_speed_mps=1.0, belt_direction=BeltDirection.FORWARD,
               tach_pulse_count=0, tach_last_pulse_t_s=None, incline_pct=0.0,
               motor_current_a=0.0, bus_voltage_v=0.0, key_present=True, drive_enabled=True)


@pytest.mark.parametrize("command, match", [
    (Command(belt_speed_mps=kmh_to_mps(655.36)), "belt_speed_mps"),
    (Command(incline_pct=3276.8), "incline_pct"),
    (Command(incline_pct=-3276.9), "incline_pct"),
])
def test_unrepresentable_commands_raise(command, match):
    with pytest.raises(ValueError, match=match):
        p.encode_command(command, 0)


@pytest.mark.parametrize("changes, match", [
    ({"t_s": -0.001}, "t_s"),
    ({"t_s": 4294967.296}, "t_s"),
    ({"t_s": float("nan")}, "t_s"),
    ({"belt_speed_mps": -0.1}, "belt_speed_mps"),
    ({"belt_speed_mps": float("inf")}, "belt_speed_mps"),
    ({"tach_pulse_count": -1}, "tach_pulse_count"),
    ({"tach_pulse_count": 2**32}, "tach_pulse_count"),
    ({"tach_last_pulse_t_s": 1.5}, "after the report time"),
    ({"incline_pct": 3276.7}, "incline_pct"),  # would be the "not available" value
    ({"motor_current_a": 327.67}, "motor_current_a"),
    ({"bus_voltage_v": -0.1}, "bus_voltage_v"),
    ({"bus_voltage_v": 6553.5}, "bus_voltage_v"),
    ({"motor_temp_c": float("nan")}, "motor_temp_c"),
    ({"walker_distance_m": 65.535}, "walker_distance_m"),
    ({"deck_force_n": 32767.0}, "deck_force_n"),
])
def test_unrepresentable_telemetry_raises(changes, match):
    with pytest.raises(ValueError, match=match):
        p.encode_telemetry(_T._replace(**changes), 0)


@pytest.mark.parametrize("call", [
    lambda: p.encode_command(Command(), 65536),
    lambda: p.encode_command(Command(), -1),
    lambda: p.encode_telemetry(_T, 0, ack_seq=70000),
    lambda: p.encode_frame(0x03, 0, bytes(256)),
    lambda: p.encode_frame(0x100, 0, b""),
    lambda: p.encode_frame(0x03, 0, b"", version=256),
    lambda: p.Hello(2, 1, SESSION, 0, 0),
    lambda: p.Hello(1, 1, 0, 0, 0),
    lambda: p.CommandPayload(0, 0, 0, 3, 0, 0),
    lambda: p.CommandPayload(0, 0, 0, 0, 1001, 0),
    lambda: p.CommandPayload(0, 0, 0, 0, 0, 0x04),
    lambda: p.CommandPayload(65536, 0, 0, 0, 0, 0),
    lambda: p.Nack(0x99, 0, 0, 0),
    lambda: p.Stopped(0, 0x01, 0, 0),
])
def test_invalid_values_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# --- decoder robustness ----------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(p.Side))
def test_random_bytes_never_crash_and_every_frame_is_counted(data, side):
    decoder = p.FrameDecoder(side)
    stream = data + bytes((p.END,))
    messages = decoder.feed(stream)
    counts = decoder.counts
    assert counts.accepted == len(messages)
    assert counts.accepted + counts.rejected == segments(stream)


@st.composite
def valid_frames(draw, sender=p.Side.HOST):
    """A valid frame of any type the sender may send, with any sequence number."""
    seq = draw(seqs)
    if sender is p.Side.HOST:
        body = draw(st.one_of(
            st.builds(p.CommandPayload.from_command, commands),
            st.builds(p.Heartbeat, st.integers(0, 0xFFFFFFFF)),
            st.builds(p.Hello, st.just(1), st.integers(1, 255),
                      st.integers(1, 0xFFFFFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
        ))
    else:
        body = draw(st.builds(p.TelemetryPayload.from_telemetry, telemetries()))
    return p.encode(body, seq)


@FUZZ
@given(st.lists(valid_frames() | st.binary(max_size=40), max_size=12), st.data())
def test_any_chunking_gives_the_same_messages_and_counts(parts, data):
    stream = b"".join(parts) + bytes((p.END,))
    whole = p.FrameDecoder(p.Side.ADAPTER)
    expected = whole.feed(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunked = p.FrameDecoder(p.Side.ADAPTER)
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += chunked.feed(stream[start:end])
    assert got == expected
    assert chunked.counts == whole.counts
    assert whole.counts.accepted + whole.counts.rejected == segments(stream)


@FUZZ
@given(st.integers(0, 0xFF), st.integers(0, 0xFF), seqs, st.binary(max_size=80),
       st.sampled_from(p.Side))
def test_frames_with_a_good_crc_but_any_content_are_accepted_only_if_canonical(
        version, msg_type, seq, payload, side):
    frame = p.encode_frame(msg_type, seq, payload, version=version)
    decoder = p.FrameDecoder(side)
    messages = decoder.feed(frame)
    assert decoder.counts.accepted + decoder.counts.rejected == 1
    for message in messages:  # only what an encoder would write byte for byte
        assert p.encode(message.body, message.seq) == frame
        assert message.msg_type.sender is not side


def _flipped_frames(frame: bytes):
    for index in range(len(frame)):
        for bit in range(8):
            yield index, bit, _flip(frame, index, bit)


@FEW
@given(commands, seqs)
def test_every_single_bit_flip_of_a_command_is_rejected_and_counted(command, seq):
    frame = p.encode_command(command, seq)
    follow = heartbeat((seq + 1) % p.SEQ_MODULUS)
    for index, bit, bad in _flipped_frames(frame):
        decoder = p.FrameDecoder(p.Side.ADAPTER)
        messages = decoder.feed(bad + follow)
        assert [m.msg_type for m in messages] == [p.MessageType.HEARTBEAT], (index, bit)
        assert decoder.counts.rejected >= 1, (index, bit)
        assert decoder.counts.accepted + decoder.counts.rejected == segments(bad + follow)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(telemetries(), seqs)
def test_every_single_bit_flip_of_telemetry_is_rejected_and_counted(telemetry, seq):
    frame = p.encode_telemetry(telemetry, seq)
    follow = p.encode(p.Nack(p.NackCode.NO_SESSION, 3, 0, 0), (seq + 1) % p.SEQ_MODULUS)
    for index, bit, bad in _flipped_frames(frame):
        decoder = p.FrameDecoder(p.Side.HOST)
        messages = decoder.feed(bad + follow)
        assert [m.msg_type for m in messages] == [p.MessageType.NACK], (index, bit)
        assert decoder.counts.rejected >= 1, (index, bit)


@FEW
@given(commands, seqs)
def test_truncated_frames_are_rejected_and_the_next_frame_survives(command, seq):
    frame = p.encode_command(command, seq)
    follow = heartbeat((seq + 1) % p.SEQ_MODULUS)
    for cut in range(2, len(frame) - 1):  # at least one byte of content, some missing
        decoder = p.FrameDecoder(p.Side.ADAPTER)
        messages = decoder.feed(frame[:cut] + follow)
        assert [m.msg_type for m in messages] == [p.MessageType.HEARTBEAT], cut
        assert decoder.counts.rejected == 1, cut
    decoder = p.FrameDecoder(p.Side.ADAPTER)  # only the closing END lost: the next frame's
    assert len(decoder.feed(frame[:-1] + follow)) == 2  # opening END still closes it


@FUZZ
@given(seqs, st.integers(1, 30), st.data())
def test_replayed_frames_are_dropped_and_counted(start, n, data):
    frames = [heartbeat((start + i) % p.SEQ_MODULUS) for i in range(n)]
    replays = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=10))
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    first = decoder.feed(b"".join(frames))
    again = decoder.feed(b"".join(frames[i] for i in replays))
    assert [m.seq for m in first] == [(start + i) % p.SEQ_MODULUS for i in range(n)]
    assert again == []
    assert decoder.counts == p.DecodeCounts(accepted=n, stale=len(replays))


@FUZZ
@given(seqs, st.permutations(range(12)))
def test_reordered_frames_keep_only_those_newer_than_all_before(start, order):
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    got = decoder.feed(b"".join(heartbeat((start + i) % p.SEQ_MODULUS) for i in order))
    newest = -1
    expected = []
    for i in order:
        if i > newest:
            expected.append((start + i) % p.SEQ_MODULUS)
            newest = i
    assert [m.seq for m in got] == expected
    assert decoder.counts == p.DecodeCounts(accepted=len(expected), stale=12 - len(expected))


def test_sequence_wraps_and_the_window_is_half_the_space():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    assert [m.seq for m in decoder.feed(b"".join(heartbeat(s) for s in (65534, 65535, 0, 1)))] \
        == [65534, 65535, 0, 1]
    assert decoder.feed(heartbeat(1 + 32767)) != []  # 32767 ahead: newer
    assert decoder.feed(heartbeat(0)) == []  # 32768 ahead of 32768: not newer
    assert decoder.counts.stale == 1
    assert p.seq_is_newer(0, 65535) and not p.seq_is_newer(65535, 0)
    assert p.next_seq(65535) == 0


def test_a_new_session_resets_the_sequence_but_a_replayed_hello_does_not():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    hello = p.encode(p.Hello(1, 1, SESSION, 0, 0), 500)
    assert len(decoder.feed(hello + heartbeat(501))) == 2
    assert decoder.feed(hello) == []  # same session, old sequence: a replay
    restarted = p.encode(p.Hello(1, 1, SESSION + 1, 0, 0), 0)  # host restarted from 0
    assert len(decoder.feed(restarted + heartbeat(1))) == 2
    assert decoder.session_id == SESSION + 1 and decoder.last_seq == 1
    assert decoder.counts == p.DecodeCounts(accepted=4, stale=1)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version_is_dropped_counted_and_nacked(version):
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    frame = p.encode_frame(0x03, 7, p.CommandPayload.from_command(Command()).pack(),
                           version=version)
    assert decoder.feed(frame) == []
    assert decoder.counts == p.DecodeCounts(version=1)
    (rejection,) = decoder.pop_rejections()
    assert rejection.nack() == p.Nack(p.NackCode.UNSUPPORTED_VERSION, 0x03, 7, 0x0101)


def test_oversized_and_inconsistent_lengths_are_dropped_and_counted():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    assert decoder.feed(p.encode_frame(0x03, 1, bytes(200))) == []  # longer than COMMAND
    raw = struct.pack("<BBHB", 1, 0x03, 2, 255) + bytes(9)  # length field says 255, 9 follow
    raw += p.crc16_ccitt_false(raw).to_bytes(2, "little")
    assert decoder.feed(bytes((p.END,)) + p.slip_escape(raw) + bytes((p.END,))) == []
    assert decoder.feed(p.encode_frame(0x03, 3, bytes(8))) == []  # one byte short
    assert decoder.counts == p.DecodeCounts(length=3)
    assert [r.detail for r in decoder.pop_rejections()] == [9, 0, 9]


def test_a_stream_without_delimiters_costs_one_framing_error_and_bounded_memory():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    for _ in range(100):
        assert decoder.feed(bytes(range(1, 0xC0)) * 4) == []
    assert len(decoder._pending) <= p.MAX_ESCAPED_FRAME_BYTES
    messages = decoder.feed(heartbeat(1))
    assert [m.seq for m in messages] == [1]
    assert decoder.counts == p.DecodeCounts(accepted=1, framing=1)


def test_unknown_types_and_the_wrong_direction_are_dropped_and_counted():
    adapter = p.FrameDecoder(p.Side.ADAPTER)
    assert adapter.feed(p.encode_frame(0x7E, 1, b"")) == []
    assert adapter.feed(p.encode_telemetry(_T, 2)) == []  # an echo of the adapter's own frame
    assert adapter.counts == p.DecodeCounts(unknown_type=2)
    host = p.FrameDecoder(p.Side.HOST)
    assert host.feed(p.encode_command(Command(), 1)) == []
    assert host.counts == p.DecodeCounts(unknown_type=1)


def test_framing_errors_runts_and_bad_escapes_are_counted_but_idle_delimiters_are_not():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    end = bytes((p.END,))
    assert decoder.feed(end * 5) == []
    assert decoder.counts == p.DecodeCounts()
    assert decoder.feed(end + b"\x01\x02\x03" + end) == []  # runt
    needless = b"\xdb" + p.encode_command(Command(), 1)[1:]  # DB 01: the version byte escaped
    assert decoder.feed(end + needless) == []  # though dropping the DB would leave a good frame
    assert decoder.feed(end + b"\x01\x02\x03\x04\x05\x06\xdb" + end) == []  # escape cut off
    assert decoder.counts == p.DecodeCounts(framing=3)


def test_payload_errors_are_counted_with_the_fields_offset():
    decoder = p.FrameDecoder(p.Side.ADAPTER)
    bad = [
        struct.pack("<HhBBHB", 0, 0, 0, 3, 0, 0),  # mode 3
        struct.pack("<HhBBHB", 0, 0, 0, 0, 1001, 0),  # resistance above 1000
        struct.pack("<HhBBHB", 0, 0, 0, 0, 0, 0x80),  # reserved flag bit
    ]
    for seq, payload in enumerate(bad):
        assert decoder.feed(p.encode_frame(0x03, seq, payload)) == []
    assert decoder.counts == p.DecodeCounts(payload=3)
    assert [r.nack().detail for r in decoder.pop_rejections()] == [5, 6, 8]
    # a bad frame does not move the sequence: the next good one is still new
    assert len(decoder.feed(p.encode_command(Command(), 0))) == 1


def test_rejections_are_bounded():
    decoder = p.FrameDecoder(p.Side.ADAPTER, max_rejections=4)
    decoder.feed(bytes((p.END, 1, p.END)) * 10)
    assert len(decoder.pop_rejections()) == 4
    assert decoder.pop_rejections() == []
    assert decoder.counts.framing == 10
