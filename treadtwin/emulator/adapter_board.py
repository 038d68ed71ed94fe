"""The adapter board's firmware for treadtwin's own protocol (docs/protocol.md sections 7 and 9).

The board sits between the host and the treadmill's motor board. It opens
sessions, turns accepted COMMANDs into drive commands (refusing, with a
NACK, any target the machine cannot honour: nothing is clamped), reports
TELEMETRY at its period, and keeps the belt safe on its
own: a host that goes quiet for ``watchdog_ms`` gets a controlled stop and a
latched COMMS fault; the safety key, the console stop button and drive trips
stop the belt without the host and hold it stopped until a COMMAND with
RESET. The motor board (the twin) latches KEY_OUT, STOP_BUTTON and its trips
itself; this firmware adds the COMMS latch and makes sure nothing left over
from before a stop moves the belt afterwards.

Every accepted COMMAND is answered at once with a TELEMETRY frame whose
``ack_seq`` is that command (and the periodic timer restarts), so the
command-to-telemetry round trip is the wire time plus the board's
processing, not up to a telemetry period (section 9.3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..controllers.interface import Command, DriveMode, Fault, Telemetry
from ..controllers.protocol import (
    DEFAULT_TELEMETRY_PERIOD_MS,
    DEFAULT_WATCHDOG_MS,
    MAX_TELEMETRY_PERIOD_MS,
    MAX_WATCHDOG_MS,
    MIN_PROTOCOL_VERSION,
    MIN_TELEMETRY_PERIOD_MS,
    MIN_WATCHDOG_MS,
    PROTOCOL_VERSION,
    SEQ_MODULUS,
    U16_UNKNOWN,
    Body,
    Capability,
    CommandFlag,
    CommandPayload,
    FrameDecoder,
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    Nack,
    NackCode,
    RejectKind,
    Side,
    Stopped,
    StopReason,
    TelemetryPayload,
    WireDirection,
    WireMode,
    encode,
    faults_to_wire,
    stop_reason_for_faults,
)
from ..controllers.units import mps_to_kmh

#: The belt counts as moving above this speed (m/s) for the stop and watchdog rules.
MOVING_ABOVE_MPS = 0.05
_LATCHES = (Fault.KEY_OUT | Fault.STOP_BUTTON | Fault.OVERCURRENT | Fault.OVERVOLTAGE
            | Fault.OVERTEMP)


@dataclass(frozen=True, slots=True)
class MachineLimits:
    """What the adapter tells the host about its machine (HELLO_ACK)."""

    capabilities: Capability
    max_speed_mps: float
    min_incline_pct: float = 0.0
    max_incline_pct: float = 0.0

    @property
    def max_speed_kmh_x100(self) -> int:
        """The top speed as HELLO_ACK carries it; COMMANDs above it are refused."""
        return min(round(mps_to_kmh(self.max_speed_mps) * 100), U16_UNKNOWN - 1)

    @property
    def min_incline_pct_x10(self) -> int:
        return round(self.min_incline_pct * 10)

    @property
    def max_incline_pct_x10(self) -> int:
        return round(self.max_incline_pct * 10)

    def __post_init__(self) -> None:
        if not self.max_speed_mps > 0.0:
            raise ValueError(f"max_speed_mps must be > 0, got {self.max_speed_mps!r}")
        if self.min_incline_pct > self.max_incline_pct:
            raise ValueError(f"min_incline_pct {self.min_incline_pct!r} is above max_incline_pct"
                             f" {self.max_incline_pct!r}")


@dataclass(frozen=True, slots=True)
class BoardCounts:
    """What the board did, for logs and tests."""

    sessions: int = 0
    commands: int = 0
    heartbeats: int = 0
    telemetry_sent: int = 0
    nacks_sent: int = 0
    stops_sent: int = 0
    watchdog_stops: int = 0


def _clamp_ms(requested: int, default: int, lo: int, hi: int) -> int:
    return default if requested == 0 else min(max(requested, lo), hi)


class AdapterBoard:
    """Implements :class:`~.board.DeviceBoard` for protocol version 1."""

    def __init__(self, limits: MachineLimits, *, answer_commands: bool = True) -> None:
        self.limits = limits
        self.answer_commands = answer_commands
        self.decoder = FrameDecoder(Side.ADAPTER)
        self.watchdog_s = DEFAULT_WATCHDOG_MS / 1000.0
        self.telemetry_period_s = DEFAULT_TELEMETRY_PERIOD_MS / 1000.0
        self._seq = 0
        self._session_id: int | None = None
        self._ack_seq: int | None = None
        self._fed_at_s: float | None = None
        self.last_fed_s: float | None = None  # board time of the last accepted host frame
        self.watchdog_stops_s: list[float] = []  # board times of the watchdog's stops
        self._next_telemetry_s: float | None = None
        self._drive = Command(mode=DriveMode.STOP)
        # A RESET or emergency stop the motor board has taken, which the sample in hand
        # (read before the board acted) does not show yet; the next tick's sample does.
        self._taken_unseen = Command(mode=DriveMode.STOP)
        self._comms_latched = False
        self._stop_reported = True  # at power-up the belt is stopped; nothing to report
        self._stale_nack_due_s: float | None = None
        self._handling: tuple[int, int] | None = None  # (type, seq) of the frame in hand
        self._latched_seen = Fault.NONE
        self._fed = 0
        self._counts = dict.fromkeys(BoardCounts.__dataclass_fields__, 0)

    # --- what the emulator reads ---------------------------------------------------------
    @property
    def drive_command(self) -> Command:
        """What the board asks of the motor drive now."""
        return self._drive

    def take_drive_command(self) -> Command:
        """The command for the motor drive, handed over: a RESET or an emergency stop in it
        acts once, so it is cleared here, when the drive has it (in either clock mode,
        whatever came first). Until then a later COMMAND does not cancel it."""
        command = self._drive
        if command.reset or command.emergency_stop:
            self._drive = replace(command, reset=False, emergency_stop=False)
            self._taken_unseen = command
        return command

    @property
    def session_id(self) -> int | None:
        """The open session, ``None`` before the first HELLO."""
        return self._session_id

    @property
    def fed(self) -> int:
        """Accepted COMMANDs and HEARTBEATs of the current session so far (lockstep pacing)."""
        return self._fed

    @property
    def counts(self) -> BoardCounts:
        """A snapshot of the board's counters."""
        return BoardCounts(**self._counts)

    # --- bytes in ------------------------------------------------------------------------
    def on_bytes(self, data: bytes, now_s: float, telemetry: Telemetry) -> bytes:
        """Decode the host's bytes and act on every accepted frame; return the replies."""
        out = bytearray()
        for message in self.decoder.feed(data):
            out += self._handle(message, now_s, telemetry)
            self._handling = None
        for rejection in self.decoder.pop_rejections():
            nack = rejection.nack()
            if nack is None:
                continue
            if rejection.kind is RejectKind.STALE:
                # Section 5: at most one STALE_SEQUENCE NACK per telemetry period.
                if self._stale_nack_due_s is not None and now_s < self._stale_nack_due_s - 1e-9:
                    continue
                self._stale_nack_due_s = now_s + self.telemetry_period_s
            out += self._send(nack)
        return bytes(out)

    def failure_reply(self) -> bytes:
        """NACK OPERATION_FAILED for the frame being handled when the board's logic failed,
        with the latched fault bits as detail (section 8.7)."""
        if self._handling is None:
            return b""
        msg_type, seq = self._handling
        self._handling = None
        return self._send(Nack(NackCode.OPERATION_FAILED, msg_type, seq,
                               int(faults_to_wire(self._latched_seen))))

    def _handle(self, message: Message, now_s: float, telemetry: Telemetry) -> bytes:
        body = message.body
        self._handling = (int(body.MESSAGE_TYPE), message.seq)
        self._latched_seen = Fault(int(telemetry.faults)) & _LATCHES
        if isinstance(body, Hello):
            return self._hello(message.seq, body, now_s, telemetry)
        if self._session_id is None:
            return self._send(Nack(NackCode.NO_SESSION, body.MESSAGE_TYPE, message.seq, 0))
        self._ack_seq = message.seq
        self._fed_at_s = self.last_fed_s = now_s
        self._fed += 1
        if isinstance(body, Heartbeat):
            self._counts["heartbeats"] += 1
            return b""
        if isinstance(body, CommandPayload):
            self._counts["commands"] += 1
            out = self._command(message.seq, body, now_s, telemetry)
            if self.answer_commands:
                out += self._telemetry(now_s, telemetry)
            return out
        return b""  # the decoder lets only host-sent types through

    def _hello(self, seq: int, hello: Hello, now_s: float, telemetry: Telemetry) -> bytes:
        version = min(hello.max_version, PROTOCOL_VERSION)
        if version < max(hello.min_version, MIN_PROTOCOL_VERSION):
            return self._send(Nack(NackCode.UNSUPPORTED_VERSION, hello.MESSAGE_TYPE, seq,
                                   MIN_PROTOCOL_VERSION | PROTOCOL_VERSION << 8))
        out = bytearray()
        if hello.session_id != self._session_id:
            if self._session_id is not None and self._belt_active(telemetry):
                out += self._stop(StopReason.NEW_SESSION, now_s, telemetry)
            self._drive = self._halted()
            self._session_id = hello.session_id
            self._ack_seq = None
            self._fed = 0
            self._counts["sessions"] += 1
            self.watchdog_s = _clamp_ms(hello.watchdog_ms, DEFAULT_WATCHDOG_MS, MIN_WATCHDOG_MS,
                                        MAX_WATCHDOG_MS) / 1000.0
            self.telemetry_period_s = _clamp_ms(
                hello.telemetry_period_ms, DEFAULT_TELEMETRY_PERIOD_MS, MIN_TELEMETRY_PERIOD_MS,
                MAX_TELEMETRY_PERIOD_MS) / 1000.0
            self._fed_at_s = now_s
        lim = self.limits
        out += self._send(HelloAck(
            min_version=MIN_PROTOCOL_VERSION, max_version=PROTOCOL_VERSION, version=version,
            session_id=hello.session_id, watchdog_ms=round(self.watchdog_s * 1000),
            telemetry_period_ms=round(self.telemetry_period_s * 1000),
            capabilities=lim.capabilities,
            max_speed_kmh_x100=lim.max_speed_kmh_x100,
            min_incline_pct_x10=lim.min_incline_pct_x10,
            max_incline_pct_x10=lim.max_incline_pct_x10))
        out += self._telemetry(now_s, telemetry)  # telemetry starts with the session
        return bytes(out)

    def _command(self, seq: int, payload: CommandPayload, now_s: float,
                 telemetry: Telemetry) -> bytes:
        """Section 9.3: range, reset, emergency stop, mode, latched stops, in that order."""
        out = bytearray()
        flags = CommandFlag(payload.flags)
        requested = payload.to_command()
        refused_at = self._refusal(payload)
        if refused_at is not None:
            out += self._send(Nack(NackCode.INVALID_PARAMETER, payload.MESSAGE_TYPE, seq,
                                   refused_at))
            if CommandFlag.EMERGENCY_STOP not in flags and requested.mode is not DriveMode.STOP:
                return bytes(out)  # refused as a whole: the previous command stays in force
            # A stop is never refused: it acts, and the incline keeps its target.
            requested = replace(requested, incline_pct=self._drive.incline_pct)
            flags &= ~CommandFlag.RESET
        # A RESET or an emergency stop waits in the drive command until the motor board
        # takes it: a COMMAND arriving first does not cancel it.
        reset = CommandFlag.RESET in flags or self._drive.reset
        clears = reset or self._taken_unseen.reset
        # An emergency stop latches on the motor board when it takes it; one taken already
        # (and not yet in the sample) is cleared by a RESET that follows it.
        pending_estop = self._drive.emergency_stop or (
            self._taken_unseen.emergency_stop and not reset)
        if CommandFlag.RESET in flags:
            self._comms_latched = False
        if CommandFlag.EMERGENCY_STOP in flags:
            if self._belt_active(telemetry) or not self._stop_reported:
                out += self._stop(StopReason.HOST_EMERGENCY, now_s, telemetry)
            self._drive = self._halted(emergency_stop=True, reset=reset)
            return bytes(out)
        latched = self._latched(telemetry, cleared_by_reset=clears)
        if pending_estop:
            latched |= Fault.STOP_BUTTON  # the motor board latches it when it takes the stop
        wants_motion = requested.mode is not DriveMode.STOP and requested.belt_speed_mps > 0.0
        if latched:
            if wants_motion:  # always answered: a refused motion command is never silent
                out += self._send(Nack(NackCode.NOT_PERMITTED, payload.MESSAGE_TYPE, seq,
                                       int(faults_to_wire(latched))))
            self._drive = self._halted(reset=reset)
            return bytes(out)
        command = self._applicable(requested)
        if command.mode is DriveMode.STOP:
            if self._belt_active(telemetry) and not self._stop_reported:
                out += self._stop(StopReason.HOST_STOP, now_s, telemetry)
        elif wants_motion:
            self._stop_reported = False
        self._drive = replace(command, reset=reset)
        return bytes(out)

    def _halted(self, *, emergency_stop: bool = False, reset: bool = False) -> Command:
        """Mode STOP for the drive, the incline held at its target; an emergency stop or a
        RESET the motor board has not taken yet stays pending."""
        return Command(mode=DriveMode.STOP, incline_pct=self._drive.incline_pct,
                       emergency_stop=emergency_stop or self._drive.emergency_stop,
                       reset=reset or self._drive.reset)

    def _refusal(self, payload: CommandPayload) -> int | None:
        """Offset of the first field the machine cannot honour (section 9.3 step 0), or None.

        Nothing is clamped: a host that asks for more than HELLO_ACK reported has a bug,
        and the safe answer to a bug is not the machine's top speed.
        """
        lim, caps = self.limits, self.limits.capabilities
        mode = WireMode(payload.mode)
        if mode is WireMode.NORMAL and payload.target_speed_kmh_x100 > lim.max_speed_kmh_x100:
            return payload.offset_of("target_speed_kmh_x100")
        if Capability.INCLINE in caps and not (
                lim.min_incline_pct_x10 <= payload.target_incline_pct_x10
                <= lim.max_incline_pct_x10):
            return payload.offset_of("target_incline_pct_x10")
        if (mode is not WireMode.STOP and Capability.REVERSE not in caps
                and payload.direction == WireDirection.REVERSE):
            return payload.offset_of("direction")
        if mode is WireMode.RESISTANCE and Capability.RESISTANCE not in caps:
            return payload.offset_of("mode")
        return None

    def _applicable(self, command: Command) -> Command:
        """The command for the drive: the incline is not the host's to set without a lift."""
        if Capability.INCLINE in self.limits.capabilities:
            return command
        return replace(command, incline_pct=self._drive.incline_pct)

    def _latched(self, telemetry: Telemetry, cleared_by_reset: bool) -> Fault:
        """Stops that hold the drive disabled; a RESET clears those whose cause has gone."""
        latched = Fault(int(telemetry.faults)) & _LATCHES
        if cleared_by_reset:
            # The motor board clears its latches on this same reset if their causes have gone;
            # only a key still out (or a drive that will not allow it) keeps one set.
            keep = Fault.NONE
            if telemetry.key_present is False:
                keep |= Fault.KEY_OUT
            latched &= keep
        if self._comms_latched:
            latched |= Fault.COMMS
        return latched

    # --- time ----------------------------------------------------------------------------
    def on_tick(self, now_s: float, telemetry: Telemetry) -> bytes:
        """Watchdog, stops seen on the machine, periodic TELEMETRY; return what to send."""
        if self._session_id is None:
            return b""
        out = bytearray()
        self._taken_unseen = Command(mode=DriveMode.STOP)  # this tick's sample shows it
        if self._fed_at_s is not None and now_s - self._fed_at_s > self.watchdog_s + 1e-9:
            self._fed_at_s = None  # one expiry per silence
            if self._belt_active(telemetry) or self._drive.mode is not DriveMode.STOP:
                if self._belt_active(telemetry):
                    self._comms_latched = True
                    self._counts["watchdog_stops"] += 1
                    self.watchdog_stops_s.append(now_s)
                    out += self._stop(StopReason.WATCHDOG, now_s, telemetry, force=True)
            self._drive = self._halted()
        hard = Fault(int(telemetry.faults)) & _LATCHES
        # A RESET the motor board has not taken yet is about to clear these: a latch seen
        # before then is the one the reset clears, not a new stop.
        if hard and not self._stop_reported and not self._drive.reset:
            out += self._stop(stop_reason_for_faults(hard), now_s, telemetry)
            self._drive = self._halted()
        if self._next_telemetry_s is None or now_s >= self._next_telemetry_s - 1e-9:
            out += self._telemetry(now_s, telemetry)
        return bytes(out)

    # --- bytes out -----------------------------------------------------------------------
    def _belt_active(self, telemetry: Telemetry) -> bool:
        return telemetry.drive_enabled or telemetry.belt_speed_mps > MOVING_ABOVE_MPS

    def _stop(self, reason: StopReason, now_s: float, telemetry: Telemetry,
              force: bool = False) -> bytes:
        if self._stop_reported and not force:
            return b""
        self._stop_reported = True
        self._counts["stops_sent"] += 1
        return self._send(Stopped(
            board_time_ms=round(now_s * 1000) & 0xFFFFFFFF, reason=reason,
            faults=faults_to_wire(self._reported_faults(telemetry)),
            speed_kmh_x100=min(round(mps_to_kmh(telemetry.belt_speed_mps) * 100), 0xFFFF)))

    def _reported_faults(self, telemetry: Telemetry) -> Fault:
        faults = Fault(int(telemetry.faults))
        return faults | Fault.COMMS if self._comms_latched else faults

    def _telemetry(self, now_s: float, telemetry: Telemetry) -> bytes:
        self._next_telemetry_s = now_s + self.telemetry_period_s
        self._counts["telemetry_sent"] += 1
        if self._comms_latched:
            telemetry = telemetry._replace(faults=self._reported_faults(telemetry))
        return self._send(TelemetryPayload.from_telemetry(telemetry, ack_seq=self._ack_seq))

    def _send(self, body: Body) -> bytes:
        if isinstance(body, Nack):
            self._counts["nacks_sent"] += 1
        frame = encode(body, self._seq)
        self._seq = (self._seq + 1) % SEQ_MODULUS
        return frame
