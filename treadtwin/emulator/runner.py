"""The twin behind a port: board firmware, link and engine run together.

The simulation engine ticks a :class:`BoardProxy` in place of a controller:
the proxy runs the board firmware and hands its drive command to the twin,
so faults, the walker and the plant run exactly as in an in-process run.

Two clocks:

- **wall clock**: the engine follows wall time in 1 ms board ticks; bytes
  from the host are handled the moment their wire time is over, so
  latency through the emulator is the wire time plus processing.
- **lockstep**: the board's clock advances one host period per host frame
  (COMMAND or HEARTBEAT): TELEMETRY for time t, the host's frame, the
  command acts at t, the twin advances to t + period. The host therefore
  sees exactly what an in-process controller would, at any speed. If the
  host falls silent for longer than the watchdog (wall time), the emulator
  free-runs at wall speed so the board's watchdog can stop the belt, and
  goes back to lockstep when the host returns.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence

from ..controllers.interface import Command, Telemetry
from ..controllers.lab_protocols import LabProfile
from ..controllers.protocol import Capability
from ..sim.engine import Engine, RunResult
from ..sim.faults import FaultSpec
from ..sim.machine import Machine
from ..sim.treadmill import SimulatedTreadmill
from ..sim.walker.balance import Walker
from .adapter_board import AdapterBoard, MachineLimits
from .board import DeviceBoard
from .guard import GuardedBoard
from .lab_board import LabBoard
from .port import PtyPort

#: The board firmware's own tick in wall-clock mode (s).
BOARD_TICK_S = 0.001
#: A sleep overshoots by tens of microseconds; this close to a byte's due time, poll instead.
SPIN_BEFORE_DUE_S = 0.0003


class EmulatorClock(enum.Enum):
    """How the emulated board's time relates to the host."""

    LOCKSTEP = "lockstep"
    WALL = "wall"


def machine_limits(machine: Machine) -> MachineLimits:
    """What the adapter board reports about a twin machine in HELLO_ACK: the twin always
    reports current, bus voltage, winding temperature and the key; the rest as fitted."""
    incline = machine.incline
    caps = (Capability.MOTOR_CURRENT | Capability.BUS_VOLTAGE | Capability.MOTOR_TEMP
            | Capability.KEY_SENSE)
    for flag, present in ((Capability.REVERSE, machine.bidirectional),
                          (Capability.INCLINE, not incline.fixed),
                          (Capability.RESISTANCE, not machine.motorized),
                          (Capability.WALKER_DISTANCE, machine.has_distance_sensor),
                          (Capability.DECK_FORCE, machine.has_force_deck)):
        if present:
            caps |= flag
    return MachineLimits(capabilities=caps,
                         max_speed_mps=machine.drive.speed_max_mps if machine.motorized else 0.01,
                         min_incline_pct=incline.incline_min_pct,
                         max_incline_pct=incline.incline_max_pct)


def _pump(port: PtyPort, board: DeviceBoard, now_s: float, telemetry: Telemetry) -> None:
    """Deliver the bytes whose wire time is over, both ways, and send the board's answers.

    ``now_s`` is the board's clock; the wire runs on the wall clock."""
    port.flush_due(time.monotonic())
    port.poll_input(time.monotonic())
    data = port.received(time.monotonic())
    if data:
        port.send(board.on_bytes(data, now_s, telemetry), time.monotonic())
        port.flush_due(time.monotonic())


class BoardProxy:
    """Stands where a controller stands in the engine; the host is behind the board.

    In lockstep the board must count the host's frames (:attr:`AdapterBoard.fed`)."""

    def __init__(self, board: DeviceBoard, port: PtyPort, period_s: float,
                 lockstep: bool, host_timeout_s: float = 0.5) -> None:
        self.board = board
        self.port = port
        self.period_s = period_s
        self.lockstep = lockstep
        self.host_timeout_s = host_timeout_s
        self.host_present = True
        self._last: Command | None = None
        self.telemetry: Telemetry | None = None
        self._wall_origin_s: float | None = None

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        self.telemetry = telemetry  # the board's newest sample, for answering host bytes
        self.port.send(self.board.on_tick(now_s, telemetry), time.monotonic())
        if self.lockstep:
            self._wait_for_host(now_s, telemetry)
        command = self.board.take_drive_command()
        if command != self._last:
            self._last = command
            return command
        return None

    def _wait_for_host(self, now_s: float, telemetry: Telemetry) -> None:
        """Lockstep: hold the board clock until the host's frame for this tick has come."""
        board = self.board
        target = board.fed + 1  # type: ignore[attr-defined]
        wall = time.monotonic
        if self._wall_origin_s is None:
            self._wall_origin_s = wall() - now_s
        deadline = wall() + (self.host_timeout_s if self.host_present else 0.0)
        if not self.host_present:  # free-run: sim time follows wall time until the host is back
            deadline = max(deadline, self._wall_origin_s + now_s)
        while True:
            _pump(self.port, board, now_s, telemetry)
            if board.fed >= target:  # type: ignore[attr-defined]
                break
            remaining = deadline - wall()
            if remaining <= 0.0:
                self.host_present = False
                self._wall_origin_s = wall() - now_s
                return
            self.port.wait(min(remaining, max(self.port.next_due_s() - wall(), 0.0)))
        self.host_present = True
        self._wall_origin_s = None


