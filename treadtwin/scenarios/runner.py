"""Run a validated scenario: build the twin, run the engine, judge the criteria."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..controllers.emulation import (
    CurvedEmulationParams,
    CurvedEmulator,
    ManualEmulationParams,
    ManualEmulator,
    SledEmulationParams,
    SledEmulator,
)
from ..controllers.estimation import TachSpeedEstimator
from ..controllers.incline import InclineController, InclineControlParams
from ..controllers.interface import Controller
from ..controllers.loop import ControlLoop
from ..controllers.program import ProgramController
from ..controllers.self_paced import SelfPacedController, SelfPacedParams
from ..controllers.speed import SpeedController, SpeedControlParams
from ..controllers.supervisor import SafetySupervisor
from ..sim.engine import ClockMode, Engine, Event, RunInterrupted, RunResult
from ..sim.machine import Machine
from ..sim.randomness import RunStreams
from ..sim.treadmill import SimulatedTreadmill
from ..sim.variation import vary_machine
from ..sim.walker.balance import Walker
from ..sim.walker.population import draw_person
from .criteria import evaluate, interrupted_criterion
from .metrics import compute_metrics
from .schema import EMULATIONS, Scenario


class ScenarioInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a run; ``result`` is the run so far, judged, with its
    failed ``completed`` criterion."""

    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(f"interrupted at {result.run.sim_time_s:.2f} s")
        self.result = result


class Recorder(Protocol):
    """Takes the run so far once a simulated second (:class:`.recording.TraceRecorder`):
    the trace, and the events (``events_from(row)``: those the trace shows from that row
    on, and every other event so far)."""

    def flush(self, trace: Any, events_from: Callable[[int], list[Event]],
              now_s: float) -> None: ...


@dataclass
class ScenarioResult:
    """A finished run with its metrics and verdict."""

    scenario: Scenario
    run: RunResult
    metrics: dict[str, Any]
    criteria: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)  # further summary keys (hil, emulator)

    @property
    def passed(self) -> bool:
        """True when every criterion passed (a scenario without criteria passes)."""
        return all(c["passed"] for c in self.criteria)

    @property
    def reason(self) -> str:
        """Why the run failed, for the verdict line (empty when it passed)."""
        failed = [c for c in self.criteria if not c["passed"]]
        return "; ".join(f"{c['name']}: {c['detail']}" for c in failed)

    def summary(self) -> dict[str, Any]:
        """The contract's ``summary.json`` content."""
        run = self.run
        summary: dict[str, Any] = {
            "scenario": self.scenario.name,
            "passed": self.passed,
            "criteria": self.criteria,
            "events": [{"t_s": round(e.t_s, 6), "kind": e.kind, "detail": e.detail}
                       for e in run.events],
            "sim_time_s": run.sim_time_s,
            "wall_time_s": run.wall_time_s,
            "real_time_factor": run.real_time_factor,
            "metrics": self.metrics,
            "interrupted": run.interrupted,
            "seed": self.scenario.seed,
            "machine": self.scenario.machine.name,
            "source": self.scenario.source,
            **self.extra,
        }
        if run.timing is not None:
            summary["loop_timing"] = {
                "period_mean_s": run.timing.period_mean_s,
                "period_p99_s": run.timing.period_p99_s,
                "jitter_std_s": run.timing.jitter_std_s,
                "overruns": run.timing.overruns,
            }
        return summary


def tach_estimator(machine: Machine) -> TachSpeedEstimator:
    """The outer loop's tach estimator, set up for the machine's tach and board ramp."""
    pitch_m = machine.belt.roller_circumference_m / machine.sensors.tach_pulses_per_roller_turn
    return TachSpeedEstimator(pitch_m, model_accel_mps2=min(machine.drive.accel_mps2, 100.0),
                              model_decel_mps2=min(machine.drive.decel_mps2, 100.0))


def _wrapped_program(scenario: Scenario) -> Controller:
    """The program, wrapped by the controller of the ``[controller]`` kind."""
    params = scenario.controller
    program = ProgramController(scenario.program, period_s=scenario.engine.control_period_s)
    if isinstance(params, SelfPacedParams):
        return SelfPacedController(program, params)
    if isinstance(params, SpeedControlParams):
        return SpeedController(program, params, tach_estimator(scenario.machine))
    if isinstance(params, InclineControlParams):
        return InclineController(program, params)
    if isinstance(params, ManualEmulationParams):
        return ManualEmulator(program, params)
    if isinstance(params, SledEmulationParams):
        return SledEmulator(program, params)
    if isinstance(params, CurvedEmulationParams):
        return CurvedEmulator(program, params)
    return program


