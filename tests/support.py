"""Small helpers shared by the tests: build a machine, drive it, read its trace."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from treadtwin.controllers.interface import Command
from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.scenarios.metrics import energy_residual_j, energy_throughput_j
from treadtwin.sim.engine import Engine, RunResult
from treadtwin.sim.faults import FaultSpec
from treadtwin.sim.machine import Machine
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill


def machine_with(name: str, **parts: dict) -> Machine:
    """A preset with some part parameters replaced: machine_with("home-motorized", drive={...})."""
    machine = preset(name)
    for part_name, values in parts.items():
        machine = replace(machine, **{part_name: replace(getattr(machine, part_name), **values)})
    return machine


def run_program(machine: Machine, setpoints: list[Setpoint], duration_s: float,
                faults: tuple[FaultSpec, ...] = ()) -> RunResult:
    """Run a setpoint program on the twin with the default engine settings."""
    treadmill = SimulatedTreadmill(machine, duration_s)
    return Engine(treadmill, ProgramController(setpoints), faults).run(duration_s)


def hold(treadmill: SimulatedTreadmill, command: Command, until_s: float) -> np.ndarray:
    """Write one command and advance the plant; returns the whole trace so far."""
    treadmill.write(command)
    treadmill.advance_to(until_s)
    return treadmill.trace()


def residual_pct(trace: np.ndarray) -> float:
    """Largest energy-balance residual over the run, in % of the energy that flowed."""
    return 100.0 * float(np.max(np.abs(energy_residual_j(trace)))) / energy_throughput_j(trace)


def at(trace: np.ndarray, t_s: float) -> np.void:
    """The trace row at (or just after) t_s."""
    return trace[int(np.searchsorted(trace["t_s"], t_s - 1e-9))]