class Emulator:
    """A twin (with its walker and faults) behind a board and a port."""

    def __init__(self, treadmill: SimulatedTreadmill, board: DeviceBoard, port: PtyPort,
                 clock: EmulatorClock, *, walker: Walker | None = None,
                 faults: Sequence[FaultSpec] = (), host_timeout_s: float = 0.5) -> None:
        self.treadmill = treadmill
        self.board = GuardedBoard(board)  # no exception in the board's logic ends the run
        self.port = port
        self.clock = clock
        self.walker = walker
        self.faults = faults
        self.host_timeout_s = host_timeout_s
        self.engine: Engine | None = None

    def run(self, duration_s: float,
            should_stop: Callable[[], bool] = lambda: False) -> RunResult:
        """Serve the host until ``duration_s`` of board time or until ``should_stop()``."""
        wall_start = time.monotonic()
        if self.clock is EmulatorClock.LOCKSTEP:
            reached = self._run_lockstep(duration_s, should_stop)
        else:
            reached = self._run_wall(duration_s, should_stop)
        engine = self.engine
        if engine is None:  # never started: the host never opened a session
            engine = self._engine(BOARD_TICK_S, lockstep=False)
            engine.start(0.0)
        return engine.finish(reached, time.monotonic() - wall_start)

    def _engine(self, period_s: float, lockstep: bool) -> Engine:
        self.proxy = BoardProxy(self.board, self.port, period_s, lockstep, self.host_timeout_s)
        self.engine = Engine(self.treadmill, self.proxy, self.faults, walker=self.walker)
        return self.engine

    def _run_wall(self, duration_s: float, should_stop: Callable[[], bool]) -> float:
        """Follow wall time: bytes first (they set the latency), then the board's 1 ms ticks.

        Board time starts when the host does (its first HELLO, or its first byte on a lab
        protocol): a scenario's program, walker and faults line up with the host's run."""
        if not self._wait_for_first_host(should_stop, time.monotonic() + duration_s):
            return 0.0
        engine = self._engine(BOARD_TICK_S, lockstep=False)
        engine.start(duration_s)
        port, proxy = self.port, self.proxy
        wall = time.monotonic
        origin = wall()
        now = next_tick = 0.0
        proxy.telemetry = self.treadmill.read()
        while now < duration_s and not should_stop():
            now = min(wall() - origin, duration_s)
            # Bytes first: answered from the newest 1 ms sample, as the board's firmware does.
            _pump(port, self.board, now, proxy.telemetry)
            if now >= next_tick:
                engine.advance(now)  # the new drive command acts from the next tick on
                next_tick = (int(now / BOARD_TICK_S) + 1) * BOARD_TICK_S
            due = port.next_due_s()
            remaining = min(origin + next_tick, due) - wall()
            if due - wall() <= SPIN_BEFORE_DUE_S:
                port.wait(0.0)  # bytes are due any moment: poll instead of sleeping past them
            elif remaining > 0.0:
                port.wait(min(remaining, due - wall() - SPIN_BEFORE_DUE_S))
        return now

    def _wait_for_first_host(self, should_stop: Callable[[], bool], deadline_s: float) -> bool:
        """Answer the host at board time 0 until it has opened a session (treadtwin
        protocol) or sent its first byte (lab protocols); False if told to stop, or if no
        host came before ``deadline_s`` (wall clock: the run's whole duration)."""
        board = self.board
        inner = board.board
        telemetry = self.treadmill.read()

        def arrived() -> bool:
            if isinstance(inner, AdapterBoard):
                return inner.session_id is not None
            return inner.counts.bytes_in > 0

        while not arrived():
            if should_stop() or time.monotonic() >= deadline_s:
                return False
            _pump(self.port, board, 0.0, telemetry)
            self.port.wait(max(0.0, min(0.05, self.port.next_due_s() - time.monotonic())))
        return True

    def _run_lockstep(self, duration_s: float, should_stop: Callable[[], bool]) -> float:
        board = self.board
        if not isinstance(board.board, AdapterBoard):
            raise ValueError("lockstep needs treadtwin's own protocol (use the wall clock)")
        # No board time passes before the host opens a session; its HELLO sets the period.
        telemetry = self.treadmill.read()
        while board.session_id is None:
            if should_stop():
                return 0.0
            _pump(self.port, board, 0.0, telemetry)
            self.port.wait(min(0.05, self.port.next_due_s() - time.monotonic()))
        engine = self._engine(board.telemetry_period_s, lockstep=True)
        engine.start(duration_s)
        step = board.telemetry_period_s
        now = 0.0
        while now < duration_s and not should_stop():
            now = min(now + 10 * step, duration_s)
            engine.advance(now)
        self.port.flush_due(float("inf"))
        return now


PROTOCOLS = ("treadtwin", "woodway", "trackmaster")


def board_for(machine: Machine, protocol: str, clock: EmulatorClock) -> DeviceBoard:
    """The board firmware that answers for ``machine`` in ``protocol``."""
    if protocol == "treadtwin":
        return adapter_board_for(machine, clock)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if clock is EmulatorClock.LOCKSTEP:
        raise ValueError(f"lockstep needs the treadtwin protocol: {protocol} treadmills answer"
                         " requests and have no host tick to step on (use the wall clock)")
    if not machine.motorized:
        raise ValueError(f"{machine.name} has no motor: a {protocol} console cannot drive it")
    incline = machine.incline
    return LabBoard(LabProfile(protocol), max_speed_mps=machine.drive.speed_max_mps,
                    max_incline_pct=incline.incline_max_pct,
                    min_incline_pct=max(incline.incline_min_pct, 0.0),
                    reverse=machine.bidirectional)


def adapter_board_for(machine: Machine, clock: EmulatorClock) -> AdapterBoard:
    """The treadtwin-protocol board for a twin (on the wall clock it answers commands at once)."""
    return AdapterBoard(machine_limits(machine), answer_commands=clock is EmulatorClock.WALL)
