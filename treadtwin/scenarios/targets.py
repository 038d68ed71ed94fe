"""Where a scenario runs: the twin in-process, the twin behind the emulator, or a real port.

:class:`RunningEmulator` serves the twin on a pseudo-terminal from a background
thread, as ``treadtwin emulate`` does from its own process; :class:`TreadmillTarget`
runs one scenario on the target a test names (``twin``, ``emulator`` or a port),
so the same test checks all three (the pytest plugin's ``treadmill`` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..emulator.port import PtyPort
from ..emulator.runner import Emulator, EmulatorClock, board_for
from ..sim.engine import RunResult
from ..sim.faults import FaultSpec
from ..sim.machine import Machine
from ..sim.treadmill import SimulatedTreadmill
from ..sim.walker.balance import Walker


class RunningEmulator:
    """``with RunningEmulator(machine) as emu:`` serves the twin on ``emu.port.path``."""

    def __init__(self, machine: Machine, *, protocol: str = "treadtwin",
                 clock: EmulatorClock = EmulatorClock.WALL, baud: int | None = 115200,
                 duration_s: float = 30.0, link_path: str | None = None,
                 treadmill: SimulatedTreadmill | None = None, walker: Walker | None = None,
                 faults: Sequence[FaultSpec] = (), port: PtyPort | None = None) -> None:
        self.treadmill = treadmill or SimulatedTreadmill(machine, duration_s=duration_s)
        self.board = board_for(machine, protocol, clock)
        self.port = port or PtyPort(baud, link_path=link_path)
        self.emulator = Emulator(self.treadmill, self.board, self.port, clock, walker=walker,
                                 faults=faults)
        self.duration_s = duration_s
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            self.result = self.emulator.run(self.duration_s, should_stop=self._stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    @property
    def path(self) -> str:
        return self.port.path

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        return self

    def stop(self) -> RunResult | None:
        """Stop serving, wait for the thread and return the twin's run."""
        self._stop.set()
        self._thread.join(timeout=60.0)
        if self.error is not None:
            raise self.error
        return self.result

    def join(self, timeout_s: float = 60.0) -> RunResult | None:
        """Wait for the emulator to reach its duration."""
        self._thread.join(timeout=timeout_s)
        if self.error is not None:
            raise self.error
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.port.close()


class TreadmillTarget:
    """Runs a scenario on the twin, through the emulator, or against a real port."""

    def __init__(self, where: str, protocol: str = "treadtwin") -> None:
        self.where = where
        self.protocol = protocol

    def __repr__(self) -> str:
        return f"TreadmillTarget({self.where!r})"

    def run(self, scenario):
        """The scenario's result as that target reports it (a ScenarioResult)."""
        from ..controllers.serial_adapter import SerialAdapterTreadmill
        from .hil import Protocol, open_treadmill, run_hil
        from .runner import build_twin, run_scenario

        if self.where == "twin":
            return run_scenario(scenario)
        if self.where == "emulator":
            treadmill, walker = build_twin(scenario)
            with RunningEmulator(scenario.machine, clock=EmulatorClock.LOCKSTEP, baud=921600,
                                 duration_s=scenario.duration_s, treadmill=treadmill,
                                 walker=walker, faults=scenario.faults) as emulator:
                period_ms = round(scenario.engine.control_period_s * 1000)
                host = SerialAdapterTreadmill(emulator.path, baudrate=921600,
                                              telemetry_period_ms=period_ms).open(lockstep=True)
                try:
                    return run_hil(scenario, host, lockstep=True)
                finally:
                    host.close()
        treadmill = open_treadmill(self.where, Protocol(self.protocol))
        try:
            return run_hil(scenario, treadmill)
        finally:
            treadmill.close()
