"""The treadmill interface over a serial link to the adapter board (docs/protocol.md, section 10).

:class:`SerialAdapterTreadmill` is a :class:`~.interface.Treadmill`: a
controller stack that ran on the twin runs unchanged against a real
treadmill (or the emulator) through it. It opens any port name or pyserial
URL, handshakes, sends each command as a COMMAND frame and keeps the
adapter's watchdog fed with HEARTBEATs, and decodes TELEMETRY.

Two ways to run:

- **threaded** (wall clock, :meth:`open`): a reader thread takes telemetry
  as it comes and sends heartbeats; :meth:`read` returns the newest
  telemetry at once. If no telemetry is accepted for 5 telemetry periods
  (at least 0.1 s) the link counts as lost: :meth:`read` adds
  ``Fault.COMMS`` to the last telemetry (whose unchanged ``t_s`` also trips
  the supervisor's telemetry watchdog), and the thread reconnects with a
  new session, backing off up to 1 s between attempts.
- **lockstep** (:meth:`open` with ``lockstep=True``): no thread; the caller
  calls :meth:`wait_telemetry` for the next board period and then
  :meth:`write` or :meth:`heartbeat`, exactly once per period.

Everything that goes wrong is counted (:class:`LinkCounters`): frames the
decoder dropped by kind, gaps in the adapter's sequence numbers, HELLO
retries, reconnects, NACKs and STOPPED notices.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import serial

from .interface import Command, DriveMode, Fault, Telemetry
from .protocol import (
    PROTOCOL_VERSION,
    SEQ_MODULUS,
    Capability,
    DecodeCounts,
    FrameDecoder,
    Heartbeat,
    Hello,
    HelloAck,
    Nack,
    Side,
    Stopped,
    TelemetryPayload,
    encode,
    encode_command,
)
from .serial_ports import exclusive_for

HELLO_TIMEOUT_S = 0.1  # section 7: repeat the HELLO after 100 ms
HELLO_TRIES = 10
LINK_LOST_PERIODS = 5  # section 10: no telemetry for 5 periods (>= 100 ms)
LINK_LOST_MIN_S = 0.1
RECONNECT_BACKOFF_MAX_S = 1.0


class AdapterAbsent(ConnectionError):
    """The adapter did not answer the handshake."""


@dataclass
class LinkCounters:
    """What happened on the link, for logs and for the summary."""

    frames_sent: int = 0
    commands_sent: int = 0
    heartbeats_sent: int = 0
    telemetry_received: int = 0
    adapter_frame_gaps: int = 0  # adapter frames missing between two accepted ones
    hello_retries: int = 0
    reconnects: int = 0
    link_losses: int = 0
    # The host's own lateness, not the link's: reader-loop passes further apart than the
    # heartbeat interval (watchdog / 4), so a heartbeat went out late (docs/hil.md).
    host_stalls: int = 0
    host_stall_max_s: float = 0.0
    nacks: list[tuple[float, str]] = field(default_factory=list)  # (host s, what was refused)
    stops: list[tuple[float, str]] = field(default_factory=list)  # (board s, reason)
    decode: DecodeCounts = field(default_factory=DecodeCounts)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for summary.json."""
        out = {k: v for k, v in vars(self).items() if k not in ("nacks", "stops", "decode")}
        out["nacks"] = len(self.nacks)
        out["stops"] = len(self.stops)
        out["bad_frames"] = self.decode.rejected
        out["bad_frames_by_kind"] = {k: v for k, v in asdict(self.decode).items()
                                     if k != "accepted" and v}
        return out


