"""A host written from docs/protocol.md alone: its own SLIP, CRC-16/CCITT-FALSE and packing.

Nothing here uses treadtwin's codec, so the tests that drive the emulator through
it check the emulator against the document, not the codec against itself.
"""

from __future__ import annotations

import os
import select
import struct
import time

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
HELLO, HEARTBEAT, COMMAND = 0x01, 0x02, 0x03
HELLO_ACK, TELEMETRY, STOPPED, NACK = 0x81, 0x82, 0x83, 0x84
KEY_OUT_BIT, STOP_BUTTON_BIT = 0x0001, 0x0002
EMERGENCY_STOP_FLAG, RESET_FLAG = 0x01, 0x02
MODE_NORMAL, MODE_RESISTANCE, MODE_STOP = 0, 1, 2
DRIVE_ENABLED_BIT, COASTING_BIT = 0x01, 0x04
NACK_CODES = {0x02: "UNKNOWN_TYPE", 0x03: "INVALID_PARAMETER", 0x04: "OPERATION_FAILED",
              0x05: "NOT_PERMITTED", 0x41: "UNSUPPORTED_VERSION", 0x42: "BAD_LENGTH",
              0x43: "NO_SESSION", 0x44: "STALE_SEQUENCE"}
STOP_REASONS = {0x02: "USER", 0x03: "SAFETY_KEY", 0x40: "HOST_STOP", 0x41: "HOST_EMERGENCY",
                0x42: "WATCHDOG", 0x43: "OVERCURRENT", 0x44: "OVERVOLTAGE", 0x45: "OVERTEMP",
                0x46: "INCLINE_STALL", 0x47: "NEW_SESSION"}


def crc16_ccitt_false(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def frame(message_type: int, seq: int, payload: bytes) -> bytes:
    """One SLIP-framed version-1 frame, both ENDs included."""
    raw = bytes([1, message_type]) + struct.pack("<HB", seq, len(payload)) + payload
    raw += struct.pack("<H", crc16_ccitt_false(raw))
    stuffed = bytearray([END])
    for byte in raw:
        stuffed += bytes([ESC, ESC_END]) if byte == END else (
            bytes([ESC, ESC_ESC]) if byte == ESC else bytes([byte]))
    stuffed.append(END)
    return bytes(stuffed)


def command_payload(speed_kmh_x100: int, incline_pct_x10: int = 0, direction: int = 0,
                    mode: int = MODE_NORMAL, resistance_permille: int = 0,
                    flags: int = 0) -> bytes:
    return struct.pack("<HhBBHB", speed_kmh_x100, incline_pct_x10, direction, mode,
                       resistance_permille, flags)


class Client:
    """A host from the spec: frames out; decoded HELLO_ACK, TELEMETRY, STOPPED, NACK in."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.seq = 0
        self.buffer = bytearray()
        self.hello_ack: dict | None = None
        self.telemetry: list[dict] = []
        self.stopped: list[dict] = []
        self.nacks: list[dict] = []

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message_type: int, payload: bytes) -> bytes:
        """Send one frame with the next sequence number; return its bytes (for replays)."""
        self.seq = (self.seq + 1) & 0xFFFF
        data = frame(message_type, self.seq, payload)
        os.write(self.fd, data)
        return data

    def hello(self, session_id: int, watchdog_ms: int = 1000) -> None:
        self.send(HELLO, struct.pack("<BBIHH", 1, 1, session_id, watchdog_ms, 20))

    def command(self, speed_mps: float, reset: bool = False, estop: bool = False,
                mode: int = MODE_NORMAL) -> None:
        flags = (RESET_FLAG if reset else 0) | (EMERGENCY_STOP_FLAG if estop else 0)
        self.send(COMMAND, command_payload(round(speed_mps * 360), 0, 0, mode, 0, flags))

    def pump(self, seconds: float, keep_alive_mps: float | None = None) -> None:
        """Read for this long, feeding the watchdog with a COMMAND every 50 ms."""
        end = time.monotonic() + seconds
        next_feed = time.monotonic()
        while time.monotonic() < end:
            if keep_alive_mps is not None and time.monotonic() >= next_feed:
                self.command(keep_alive_mps)
                next_feed += 0.05
            ready, _, _ = select.select([self.fd], [], [], 0.01)
            if ready:
                try:
                    self.buffer += os.read(self.fd, 4096)
                except BlockingIOError:
                    pass
            self._frames()

    def _frames(self) -> None:
        while END in self.buffer:
            raw, _, rest = bytes(self.buffer).partition(bytes([END]))
            self.buffer = bytearray(rest)
            if not raw:
                continue
            data = raw.replace(bytes([ESC, ESC_END]), bytes([END])).replace(
                bytes([ESC, ESC_ESC]), bytes([ESC]))
            if len(data) < 7:
                continue
            body, crc = data[:-2], struct.unpack("<H", data[-2:])[0]
            if crc16_ccitt_false(body) != crc:
                continue
            kind, payload = body[1], body[5:]
            if kind == TELEMETRY:
                status, = struct.unpack_from("<B", payload, 6)
                speed, = struct.unpack_from("<H", payload, 8)
                incline, = struct.unpack_from("<h", payload, 18)
                key, faults = struct.unpack_from("<BH", payload, 26)
                self.telemetry.append({
                    "t_s": struct.unpack_from("<I", payload, 0)[0] / 1000.0,
                    "speed_mps": speed / 360.0, "incline_pct": incline / 10.0, "key": key,
                    "faults": faults, "drive_enabled": bool(status & DRIVE_ENABLED_BIT),
                    "coasting": bool(status & COASTING_BIT)})
            elif kind == STOPPED:
                self.stopped.append({"reason": STOP_REASONS.get(payload[4], hex(payload[4]))})
            elif kind == NACK:
                code, ref_type, ref_seq, detail = struct.unpack("<BBHH", payload)
                self.nacks.append({"code": NACK_CODES.get(code, hex(code)),
                                   "ref_type": ref_type, "ref_seq": ref_seq, "detail": detail})
            elif kind == HELLO_ACK:
                max_speed, min_incline, max_incline = struct.unpack_from("<Hhh", payload, 13)
                self.hello_ack = {"max_speed_kmh_x100": max_speed,
                                  "min_incline_pct_x10": min_incline,
                                  "max_incline_pct_x10": max_incline,
                                  "capabilities": struct.unpack_from("<H", payload, 11)[0]}


def heartbeat_payload(host_time_ms: int = 0) -> bytes:
    return struct.pack("<I", host_time_ms & 0xFFFFFFFF)
