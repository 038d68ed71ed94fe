"""A Woodway or Trackmaster console's serial firmware, answering for the twin.

The board speaks one of the lab profiles of
:mod:`treadtwin.controllers.lab_protocols` (sources are cited there) so that
lab software, such as the ``pywoodway`` and ``trackmaster`` client
libraries, drives the twin unchanged. It answers every request with exactly
one reply (clients such as ``pywoodway`` read without a timeout and would
block forever on a missing byte): the acknowledgement, the status response
and its data, or an error code. Nothing raises on bad bytes: a byte that
starts no request of the profile is answered ``0xBF`` and counted, a
request with bad or out-of-range data is answered ``0xBE`` and counted, and
an incomplete command is dropped (without a reply) once no byte has come
for ``inter_byte_gap_s`` of board time.

The board keeps the treadmill's set speed (mph, as the console does),
elevation and belt state and turns them into :attr:`drive_command`: NORMAL
at the set speed, direction and elevation while the belt is started, STOP
while it is stopped. A direction change (Woodway) goes through a stop: the
drive is held at zero in the old direction until the reported belt speed
is zero, then turned.

Watchdog (CDS on Trackmaster, master timeout on Woodway): while the belt
was started with ``0xA0``, a gap of more than ``watchdog_s`` between
well-formed requests stops it like an auto stop (speed to minimum, belt
stopped, elevation to zero). It is checked in :meth:`on_tick` and before
bytes are handled in :meth:`on_bytes`, so its resolution is the tick
period. [U] On Woodway the first complete request after such a stop is
answered ``0xBD`` (master timeout) instead of its own reply and is not
executed; any later request is handled normally. It is one reply byte, so
a client waiting for one byte never hangs (a client waiting for status data
gets the ``0xBD`` where it expected the status code and gives up).

[U] Trackmaster's "transmit acknowledge data" flag (``0xAC``) makes every
acknowledgement (``0xB?``) carry the data bytes of its command after it;
error replies and status responses are not followed by anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..controllers.interface import BeltDirection, Command, DriveMode, Telemetry
from ..controllers.lab_protocols import (
    REPLY_ILLEGAL,
    REPLY_MASTER_TIMEOUT,
    REPLY_OFFSET,
    REPLY_OUT_OF_RANGE,
    BeltStatus,
    Code,
    LabProfile,
    TrackmasterCommand,
    TrackmasterStatus,
    WoodwayStatus,
    decode_digits,
    decode_incline_data,
    decode_speed_data,
    encode_digits,
    encode_firmware_revision,
    encode_incline_data,
    encode_speed_data,
    request_data_bytes,
    x10_to_mps,
)
from ..controllers.units import mph_to_mps, mps_to_mph

DEFAULT_INTER_BYTE_GAP_S = 0.1
DEFAULT_FIRMWARE_REVISION = 0x0001_0000  # [U] any value; Woodway only


@dataclass(frozen=True, slots=True)
class LabBoardCounts:
    """What the board received and how it answered, for logs and tests."""

    bytes_in: int = 0
    requests: int = 0  # complete requests of the profile, good data or not
    illegal: int = 0  # bytes that start no request of the profile (answered 0xBF)
    out_of_range: int = 0  # requests with bad or out-of-range data (answered 0xBE)
    partial_dropped: int = 0  # incomplete commands dropped after the inter-byte gap
    watchdog_stops: int = 0  # belt stops by CDS / master timeout
    master_timeout_replies: int = 0  # Woodway requests answered 0xBD and not executed


def _finite_or(value: object, default: float) -> float:
    """``value`` as a float if it is a finite number, else ``default`` (never raises)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