class SerialAdapterTreadmill:
    """A :class:`~.interface.Treadmill` behind the adapter board, over pyserial."""

    def __init__(self, port: str, *, baudrate: int = 115200, watchdog_ms: int = 250,
                 telemetry_period_ms: int = 20, seed: int | None = None,
                 serial_factory: Callable[..., Any] = serial.serial_for_url,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if baudrate <= 0:
            raise ValueError(f"baudrate must be a positive integer, got {baudrate!r}")
        self.port_name = port
        self.baudrate = baudrate
        self.watchdog_ms = watchdog_ms
        self.telemetry_period_ms = telemetry_period_ms
        self.counters = LinkCounters()
        self.hello_ack: HelloAck | None = None
        self._factory = serial_factory
        self._clock = clock
        self._rng = np.random.default_rng(seed)  # session ids: new for every connection
        self._serial: Any = None
        self._decoder = FrameDecoder(Side.HOST)
        self._decode_base = DecodeCounts()
        self._seq = 0
        self._lock = threading.Lock()  # the port's write side, the sequence number, the state
        self._telemetry: Telemetry | None = None
        self._telemetry_at_s: float | None = None
        self._last_adapter_seq: int | None = None
        self._last_sent_s = 0.0
        self._last_command: Command | None = None
        self._link_lost = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lockstep = False
        self._loop_at_s: float | None = None  # when the reader loop last came round

    # --- opening and closing ---------------------------------------------------------------
    def open(self, lockstep: bool = False) -> SerialAdapterTreadmill:
        """Open the port and handshake; in threaded mode start the reader thread."""
        self._lockstep = lockstep
        self._connect()
        if not lockstep:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="treadtwin-adapter-link",
                                            daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> SerialAdapterTreadmill:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask for a controlled stop, stop the thread and close the port."""
        if self._serial is not None:
            try:
                self._send(encode_command(Command(mode=DriveMode.STOP), self._next_seq()))
            except (serial.SerialException, OSError):
                pass
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._close_port()

    def _close_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def _connect(self) -> None:
        """Open the port and run the handshake with a new session id."""
        self._close_port()
        self._serial = self._factory(self.port_name, baudrate=self.baudrate, timeout=0.005,
                                     write_timeout=1.0, **exclusive_for(self.port_name))
        self._decode_base = self.counters.decode  # the old decoder's counts carry on
        self._decoder = FrameDecoder(Side.HOST)
        session_id = int(self._rng.integers(1, 1 << 32))
        hello = Hello(min_version=PROTOCOL_VERSION, max_version=PROTOCOL_VERSION,
                      session_id=session_id, watchdog_ms=self.watchdog_ms,
                      telemetry_period_ms=self.telemetry_period_ms)
        self._send(b"\xc0")  # end any partial frame the adapter holds
        seen_before = self.counters.telemetry_received
        for attempt in range(HELLO_TRIES):
            if attempt:
                self.counters.hello_retries += 1
            self._send(encode(hello, self._next_seq()))
            deadline = self._clock() + HELLO_TIMEOUT_S
            while self._clock() < deadline:
                self._receive()
                ack = self.hello_ack
                if ack is not None and ack.session_id == session_id:
                    self._await_first_telemetry(seen_before)
                    return
        raise AdapterAbsent(f"no HELLO_ACK from the adapter on {self.port_name} after"
                            f" {HELLO_TRIES} tries")

    def _await_first_telemetry(self, seen_before: int) -> None:
        """The adapter sends TELEMETRY right after HELLO_ACK (often in the same read); wait
        for it if it has not come yet."""
        deadline = self._clock() + self._lost_after_s()
        while self.counters.telemetry_received == seen_before and self._clock() < deadline:
            self._receive()
        if self.counters.telemetry_received == seen_before:  # the thread backs off, retries
            raise AdapterAbsent(f"HELLO_ACK but no TELEMETRY from the adapter on {self.port_name}")
        with self._lock:
            self._link_lost = False

    # --- the Treadmill interface -----------------------------------------------------------
    def read(self) -> Telemetry:
        """The newest telemetry; ``Fault.COMMS`` added while the link is lost."""
        with self._lock:
            telemetry = self._telemetry
            lost = self._link_lost
        if telemetry is None:
            raise ConnectionError(f"no telemetry from {self.port_name} yet: call open() first")
        return telemetry._replace(faults=telemetry.faults | Fault.COMMS) if lost else telemetry

    def write(self, command: Command) -> None:
        """Send a COMMAND now. The adapter refuses one outside the machine's range in HELLO_ACK
        (NACK INVALID_PARAMETER, in ``counters.nacks``) and keeps the previous one (9.3)."""
        self._last_command = command
        try:
            self._send(encode_command(command, self._next_seq()))
            self.counters.commands_sent += 1
        except (serial.SerialException, OSError):
            self._mark_lost()  # the reader thread reconnects; the command is resent then

    def heartbeat(self) -> None:
        """Feed the adapter's watchdog without changing the command."""
        ms = int(self._clock() * 1000) & 0xFFFFFFFF
        self._send(encode(Heartbeat(host_time_ms=ms), self._next_seq()))
        self.counters.heartbeats_sent += 1

    def wait_telemetry(self, newer_than_s: float | None, timeout_s: float = 5.0) -> Telemetry:
        """Lockstep: block until telemetry newer than ``newer_than_s`` (board time) arrives."""
        deadline = self._clock() + timeout_s
        while True:
            telemetry = self._telemetry
            if telemetry is not None and (newer_than_s is None or telemetry.t_s > newer_than_s):
                return telemetry
            if self._clock() > deadline:
                raise TimeoutError(f"no telemetry from {self.port_name} for {timeout_s:g} s")
            self._receive()

    @property
    def link_up(self) -> bool:
        """True while telemetry keeps coming from the current session."""
        return self._telemetry is not None and not self._link_lost

    @property
    def capabilities(self) -> Capability:
        """What the adapter said its machine can do (empty before the handshake)."""
        return Capability(self.hello_ack.capabilities) if self.hello_ack else Capability(0)

    # --- internals -------------------------------------------------------------------------
    def _next_seq(self) -> int:
        with self._lock:
            seq = self._seq
            self._seq = (seq + 1) % SEQ_MODULUS
        return seq

    def _send(self, frame: bytes) -> None:
        with self._lock:
            if self._serial is None:
                raise serial.SerialException("port closed")
            self._serial.write(frame)
            self._last_sent_s = self._clock()
            self.counters.frames_sent += 1

    def _receive(self) -> None:
        """Read what is there (up to the port timeout) and take the frames it completes."""
        data = self._serial.read(max(self._serial.in_waiting, 1))
        if not data:
            return
        for message in self._decoder.feed(data):
            body = message.body
            if isinstance(body, TelemetryPayload):
                self._take_telemetry(message.seq, body)
            elif isinstance(body, HelloAck):
                self.hello_ack = body
                self._last_adapter_seq = message.seq
            elif isinstance(body, Nack):
                self.counters.nacks.append(
                    (self._clock(), f"{body.code.name} for type 0x{body.ref_type:02x}"
                                    f" seq {body.ref_seq} (detail {body.detail})"))
            elif isinstance(body, Stopped):
                self.counters.stops.append((body.board_time_ms / 1000.0, body.reason.name))
            self._count_gap(message.seq)
        self.counters.decode = self._decode_counts()

    def _count_gap(self, seq: int) -> None:
        last = self._last_adapter_seq
        if last is not None and seq != last:
            self.counters.adapter_frame_gaps += max((seq - last) % SEQ_MODULUS - 1, 0)
        self._last_adapter_seq = seq

    def _take_telemetry(self, seq: int, body: TelemetryPayload) -> None:
        telemetry = body.to_telemetry()
        with self._lock:
            self._telemetry = telemetry
            self._telemetry_at_s = self._clock()
            self._link_lost = False
        self.counters.telemetry_received += 1

    def _decode_counts(self) -> DecodeCounts:
        now, base = asdict(self._decoder.counts), asdict(self._decode_base)
        return DecodeCounts(**{k: now[k] + base[k] for k in now})

    def _mark_lost(self) -> None:
        with self._lock:
            if not self._link_lost:
                self.counters.link_losses += 1
            self._link_lost = True

    def _lost_after_s(self) -> float:
        period_s = (self.hello_ack.telemetry_period_ms if self.hello_ack else
                    self.telemetry_period_ms) / 1000.0
        return max(LINK_LOST_PERIODS * period_s, LINK_LOST_MIN_S)

    def _service(self) -> None:
        """One pass of the reader loop: what has come in, a heartbeat if one is due, and the
        link judged lost when telemetry has stopped. A pass that comes round later than the
        heartbeat interval is the host's own stall (its threads starved), counted apart
        from link loss: the bytes waited in the port and are read now."""
        watchdog_s = (self.hello_ack.watchdog_ms if self.hello_ack else
                      self.watchdog_ms) / 1000.0
        came_round = self._clock()
        if self._loop_at_s is not None and came_round - self._loop_at_s > watchdog_s / 4:
            self.counters.host_stalls += 1
            self.counters.host_stall_max_s = max(self.counters.host_stall_max_s,
                                                 came_round - self._loop_at_s)
        self._loop_at_s = came_round
        if self._link_lost:
            self._reconnect()
            self._loop_at_s = self._clock()  # the handshake's time is no stall
        self._receive()
        now = self._clock()
        if now - self._last_sent_s > watchdog_s / 4:
            self.heartbeat()
        seen = self._telemetry_at_s
        if seen is not None and now - seen > self._lost_after_s():
            self._mark_lost()

    def _run(self) -> None:
        """Reader thread: :meth:`_service` until closed, backing off while the link is down."""
        backoff_s = 0.05
        while not self._stop.is_set():
            try:
                self._service()
                backoff_s = 0.05
            except (serial.SerialException, OSError, AdapterAbsent, TypeError):
                # TypeError: pyserial's posix read on a port closed under it
                self._mark_lost()
                self._loop_at_s = None  # the back-off below is no stall either
                self._stop.wait(backoff_s)
                backoff_s = min(2 * backoff_s, RECONNECT_BACKOFF_MAX_S)

    def _reconnect(self) -> None:
        self.counters.reconnects += 1
        self._connect()