def build_controller(scenario: Scenario) -> Controller:
    """The scenario's program and controller stack, behind its supervisor if it has one.

    The same stack runs in-process on the twin and against hardware (``treadtwin hil``).
    """
    controller = _wrapped_program(scenario)
    if scenario.supervisor is not None:
        controller = ControlLoop(controller, SafetySupervisor(scenario.supervisor))
    return controller


def randomness(scenario: Scenario, walker: Walker | None) -> dict[str, Any]:
    """summary.json's ``randomness``: the seed, the sources that drew from it, and the
    person drawn from a population. No sources: the run is the same for every seed."""
    sources = ["machine.deck"] if scenario.variation.active else []
    if walker is not None and walker.drawn:
        sources.append("walker.person")
    if walker is not None and walker.params.stride_time_cv > 0.0:
        sources.append("walker.steps")
    out: dict[str, Any] = {"seed": scenario.seed, "sources": sources}
    if walker is not None and walker.drawn:
        out["walker_drawn"] = {"population": walker.params.population, **walker.drawn}
    if scenario.variation.active:
        out["machine_drawn"] = machine_drawn(scenario)[1]
    return out


def machine_drawn(scenario: Scenario) -> tuple[Machine, dict[str, float]]:
    """The machine as this run finds it (its ``[variation]`` drawn from the seed)."""
    if not scenario.variation.active:
        return scenario.machine, {}
    rng = RunStreams(scenario.seed).generator("machine.deck")
    return vary_machine(scenario.machine, scenario.variation, rng)


def build_twin(scenario: Scenario) -> tuple[SimulatedTreadmill, Walker | None]:
    """The scenario's machine as a twin, and its walker (``None`` for an empty belt).

    A walker from a population is drawn, and a varying walker steps, from the run's
    seeded streams (:mod:`..sim.randomness`)."""
    spec = scenario.engine
    treadmill = SimulatedTreadmill(
        machine_drawn(scenario)[0],
        duration_s=scenario.duration_s,
        physics_dt_s=spec.physics_dt_s,
        record_period_s=spec.record_period_s,
    )
    walker = None
    if scenario.walker is not None:
        # On a machine without a motor, and under an emulation, the walker moves the belt.
        pushes = not scenario.machine.motorized or isinstance(scenario.controller, EMULATIONS)
        streams = RunStreams(scenario.seed)
        params, drawn = scenario.walker, {}
        if params.population is not None:
            params, drawn = draw_person(params, streams.generator("walker.person"))
        rng = streams.generator("walker.steps") if params.stride_time_cv > 0.0 else None
        walker = Walker(params, scenario.machine.belt.running_length_m,
                        self_propelled=pushes, physics_dt_s=spec.physics_dt_s,
                        record_period_s=spec.record_period_s, rng=rng)
        walker.drawn = drawn
    return treadmill, walker


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    clock: ClockMode = ClockMode.LOCKSTEP,
    time_scale: float = 1.0,
    recorder: Recorder | None = None,
) -> ScenarioResult:
    """Run a scenario on the twin; ``seed`` overrides the file's seed.

    A ``recorder`` gets the trace and events so far once a simulated second. On Ctrl-C
    :class:`ScenarioInterrupted` carries the run so far, judged."""
    if seed is not None:
        scenario = replace(scenario, seed=seed)
    treadmill, walker = build_twin(scenario)
    controller = build_controller(scenario)

    def flush(now_s: float) -> None:
        recorder.flush(treadmill.trace(), engine.collect_events, now_s)

    engine = Engine(treadmill, controller, scenario.faults, clock=clock, time_scale=time_scale,
                    walker=walker, on_flush=None if recorder is None else flush)
    drew = {"randomness": randomness(scenario, walker)}
    try:
        run = engine.run(scenario.duration_s)
    except RunInterrupted as stop:
        interrupted = judge(scenario, stop.run)
        interrupted.extra.update(drew)
        raise ScenarioInterrupted(interrupted) from None
    result = judge(scenario, run)
    result.extra.update(drew)
    return result


def judge(scenario: Scenario, run: RunResult) -> ScenarioResult:
    """Metrics and criteria of a finished twin run (in-process, or behind the emulator)."""
    metrics = compute_metrics(run.trace, run.events,
                              walker_mass_kg=scenario.walker.mass_kg if scenario.walker else None,
                              running_length_m=scenario.machine.belt.running_length_m)
    criteria = evaluate(scenario.criteria, metrics, run.events, scenario.faults)
    if run.interrupted:
        criteria.append(interrupted_criterion(run.sim_time_s, scenario.duration_s))
    return ScenarioResult(scenario=scenario, run=run, metrics=metrics, criteria=criteria)
