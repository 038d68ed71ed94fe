"""The treadmill interface over a Woodway or Trackmaster serial link.

:class:`LabSerialTreadmill` is a :class:`~.interface.Treadmill` for lab
treadmills that speak one of the profiles of :mod:`.lab_protocols` (sources
cited there). Such a treadmill answers one request at a time at 4800 baud
(a 5-byte set-speed command alone is ~10 ms on the wire), so a control loop
cannot wait for it. A background thread, started by :meth:`open` (or the
context manager) and stopped by :meth:`close`, does all the talking:

- :meth:`write` only records the wanted state. The thread sends set points
  that changed (quantised to the profile: 0.1 mph; elevation 0.5 %
  Trackmaster, 0.1 % Woodway), starts the belt with the watchdog enabled
  (``0xA0``: CDS / communication timer, so the treadmill stops by itself if
  this host dies) when a speed above zero is wanted, and sends an auto stop
  (``0xAA``) for a speed of zero, mode STOP or ``emergency_stop``.
- Between commands it polls actual speed, actual elevation and belt status
  in turn; every request feeds the treadmill's 0.5 s watchdog.
- The belt is started on a new wish to run: the first write asking for
  speed after a stop, or a write with ``reset``. If the treadmill stops by
  itself (watchdog, console stop button), it is not restarted behind the
  operator's back; ``drive_enabled`` goes false and the controller must ask
  again (stop then run, or ``reset``).

:meth:`read` returns the newest :class:`~.interface.Telemetry` built from
the replies: ``t_s`` is host monotonic time of the newest reading since
:meth:`open`; belt speed, direction and elevation come from the treadmill;
motor current, bus voltage, key and motor temperature are ``None`` (the
profiles cannot report them). These links carry no tach pulses:
``tach_pulse_count`` stays 0 and ``tach_last_pulse_t_s`` ``None``, so a
controller that needs pulses (such as the tach speed estimator) cannot run
on these profiles. ``Fault.COMMS`` is set after ``comms_fault_after``
consecutive request timeouts (or while the port is down) and cleared by
the next good reply. A ``serial.SerialException`` closes the port; the
thread reopens it with back-off and counts the reconnect.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from .interface import BeltDirection, Command, DriveMode, Fault, Telemetry
from .lab_protocols import (
    BAUDRATE,
    REPLY_MASTER_TIMEOUT,
    REPLY_OUT_OF_RANGE,
    BeltStatus,
    Code,
    LabProfile,
    decode_belt_status,
    decode_incline_data,
    decode_speed_data,
    encode_request,
    encode_set_elevation,
    encode_set_speed,
    incline_to_x10,
    reply_code,
    reply_data_bytes,
    speed_to_x10,
    x10_to_mps,
)
from .serial_ports import exclusive_for

DEFAULT_REPLY_TIMEOUT_S = 0.1
DEFAULT_COMMS_FAULT_AFTER = 3  # consecutive timeouts
DEFAULT_POLL_INTERVAL_S = 0.01  # pause between exchanges (a real link paces itself anyway)
RECONNECT_BACKOFF_MIN_S = 0.05
RECONNECT_BACKOFF_MAX_S = 1.0
_POLLS = (Code.STATUS_SPEED, Code.STATUS_ELEVATION, Code.STATUS_BELT)


@dataclass(frozen=True, slots=True)
class LabSerialCounters:
    """What happened on the link, for logs and tests."""

    requests: int = 0  # requests written
    timeouts: int = 0  # no (or a short) reply within reply_timeout_s
    bad_replies: int = 0  # unexpected byte, bad data, 0xBD, 0xBE or 0xBF
    retries: int = 0  # commands sent again after a failed attempt
    reconnects: int = 0  # port reopened after a SerialException


def _wants_run(command: Command) -> bool:
    return (command.mode is not DriveMode.STOP and not command.emergency_stop
            and speed_to_x10(command.belt_speed_mps) > 0)


class LabSerialTreadmill:
    """A :class:`~.interface.Treadmill` that drives a Woodway or Trackmaster over pyserial.

    ``port`` is any name or URL ``serial.serial_for_url`` takes;
    ``serial_factory`` replaces it (tests). ``reply_timeout_s`` bounds the
    wait for each reply; it must leave the 0.5 s watchdog fed even when
    replies are lost.
    """

    def __init__(self, port: str, profile: LabProfile, *, baudrate: int = BAUDRATE,
                 reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
                 serial_factory: Callable[..., Any] = serial.serial_for_url,
                 comms_fault_after: int = DEFAULT_COMMS_FAULT_AFTER, max_retries: int = 1,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                 stop_on_close: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self.profile = LabProfile(profile)
        except ValueError:
            raise ValueError(f"profile must be a LabProfile, got {profile!r}") from None
        spec = self.profile.spec
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise ValueError(f"baudrate must be a positive integer, got {baudrate!r}")
        longest_wait_s = 0.4 * spec.watchdog_s  # two reads per exchange stay under the watchdog
        if not (math.isfinite(reply_timeout_s) and 0.0 < reply_timeout_s <= longest_wait_s):
            raise ValueError(f"reply_timeout_s must be in (0, {longest_wait_s}] s to keep the"
                             f" {spec.watchdog_s} s watchdog fed, got {reply_timeout_s!r}")
        if isinstance(comms_fault_after, bool) or not isinstance(comms_fault_after, int) or (
                comms_fault_after < 1):
            raise ValueError(f"comms_fault_after must be an int >= 1, got {comms_fault_after!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if not (math.isfinite(poll_interval_s) and 0.0 <= poll_interval_s <= longest_wait_s):
            raise ValueError(f"poll_interval_s must be in [0, {longest_wait_s}] s,"
                             f" got {poll_interval_s!r}")
        self.port_name = port
        self.baudrate = baudrate
        self.reply_timeout_s = reply_timeout_s
        self.comms_fault_after = comms_fault_after
        self.max_retries = max_retries
        self.poll_interval_s = poll_interval_s
        self.stop_on_close = stop_on_close
        self._factory = serial_factory
        self._clock = clock
        self._lock = threading.Lock()  # everything below that both threads touch
        self._want = Command()
        self._arm_seq = 0  # bumped by each new wish to run
        self._started_seq = 0  # the wish the last acknowledged start answered
        self._counts = dict.fromkeys(LabSerialCounters.__dataclass_fields__, 0)
        self._t0_s = 0.0
        self._t_s = 0.0
        self._speed_mps = 0.0
        self._direction = BeltDirection.FORWARD
        self._incline_pct: float | None = None
        self._belt: BeltStatus | None = None  # None: not known since (re)connect
        self._consecutive_timeouts = 0
        self._port: Any = None
        self._port_down = False
        # the thread's own view of the treadmill's set points (None: unknown, send again)
        self._sent_speed: tuple[int, BeltDirection] | None = None
        self._sent_incline: int | None = None
        self._refused: set[bytes] = set()  # commands answered 0xBE: not repeated until changed
        self._poll_index = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- opening and closing ---------------------------------------------------------------

    def open(self) -> LabSerialTreadmill:
        """Open the port (errors raise here) and start the link thread."""
        if self._thread is not None:
            return self
        self._port = self._factory(self.port_name, baudrate=self.baudrate,
                                   timeout=self.reply_timeout_s, **exclusive_for(self.port_name))
        self._t0_s = self._clock()
        self._port_down = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="treadtwin-lab-link",
                                        daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> LabSerialTreadmill:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread (which sends a last auto stop if asked to) and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._close_port()

    @property
    def is_open(self) -> bool:
        """Whether the link thread runs."""
        return self._thread is not None

    # --- Treadmill -------------------------------------------------------------------------

    def write(self, command: Command) -> None:
        """Record the wanted state; the link thread sends what changed."""
        if command.mode is DriveMode.RESISTANCE:
            raise ValueError(f"the {self.profile.spec.name} profile has no resistance mode")
        if (BeltDirection(command.belt_direction) is BeltDirection.REVERSE
                and not self.profile.spec.reverse):
            raise ValueError(f"the {self.profile.spec.name} profile has no reverse belt")
        spec = self.profile.spec
        speed_x10 = speed_to_x10(command.belt_speed_mps)
        if speed_x10 > spec.speed_field_max_x10:
            raise ValueError(f"belt_speed_mps={command.belt_speed_mps!r} is above the"
                             f" {spec.name} field's {spec.speed_field_max_x10 / 10} mph")
        incline_x10 = incline_to_x10(self.profile, command.incline_pct)
        if not 0 <= incline_x10 <= spec.incline_field_max_x10:
            raise ValueError(f"incline_pct={command.incline_pct!r} is outside the {spec.name}"
                             f" field's 0..{spec.incline_field_max_x10 / 10} %")
        with self._lock:
            if _wants_run(command) and (command.reset or not _wants_run(self._want)):
                self._arm_seq += 1
            self._want = command

    def read(self) -> Telemetry:
        """The newest telemetry the replies made up; COMMS while replies do not come."""
        with self._lock:
            lost = self._port_down or self._consecutive_timeouts >= self.comms_fault_after
            belt = self._belt
            return Telemetry(
                t_s=self._t_s,
                belt_speed_mps=self._speed_mps,
                belt_direction=self._direction,
                tach_pulse_count=0,
                tach_last_pulse_t_s=None,
                incline_pct=self._incline_pct,
                motor_current_a=None,
                bus_voltage_v=None,
                key_present=None,
                drive_enabled=belt is not None and belt.running,
                faults=Fault.COMMS if lost else Fault.NONE,
                motor_temp_c=None,
            )

    @property
    def counters(self) -> LabSerialCounters:
        """A snapshot of the counters."""
        with self._lock:
            return LabSerialCounters(**self._counts)

    # --- the link thread -------------------------------------------------------------------

    def _run(self) -> None:
        backoff_s = RECONNECT_BACKOFF_MIN_S
        while not self._stop.is_set():
            if self._port is None:
                if self._reopen():
                    backoff_s = RECONNECT_BACKOFF_MIN_S
                else:
                    self._stop.wait(backoff_s)
                    backoff_s = min(2.0 * backoff_s, RECONNECT_BACKOFF_MAX_S)
                    continue
            try:
                self._cycle()
            except (serial.SerialException, OSError):
                self._lose_port()
                self._stop.wait(backoff_s)
                continue
            self._stop.wait(self.poll_interval_s)
        if self.stop_on_close and self._port is not None:
            try:
                self._command(encode_request(self.profile, Code.AUTO_STOP))
            except (serial.SerialException, OSError):
                pass

    def _reopen(self) -> bool:
        try:
            port = self._factory(self.port_name, baudrate=self.baudrate,
                                 timeout=self.reply_timeout_s, **exclusive_for(self.port_name))
        except (serial.SerialException, OSError):
            return False
        self._port = port
        self._sent_speed = self._sent_incline = None  # resend set points: state unknown
        with self._lock:
            self._counts["reconnects"] += 1
            self._port_down = False
            self._belt = None
        return True

    def _lose_port(self) -> None:
        self._close_port()
        with self._lock:
            self._port_down = True

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def _cycle(self) -> None:
        """One command if one is due, then one status request."""
        request = self._next_command()
        if request is not None:
            self._command(request)
        code = _POLLS[self._poll_index]
        self._poll_index = (self._poll_index + 1) % len(_POLLS)
        self._poll(code)

    def _next_command(self) -> bytes | None:
        """The command the treadmill needs next to match the wanted state, if any."""
        with self._lock:
            want, arm_seq, started_seq, belt = (self._want, self._arm_seq, self._started_seq,
                                                self._belt)
        profile = self.profile
        candidates: list[bytes] = []
        incline_x10 = incline_to_x10(profile, want.incline_pct)
        if _wants_run(want):
            speed = (speed_to_x10(want.belt_speed_mps), BeltDirection(want.belt_direction))
            if speed != self._sent_speed:
                candidates.append(encode_set_speed(profile, *speed))
            if incline_x10 != self._sent_incline:
                candidates.append(encode_set_elevation(profile, incline_x10))
            if arm_seq != started_seq:
                if belt is BeltStatus.STARTED_WATCHDOG:  # already running as wanted
                    with self._lock:
                        self._started_seq = arm_seq
                elif speed == self._sent_speed:  # start only at a speed the treadmill took
                    candidates.append(encode_request(profile, Code.START_WITH_WATCHDOG))
        else:
            if belt is None or belt.running:
                candidates.append(encode_request(profile, Code.AUTO_STOP))
            if incline_x10 != self._sent_incline:
                candidates.append(encode_set_elevation(profile, incline_x10))
        self._refused &= set(candidates)  # a refusal holds only while the wish is the same
        for request in candidates:
            if request not in self._refused:
                return request
        return None

    def _command(self, request: bytes) -> None:
        """Send a command, retrying a lost or garbled reply; apply its effect when acknowledged."""
        with self._lock:
            arm_seq = self._arm_seq
        for attempt in range(1 + self.max_retries):
            if attempt:
                self._count("retries")
            ok, _, code = self._exchange(request, reply_code(request[0]), 0)
            if ok:
                self._acknowledged(request, arm_seq)
                return
            if code == REPLY_OUT_OF_RANGE:  # the treadmill will not take it: do not insist
                self._refused.add(request)
                return

    def _acknowledged(self, request: bytes, arm_seq: int) -> None:
        code = request[0]
        if code == Code.SET_SPEED:
            self._sent_speed = decode_speed_data(self.profile, request[1:])
        elif code == Code.SET_ELEVATION:
            self._sent_incline = decode_incline_data(request[1:])
        elif code == Code.START_WITH_WATCHDOG:
            with self._lock:
                self._belt = BeltStatus.STARTED_WATCHDOG
                self._started_seq = arm_seq
        elif code == Code.AUTO_STOP:
            self._sent_speed = self._sent_incline = None  # both went to minimum
            with self._lock:
                self._belt = BeltStatus.STOPPED

    def _poll(self, code: int) -> None:
        n = reply_data_bytes(self.profile, code)
        ok, data, _ = self._exchange(bytes([code]), reply_code(code), n)
        if not ok:
            return
        try:
            if code == Code.STATUS_SPEED:
                speed_x10, direction = decode_speed_data(self.profile, data)
                update = {"_speed_mps": x10_to_mps(speed_x10), "_direction": direction}
            elif code == Code.STATUS_ELEVATION:
                update = {"_incline_pct": decode_incline_data(data) / 10.0}
            else:
                update = {"_belt": decode_belt_status(data)}
        except ValueError:
            self._count("bad_replies")
            return
        with self._lock:
            for name, value in update.items():
                setattr(self, name, value)
            self._t_s = self._clock() - self._t0_s

    def _exchange(self, request: bytes, expect: int, data_bytes: int
                  ) -> tuple[bool, bytes, int | None]:
        """Write a request, read its reply: (good, data, first reply byte or None)."""
        port = self._port
        port.reset_input_buffer()  # drop late bytes of an earlier, failed exchange
        port.write(request)
        self._count("requests")
        head = port.read(1)
        if len(head) < 1:
            self._timed_out()
            return False, b"", None
        code = head[0]
        if code != expect:
            self._count("bad_replies")
            with self._lock:
                self._consecutive_timeouts = 0
                if code == REPLY_MASTER_TIMEOUT:  # Woodway: its timer stopped the belt
                    self._belt = BeltStatus.STOPPED
            return False, b"", code
        data = port.read(data_bytes) if data_bytes else b""
        if len(data) < data_bytes:
            self._timed_out()
            return False, b"", code
        with self._lock:
            self._consecutive_timeouts = 0
        return True, bytes(data), code

    def _timed_out(self) -> None:
        with self._lock:
            self._counts["timeouts"] += 1
            self._consecutive_timeouts += 1

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1


__all__ = ["LabSerialTreadmill", "LabSerialCounters", "DEFAULT_REPLY_TIMEOUT_S"]