class LabBoard:
    """Implements :class:`~treadtwin.emulator.board.DeviceBoard` for a lab profile.

    Machine limits are the emulated treadmill's: set points beyond them (and
    a reverse speed on a belt that runs one way only) are refused with
    ``0xBE``, as the console refuses them. ``max_speed_mps``
    and ``max_incline_pct`` default to the profile's machine
    (:class:`~treadtwin.controllers.lab_protocols.ProfileSpec`); elevations
    below zero cannot be sent on either wire, so ``min_incline_pct`` below
    zero only matters for where "elevation to zero" ends.
    """

    def __init__(self, profile: LabProfile, max_speed_mps: float | None = None,
                 max_incline_pct: float | None = None, min_incline_pct: float = 0.0,
                 firmware_revision: int = DEFAULT_FIRMWARE_REVISION, *,
                 inter_byte_gap_s: float = DEFAULT_INTER_BYTE_GAP_S,
                 reverse: bool = True) -> None:
        try:
            self.profile = LabProfile(profile)
        except ValueError:
            raise ValueError(f"profile must be a LabProfile, got {profile!r}") from None
        spec = self.profile.spec
        if max_speed_mps is None:
            max_speed_mps = mph_to_mps(spec.max_speed_mph)
        if max_incline_pct is None:
            max_incline_pct = spec.max_incline_pct
        if not (math.isfinite(max_speed_mps) and max_speed_mps > 0.0):
            raise ValueError(f"max_speed_mps must be finite and > 0, got {max_speed_mps!r}")
        max_speed_x10 = math.floor(mps_to_mph(max_speed_mps) * 10.0 + 1e-6)
        if not 1 <= max_speed_x10 <= spec.speed_field_max_x10:
            raise ValueError(f"max_speed_mps={max_speed_mps!r} must be 0.1 .."
                             f" {spec.speed_field_max_x10 / 10} mph on the {spec.name} wire")
        if not (math.isfinite(min_incline_pct) and math.isfinite(max_incline_pct)
                and min_incline_pct <= max_incline_pct):
            raise ValueError(f"need finite min_incline_pct <= max_incline_pct, got"
                             f" {min_incline_pct!r} and {max_incline_pct!r}")
        if not 0.0 <= max_incline_pct <= spec.incline_field_max_x10 / 10.0:
            raise ValueError(f"max_incline_pct={max_incline_pct!r} must be 0 .."
                             f" {spec.incline_field_max_x10 / 10} % on the {spec.name} wire")
        try:
            self._firmware = encode_firmware_revision(firmware_revision)
        except ValueError as error:
            raise ValueError(str(error)) from None
        if not (math.isfinite(inter_byte_gap_s) and inter_byte_gap_s > 0.0):
            raise ValueError(f"inter_byte_gap_s must be finite and > 0, got {inter_byte_gap_s!r}")
        self.firmware_revision = firmware_revision
        self.inter_byte_gap_s = inter_byte_gap_s
        self.watchdog_s = spec.watchdog_s
        self._woodway = self.profile is LabProfile.WOODWAY
        self._reverse = reverse  # the machine can run its belt backwards (Woodway's sign)
        self._max_speed_x10 = max_speed_x10
        step = spec.incline_step_x10
        self._min_incline_x10 = step * math.ceil(max(min_incline_pct, 0.0) * 10.0 / step - 1e-6)
        self._max_incline_x10 = step * math.floor(max_incline_pct * 10.0 / step + 1e-6)
        self._rest_incline_x10 = min(self._min_incline_x10, self._max_incline_x10)
        # the treadmill's state
        self._belt = BeltStatus.STOPPED
        self._set_speed_x10 = 0
        self._set_direction = BeltDirection.FORWARD
        self._set_incline_x10 = self._rest_incline_x10
        self._drive_direction = BeltDirection.FORWARD
        self._ack_data = False
        self._timeout_reply_due = False
        self._last_request_s = 0.0
        # the parser's state
        self._pending = bytearray()
        self._pending_total = 0
        self._last_byte_s = 0.0
        # counters
        self._bytes_in = 0
        self._requests = 0
        self._illegal = 0
        self._out_of_range = 0
        self._partial_dropped = 0
        self._watchdog_stops = 0
        self._timeout_replies = 0
        self._drive = Command()
        self._update_drive(None)

    # --- what the emulator and tests read ---------------------------------------------

    @property
    def drive_command(self) -> Command:
        """What the board asks of the motor drive now."""
        return self._drive

    def take_drive_command(self) -> Command:
        """The command for the motor drive (a lab board sends no one-shot resets)."""
        return self._drive

    @property
    def counts(self) -> LabBoardCounts:
        """A snapshot of the counters."""
        return LabBoardCounts(
            bytes_in=self._bytes_in, requests=self._requests, illegal=self._illegal,
            out_of_range=self._out_of_range, partial_dropped=self._partial_dropped,
            watchdog_stops=self._watchdog_stops, master_timeout_replies=self._timeout_replies)

    @property
    def belt_status(self) -> BeltStatus:
        """Stopped, or started with or without the watchdog."""
        return self._belt

    @property
    def set_speed_mph(self) -> float:
        """The console's set speed (a magnitude), mph."""
        return self._set_speed_x10 / 10.0

    @property
    def set_direction(self) -> BeltDirection:
        """The direction the host asked for last."""
        return self._set_direction

    @property
    def set_incline_pct(self) -> float:
        """The console's set elevation, percent grade."""
        return self._set_incline_x10 / 10.0

    @property
    def ack_data(self) -> bool:
        """Trackmaster's "transmit acknowledge data" flag."""
        return self._ack_data

    # --- DeviceBoard ----------------------------------------------------------------------

    def on_bytes(self, data: bytes, now_s: float, telemetry: Telemetry) -> bytes:
        """Handle host bytes (any chunking); return the replies to the requests they complete."""
        self._timers(now_s)
        out = bytearray()
        for byte in bytes(data):
            self._bytes_in += 1
            if not self._pending:
                need = request_data_bytes(self.profile, byte)
                if need is None:
                    self._illegal += 1
                    out.append(REPLY_ILLEGAL)
                    continue
                self._pending.append(byte)
                self._pending_total = 1 + need
            else:
                self._pending.append(byte)
            if len(self._pending) == self._pending_total:
                request = bytes(self._pending)
                self._pending.clear()
                out += self._request(request[0], request[1:], now_s, telemetry)
        if data:
            self._last_byte_s = now_s
        self._update_drive(telemetry)
        return bytes(out)

    def failure_reply(self) -> bytes:
        """The error byte (``0xBE``, not carried out) for a request the board's logic failed
        on; the partial request is dropped, so the client's next request starts clean."""
        self._pending.clear()
        self._out_of_range += 1
        return bytes([REPLY_OUT_OF_RANGE])

    def on_tick(self, now_s: float, telemetry: Telemetry) -> bytes:
        """Run the inter-byte and watchdog timers; the board never talks unasked."""
        self._timers(now_s)
        self._update_drive(telemetry)
        return b""

    # --- timers ---------------------------------------------------------------------------

    def _timers(self, now_s: float) -> None:
        if self._pending and now_s - self._last_byte_s > self.inter_byte_gap_s:
            self._pending.clear()
            self._partial_dropped += 1
        if (self._belt is BeltStatus.STARTED_WATCHDOG
                and now_s - self._last_request_s > self.watchdog_s):
            self._watchdog_stops += 1
            self._auto_stop()
            self._timeout_reply_due = self._woodway

    def _auto_stop(self) -> None:
        """Speed and elevation to minimum, belt stopped (auto stop, CDS stop)."""
        self._belt = BeltStatus.STOPPED
        self._set_speed_x10 = 0
        self._set_incline_x10 = self._rest_incline_x10

    # --- requests -------------------------------------------------------------------------

    def _request(self, code: int, payload: bytes, now_s: float, telemetry: Telemetry) -> bytes:
        self._requests += 1
        self._last_request_s = now_s
        if self._timeout_reply_due:
            self._timeout_reply_due = False
            self._timeout_replies += 1
            return bytes([REPLY_MASTER_TIMEOUT])
        if code >= Code.STATUS_BELT:
            return bytes([code + REPLY_OFFSET]) + self._status_data(code, telemetry)
        try:
            self._execute(code, payload)
        except ValueError:
            self._out_of_range += 1
            return bytes([REPLY_OUT_OF_RANGE])
        ack = bytes([code + REPLY_OFFSET])
        return ack + payload if self._ack_data and not self._woodway else ack

    def _execute(self, code: int, payload: bytes) -> None:
        """Carry out a command; ValueError means "data out of range" and changes nothing."""
        if code == Code.START_WITH_WATCHDOG:
            self._belt = BeltStatus.STARTED_WATCHDOG
        elif code == self.profile.spec.start_code:
            self._belt = BeltStatus.STARTED
        elif code == Code.STOP:
            self._belt = BeltStatus.STOPPED  # set points are kept (not latched)
        elif code == Code.SET_SPEED:
            speed_x10, direction = decode_speed_data(self.profile, payload)
            if speed_x10 > self._max_speed_x10:
                raise ValueError("speed above the machine's maximum")
            if direction == BeltDirection.REVERSE and speed_x10 and not self._reverse:
                raise ValueError("reverse on a machine whose belt runs one way only")
            self._set_speed_x10, self._set_direction = speed_x10, direction
        elif code == Code.SET_ELEVATION:
            incline_x10 = decode_incline_data(payload)
            if incline_x10 % self.profile.spec.incline_step_x10 or not (
                    self._min_incline_x10 <= incline_x10 <= self._max_incline_x10):
                raise ValueError("elevation off the step or outside the machine's range")
            self._set_incline_x10 = incline_x10
        elif code == Code.AUTO_STOP:
            self._auto_stop()
        elif code == TrackmasterCommand.AUTO_COOL_DOWN:
            self._set_speed_x10 = 0
            self._set_incline_x10 = self._rest_incline_x10
        elif code == TrackmasterCommand.TOGGLE_ACK_DATA:
            self._ack_data = not self._ack_data
        elif payload:  # Trackmaster A5..A7, A9: accepted if they are digits, not used
            decode_digits(payload)
        # Trackmaster A8 (reset totals): accepted, nothing to do

    def _status_data(self, code: int, telemetry: Telemetry) -> bytes:
        profile = self.profile
        if code == Code.STATUS_BELT:
            return bytes([self._belt])
        if code == Code.STATUS_SPEED:
            speed_x10 = self._actual_speed_x10(telemetry)
            reverse = getattr(telemetry, "belt_direction", 1) == BeltDirection.REVERSE
            direction = (BeltDirection.REVERSE if reverse and self._woodway
                         else BeltDirection.FORWARD)
            return encode_speed_data(profile, speed_x10, direction)
        if code == Code.STATUS_ELEVATION:
            return encode_incline_data(profile, self._actual_incline_x10(telemetry))
        if self._woodway:
            if code == WoodwayStatus.FIRMWARE:
                return self._firmware
        elif code == TrackmasterStatus.SET_SPEED:
            return encode_speed_data(profile, self._set_speed_x10)
        elif code == TrackmasterStatus.SET_ELEVATION:
            return encode_incline_data(profile, self._set_incline_x10)
        n = profile.spec.status_data_bytes[code]
        return encode_digits(0, n)  # not functional on the console: zero digits

    def _actual_speed_x10(self, telemetry: Telemetry | None) -> int:
        speed_mps = abs(_finite_or(getattr(telemetry, "belt_speed_mps", 0.0), 0.0))
        x10 = math.floor(mps_to_mph(speed_mps) * 10.0 + 0.5) if speed_mps < 1e6 else 10**6
        return min(x10, self.profile.spec.speed_field_max_x10)

    def _actual_incline_x10(self, telemetry: Telemetry) -> int:
        incline = getattr(telemetry, "incline_pct", None)
        if incline is None:  # no incline sensor in the twin: the console shows its set point
            return self._set_incline_x10
        pct = _finite_or(incline, self._set_incline_x10 / 10.0)
        x10 = math.floor(min(max(pct, 0.0), 1e6) * 10.0 + 0.5)
        return min(x10, self.profile.spec.incline_field_max_x10)

    # --- the drive ------------------------------------------------------------------------

    def _update_drive(self, telemetry: Telemetry | None) -> None:
        """Recompute the drive command; a direction change waits for the belt to stop."""
        if (self._set_direction is not self._drive_direction
                and self._actual_speed_x10(telemetry) == 0):
            self._drive_direction = self._set_direction
        incline_pct = self._set_incline_x10 / 10.0
        if self._belt is BeltStatus.STOPPED:
            command = Command(0.0, incline_pct, self._drive_direction, DriveMode.STOP)
        else:
            speed_mps = (x10_to_mps(self._set_speed_x10)
                         if self._set_direction is self._drive_direction else 0.0)
            command = Command(speed_mps, incline_pct, self._drive_direction, DriveMode.NORMAL)
        if command != self._drive:
            self._drive = command


__all__ = ["LabBoard", "LabBoardCounts", "DEFAULT_INTER_BYTE_GAP_S", "DEFAULT_FIRMWARE_REVISION"]
