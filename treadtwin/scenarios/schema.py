"""Scenario files: TOML in, validated :class:`Scenario` out, or one clear error.

The keys are a contract (DESIGN.md, "Scenarios"). Every error is a
:class:`ScenarioError` whose message is one line naming the file, the key,
the value and what is allowed. A value the machine cannot do is an error,
never a silent clip.

Program rows carry values forward: a row that gives only ``incline_pct``
keeps the previous row's speed, direction and resistance.
"""

from __future__ import annotations

import inspect
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..controllers.emulation import (
    SLED_GRADE_PCT,
    CurvedEmulationParams,
    DriveModel,
    ManualEmulationParams,
    SledEmulationParams,
)
from ..controllers.incline import InclineCalibration, InclineControlParams
from ..controllers.interface import BeltDirection
from ..controllers.program import Setpoint
from ..controllers.routines import ROUTINES
from ..controllers.self_paced import SelfPacedParams
from ..controllers.speed import SpeedControlParams
from ..controllers.supervisor import SupervisorLimits
from ..controllers.units import STANDARD_GRAVITY_MPS2, kmh_to_mps, mph_to_mps
from ..sim.faults import FaultKind, FaultSpec
from ..sim.machine import CapabilityError, Machine
from ..sim.params import ParameterError
from ..sim.presets import PRESETS, preset
from ..sim.provenance import FILE_TAG
from ..sim.variation import MachineVariation
from ..sim.walker.balance import WALKER_LAYERS, WalkerParams
from ..sim.walker.gait import HEIGHT_RANGE_M, MASS_RANGE_KG, Facing, GaitParams
from ..sim.walker.population import POPULATIONS

#: Speed keys with their factor to m/s and the unit shown in messages.
SPEED_KEYS = {
    "speed_mps": (1.0, "m/s"),
    "speed_kmh": (kmh_to_mps(1.0), "km/h"),
    "speed_mph": (mph_to_mps(1.0), "mph"),
}
PART_TABLES = ("motor", "belt", "drive", "brake", "incline", "sensors")
WALKER_KEYS = ("mass_kg", "height_m", "facing", "lanyard", "holds_handrails")
#: Further walker keys (numbers) beyond the contract's, with their units for messages.
WALKER_NUMBER_KEYS = {
    "step_on_at_s": "s", "step_off_at_s": "s", "preferred_position_frac": "",
    "normal_adjustment_m": "m",
    "reaction_delay_s": "s", "preferred_speed_mps": "m/s", "rail_support_frac": "",
    "max_push_bw": "", "max_speed_change_mps2": "m/s^2", "stride_time_cv": "",
}
WALKER_BOOL_KEYS = ("lanyard", "holds_handrails", "grabs_rails_on_stumble", "self_propelled",
                    "own_pace", "turns_when_stopped")
#: Scenario names become folder names under --out: letters, digits, '.', '_', '-'.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
GAIT_KEYS = ("step_length_asymmetry", "stance_asymmetry")
WALKER_TEXT_KEYS = ("layer", "population")


class ScenarioError(ValueError):
    """Invalid scenario input; ``str()`` is the one-line message for the user."""

    def __init__(self, source: str, key: str, value: Any, allowed: str) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.allowed = allowed
        long_text = isinstance(value, str) and len(value) >= 60
        shown = repr(value[:57]) + "..." if long_text else repr(value)
        super().__init__(f"{source}: {key} = {shown}: {allowed}")

    def __reduce__(self):
        """Pickle by the constructor's arguments (errors cross process pools in suites)."""
        return (type(self), (self.source, self.key, self.value, self.allowed))


@dataclass(frozen=True)
class CriterionSpec:
    """A pass/fail criterion as written in the file (see :mod:`.criteria`)."""

    kind: str
    limit: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineSpec:
    """How to step and record: physics step, controller period, trace period."""

    physics_dt_s: float = 0.001
    control_period_s: float = 0.01
    record_period_s: float = 0.01


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to run."""

    name: str
    duration_s: float
    seed: int
    machine: Machine
    program: tuple[Setpoint, ...]
    walker: WalkerParams | None = None
    faults: tuple[FaultSpec, ...] = ()
    criteria: tuple[CriterionSpec, ...] = ()
    engine: EngineSpec = EngineSpec()
    supervisor: SupervisorLimits | None = SupervisorLimits()  # None: no supervisor
    controller: ControllerParams | None = None  # None: the program alone
    variation: MachineVariation = MachineVariation()  # run-to-run spread of the machine
    description: str = ""
    source: str = "<scenario>"


#: What ``[controller]`` may configure; the kind is the type.
ControllerParams = (SelfPacedParams | SpeedControlParams | ManualEmulationParams
                    | SledEmulationParams | CurvedEmulationParams | InclineControlParams)
#: Controllers that move the belt from what the walker does: the program gives no speed.
EMULATIONS = (ManualEmulationParams, SledEmulationParams, CurvedEmulationParams)


class _Reader:
    """Reads one table of the TOML document, tracking the key path for messages."""

    def __init__(self, source: str, table: Mapping[str, Any], path: str) -> None:
        self.source = source
        self.table = table
        self.path = path

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, value: Any, allowed: str) -> ScenarioError:
        return ScenarioError(self.source, self.key(name), value, allowed)

    def only(self, allowed: tuple[str, ...] | list[str]) -> None:
        for name in self.table:
            if name not in allowed:
                raise self.fail(name, self.table[name],
                                f"unknown key; allowed here: {', '.join(allowed)}")

    def number(self, name: str, default: float | None = None, *, lo: float = -math.inf,
               hi: float = math.inf, unit: str = "") -> float:
        if name not in self.table:
            if default is None:
                raise ScenarioError(self.source, self.key(name), "<missing>",
                                    f"required: a number{' in ' + unit if unit else ''}")
            return default
        value = self.table[name]
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value)):
            raise self.fail(name, value, f"must be a finite number{' in ' + unit if unit else ''}")
        if not lo <= value <= hi:
            suffix = f" {unit}" if unit else ""
            raise self.fail(name, value, f"must be within {lo:g}..{hi:g}{suffix}")
        return float(value)

    def integer(self, name: str, default: int) -> int:
        value = self.table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, value, "must be a whole number")
        return value

    def text(self, name: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        if name not in self.table:
            if default is None:
                allowed = f"one of {', '.join(choices)}" if choices else "a string"
                raise ScenarioError(self.source, self.key(name), "<missing>",
                                    f"required: {allowed}")
            return default
        value = self.table[name]
        if not isinstance(value, str):
            raise self.fail(name, value, "must be a string")
        if choices and value not in choices:
            raise self.fail(name, value, f"allowed: {', '.join(choices)}")
        return value

    def sub(self, name: str, value: Any) -> _Reader:
        if not isinstance(value, Mapping):
            raise self.fail(name, value, "must be a table")
        return _Reader(self.source, value, self.key(name))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "file", source, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, "file", source, f"cannot be read ({exc})") from None
    return parse_scenario(text, source)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "toml", "<document>", f"is not valid TOML ({exc})") from None
    return scenario_from_dict(doc, source)


def scenario_from_dict(doc: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as nested dicts (as parsed from TOML)."""
    top = _Reader(source, doc, "")
    top.only(["scenario", "machine", "walker", "program", "routine", "controller", "faults",
              "criteria", "engine", "supervisor", "variation"])

    head = top.sub("scenario", doc.get("scenario", {}))
    head.only(["name", "duration_s", "seed", "description"])
    name = head.text("name")
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        # The name becomes the output folder: a hostile file must not write elsewhere.
        raise head.fail("name", name, "must be 1-100 letters, digits, '.', '_' or '-', not"
                        " starting with '.' (it names the output folder)")
    duration_s = head.number("duration_s", lo=0.01, hi=24 * 3600.0, unit="s")
    seed = head.integer("seed", 0)
    description = head.text("description", "")

    if "machine" not in doc:
        raise ScenarioError(source, "machine.preset", "<missing>",
                            f"required: one of {', '.join(sorted(PRESETS))}")
    machine = _machine(top.sub("machine", doc["machine"]))

    walker = _walker(top.sub("walker", doc["walker"]), duration_s) if "walker" in doc else None
    engine = _engine(top.sub("engine", doc.get("engine", {})), duration_s)
    controller = _controller(top.sub("controller", doc.get("controller", {})), machine, walker,
                             engine)
    # An emulated manual machine or sled takes its resistance from the program rows.
    has_brake = machine.brake.has_brake or isinstance(
        controller, (ManualEmulationParams, SledEmulationParams))
    if "routine" in doc:
        if "program" in doc:
            raise ScenarioError(source, "routine", "<table>",
                                "give either [routine] or [[program]] rows, not both")
        if isinstance(controller, EMULATIONS):
            raise ScenarioError(source, "routine", "<table>",
                                "a routine sets speeds; under an emulation the walker moves the"
                                " belt: give [[program]] rows (incline, resistance_level)")
        program = _routine(top.sub("routine", doc["routine"]), machine, duration_s)
    else:
        program = _program(top, doc.get("program", []), machine, duration_s, has_brake)
        _check_emulated_program(top, doc.get("program", []), controller)
    if walker is not None and any(sp.direction is BeltDirection.REVERSE for sp in program):
        raise ScenarioError(source, "program.belt_direction", "reverse",
                            "a walker on a belt that reverses under it is not modelled; run the"
                            " reverse belt without a [walker] table")
    faults = _faults(top, doc.get("faults", []), duration_s, machine, walker is not None)
    criteria = _criteria(top, doc.get("criteria", []), walker is not None)
    supervisor = _supervisor(top.sub("supervisor", doc.get("supervisor", {})), walker, machine)
    spread = top.sub("variation", doc.get("variation", {}))
    spread.only(["deck_friction_cv"])
    variation = MachineVariation(deck_friction_cv=spread.number("deck_friction_cv", 0.0, lo=0.0,
                                                                hi=0.5))
    return Scenario(name=name, duration_s=duration_s, seed=seed, machine=machine,
                    program=program, walker=walker, faults=faults, criteria=criteria,
                    engine=engine, supervisor=supervisor, controller=controller,
                    variation=variation, description=description, source=source)


#: Outer speed loop settings a scenario may give; the rest follow the machine.
SPEED_LOOP_KEYS = ("kp", "ki_per_s", "trim_limit_mps", "rate_limit_mps2",
                   "settle_tolerance_mps")
CONTROLLER_KINDS = ("program", "speed_loop", "self_paced", "incline_loop", "emulate_manual",
                    "emulate_curved", "emulate_sled")
#: Effective delay from a speed command to the drive's force, measured on the twin as the
#: threshold of oscillation of the admittance loop (controllers/emulation.py); other
#: machines get the larger, safer value unless the scenario gives ``response_delay_s``.
#: The instrumented figure was measured on its earlier, lightly damped drive; its servo now
#: settles at every mass a 5 ms delay allows, so 0.15 s is conservative there.
EMULATION_DELAY_S = {"club-motorized": 0.06, "instrumented": 0.15}
DEFAULT_EMULATION_DELAY_S = 0.2  # [U]
#: Incline-loop settings a scenario may give; the end stops and period follow the machine.
INCLINE_LOOP_KEYS = ("deadband_pct", "settle_s", "trim_limit_pct", "homing_overdrive_pct",
                     "homing_settle_s", "homing_timeout_s", "max_sensor_offset_pct")


def emulation_drive(machine: Machine, response_delay_s: float | None = None) -> DriveModel:
    """What an emulation knows of ``machine``'s drive: the force constant, the inertia and
    friction at the belt (as a run-down test gives them), its lowest speed and quadrants."""
    belt, drive = machine.belt, machine.drive
    if response_delay_s is None:
        response_delay_s = EMULATION_DELAY_S.get(machine.name, DEFAULT_EMULATION_DELAY_S)
    return DriveModel(
        force_constant_n_per_a=machine.force_constant_n_per_a,
        inertia_kg=belt.drive_side_mass_kg(machine.motor) + belt.belt_side_mass_kg,
        drag_n=belt.drive_coulomb_n + belt.deck_drag_empty_n,
        viscous_n_per_mps=belt.drive_viscous_n_per_mps + belt.deck_viscous_n_per_mps,
        deck_friction_coeff=belt.deck_friction_coeff,
        response_delay_s=response_delay_s,
        speed_min_mps=drive.speed_min_mps,
        hold_speed_mps=min(max(drive.command_speed_step_mps, 0.001), 0.1),
        quadrants=drive.quadrants,
    )


def _controller(reader: _Reader, machine: Machine, walker: WalkerParams | None,
                engine: EngineSpec) -> ControllerParams | None:
    """``[controller]``: the program alone (default), the outer speed loop in front of the
    board (``speed_loop``), self-paced belt speed (``self_paced``), the incline loop with
    homing and calibration (``incline_loop``), or the emulation of a manual, curved or sled
    treadmill (``emulate_manual``, ``emulate_curved``, ``emulate_sled``)."""
    kind = reader.text("kind", "program", choices=CONTROLLER_KINDS)
    if kind == "program":
        reader.only(["kind"])
        return None
    if not machine.motorized:
        raise reader.fail("kind", kind, f"{machine.name} has no motor to control")
    values: dict[str, Any]
    if kind == "speed_loop":
        reader.only(["kind", *SPEED_LOOP_KEYS])
        values = {key: reader.number(key) for key in SPEED_LOOP_KEYS if key in reader.table}
        drive = machine.drive
        # From the machine, as a user configures the loop for it: the board's command
        # period and step (dithering), its lowest and top speeds.
        values.update(period_s=max(drive.command_update_period_s, 0.01),
                      command_step_mps=drive.command_speed_step_mps,
                      output_min_mps=drive.speed_min_mps, output_max_mps=drive.speed_max_mps)
        build: type = SpeedControlParams
    elif kind == "self_paced":
        numbers = [f.name for f in fields(SelfPacedParams)]
        reader.only(["kind", *numbers])
        if not machine.has_distance_sensor:
            raise reader.fail("kind", kind, f"{machine.name} has no walker distance sensor to"
                                            " follow (the instrumented preset has one)")
        build = SelfPacedParams
        values = {key: reader.number(key) for key in numbers if key in reader.table}
    elif kind == "incline_loop":
        return _incline_loop(reader, machine, engine)
    else:
        build = {"emulate_manual": ManualEmulationParams, "emulate_sled": SledEmulationParams,
                 "emulate_curved": CurvedEmulationParams}[kind]
        values = _emulation_values(reader, kind, build, machine, walker)
    try:
        return build(**values)
    except ValueError as exc:
        bad = next((k for k in values if f".{k} " in str(exc) and k in reader.table), "kind")
        raise reader.fail(bad, reader.table.get(bad, kind), str(exc)) from None


def _emulation_values(reader: _Reader, kind: str, build: type, machine: Machine,
                      walker: WalkerParams | None) -> dict[str, Any]:
    """The keys of an ``emulate_*`` kind, checked against what the machine has."""
    numbers = [f.name for f in fields(build) if f.name != "drive"]
    if build is not CurvedEmulationParams:
        numbers.append("response_delay_s")
    reader.only(["kind", *numbers])
    values: dict[str, Any] = {key: reader.number(key) for key in numbers if key in reader.table}
    delay = values.pop("response_delay_s", None) if build is not CurvedEmulationParams else None
    if build is CurvedEmulationParams:
        if not machine.has_distance_sensor:
            raise reader.fail("kind", kind, f"{machine.name} has no walker distance sensor to"
                                            " read the walker's place on the virtual curve (the"
                                            " instrumented preset has one)")
        values.setdefault("response_delay_s",
                          EMULATION_DELAY_S.get(machine.name, DEFAULT_EMULATION_DELAY_S))
        return values
    drive = emulation_drive(machine, delay)
    if drive.quadrants < 2:
        raise reader.fail("kind", kind, f"{machine.name} has a {drive.quadrants}-quadrant drive:"
                                        " it cannot brake, so it cannot absorb the walker's"
                                        " push (a 2- or 4-quadrant drive can)")
    if drive.speed_min_mps > 0.0:
        raise reader.fail("kind", kind, f"{machine.name} cannot run below"
                                        f" {drive.speed_min_mps:.2f} m/s: a belt the walker"
                                        " starts would move uncontrolled below it (a drive that"
                                        " runs down to 0 m/s can)")
    if build is SledEmulationParams:
        grade = values.get("deck_incline_pct", SLED_GRADE_PCT)
        try:
            machine.check_incline(grade)
        except CapabilityError as exc:
            raise reader.fail("deck_incline_pct" if "deck_incline_pct" in values else "kind",
                              values.get("deck_incline_pct", kind), str(exc)) from None
    if "user_mass_kg" not in values and walker is not None:
        values["user_mass_kg"] = walker.mass_kg  # the weight a user enters at the console
    values["drive"] = drive
    return values


def _incline_loop(reader: _Reader, machine: Machine, engine: EngineSpec) -> InclineControlParams:
    """``kind = "incline_loop"``: homing, a calibration table and a loop on the incline sensor.
    The end stops come from the machine, the period from ``[engine]``."""
    reader.only(["kind", *INCLINE_LOOP_KEYS, "home_on_start", "calibration"])
    lift = machine.incline
    if lift.fixed:
        raise reader.fail("kind", "incline_loop",
                          f"{machine.name} has a fixed deck: there is no lift to control")
    values: dict[str, Any] = {key: reader.number(key) for key in INCLINE_LOOP_KEYS
                              if key in reader.table}
    if "home_on_start" in reader.table:
        if not isinstance(reader.table["home_on_start"], bool):
            raise reader.fail("home_on_start", reader.table["home_on_start"],
                              "must be true or false")
        values["home_on_start"] = reader.table["home_on_start"]
    if "calibration" in reader.table:
        pairs = reader.table["calibration"]
        if not (isinstance(pairs, list) and all(
                isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
                for pair in pairs)):
            raise reader.fail("calibration", pairs,
                              "must be a list of [commanded %, measured %] pairs")
        try:
            values["calibration"] = InclineCalibration(tuple((c, m) for c, m in pairs))
        except ValueError as exc:
            raise reader.fail("calibration", pairs, str(exc)) from None
    values.update(period_s=engine.control_period_s, lower_stop_pct=lift.incline_min_pct,
                  upper_stop_pct=lift.incline_max_pct)
    try:
        return InclineControlParams(**values)
    except ValueError as exc:
        bad = next((k for k in values if f".{k} " in str(exc) and k in reader.table), "kind")
        raise reader.fail(bad, reader.table.get(bad, "incline_loop"), str(exc)) from None


def _check_emulated_program(top: _Reader, rows: Any,
                            controller: ControllerParams | None) -> None:
    """Under an emulation the walker sets the speed; the sled also sets its own grade."""
    if not isinstance(controller, EMULATIONS):
        return
    for index, row in enumerate(rows):
        reader = top.sub(f"program[{index}]", row)
        for key in SPEED_KEYS:
            if key in row and row[key] != 0:
                raise reader.fail(key, row[key], "under an emulation the walker moves the belt;"
                                                 " leave the speed out (or 0)")
        if row.get("belt_direction", "forward") != "forward":
            raise reader.fail("belt_direction", row["belt_direction"],
                              "an emulated belt runs forward only")
        if isinstance(controller, SledEmulationParams) and "incline_pct" in row:
            raise reader.fail("incline_pct", row["incline_pct"],
                              "the sled's deck is fixed: set [controller] deck_incline_pct")


def _supervisor(reader: _Reader, walker: WalkerParams | None,
                machine: Machine) -> SupervisorLimits | None:
    """The supervisor's limits: on by default on machines with a motor (there is nothing to
    supervise on one without); backward mode follows a rear-facing walker."""
    numbers = [f.name for f in fields(SupervisorLimits)
               if f.name not in ("backward", "beginner", "walker_weight_n")]
    reader.only(["enabled", "backward", "beginner", *numbers])
    enabled = reader.table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise reader.fail("enabled", enabled, "must be true or false")
    if enabled and not machine.motorized:
        if "enabled" in reader.table:
            raise reader.fail("enabled", True, f"{machine.name} has no motor to supervise")
        return None
    if not enabled:
        if len(reader.table) > 1:
            extra = next(k for k in reader.table if k != "enabled")
            raise reader.fail(extra, reader.table[extra], "has no effect with enabled = false")
        return None
    values: dict[str, Any] = {}
    for key in ("backward", "beginner"):
        if key in reader.table:
            if not isinstance(reader.table[key], bool):
                raise reader.fail(key, reader.table[key], "must be true or false")
            values[key] = reader.table[key]
    values.setdefault("backward", walker is not None and walker.facing is Facing.REAR)
    for key in numbers:
        if key in reader.table:
            values[key] = reader.number(key, lo=0.0)
    if machine.motorized:
        # Current and temperature levels follow the machine's own drive and motor [U]:
        # derate at 60 % of its current limit (RMS), stop at 90 % of its trip; derate
        # 20 C and stop 5 C below the thermal cut-out.
        values.setdefault("current_derate_a", 0.6 * machine.drive.current_limit_a)
        values.setdefault("current_stop_a", 0.9 * machine.drive.overcurrent_trip_a)
        values.setdefault("temp_derate_c", machine.motor.winding_trip_temp_c - 20.0)
        values.setdefault("temp_stop_c", machine.motor.winding_trip_temp_c - 5.0)
    if walker is not None:
        values["walker_weight_n"] = walker.mass_kg * STANDARD_GRAVITY_MPS2
    # The tach-silence window follows from this machine's pulse spacing at its lowest speed.
    values.setdefault("tach_pitch_m", machine.belt.roller_circumference_m
                      / machine.sensors.tach_pulses_per_roller_turn)
    moving_mps = values.get("moving_above_mps", SupervisorLimits().moving_above_mps)
    values.setdefault("lowest_speed_mps", max(machine.drive.speed_min_mps, moving_mps))
    if "drift_limit_m" not in values and machine.has_distance_sensor:
        # Stop before the walker reaches the lanyard's reach (70 % of the running length,
        # ISO 20957-6 6.5.3): at 60 % [U].
        values["drift_limit_m"] = 0.6 * machine.belt.running_length_m
    try:
        return SupervisorLimits(**values)
    except ValueError as exc:
        raise reader.fail("supervisor", "<table>", str(exc)) from None


def _walker(reader: _Reader, duration_s: float) -> WalkerParams:
    allowed = [*WALKER_KEYS, *WALKER_NUMBER_KEYS, *WALKER_BOOL_KEYS, *GAIT_KEYS,
               *WALKER_TEXT_KEYS]
    reader.only(list(dict.fromkeys(allowed)))
    values: dict[str, Any] = {
        "mass_kg": reader.number("mass_kg", 70.0, lo=MASS_RANGE_KG[0], hi=MASS_RANGE_KG[1],
                                 unit="kg"),
        "height_m": reader.number("height_m", 1.75, lo=HEIGHT_RANGE_M[0], hi=HEIGHT_RANGE_M[1],
                                  unit="m"),
        "facing": Facing(reader.text("facing", "console", choices=("console", "rear"))),
    }
    for key in WALKER_BOOL_KEYS:
        if key in reader.table:
            if not isinstance(reader.table[key], bool):
                raise reader.fail(key, reader.table[key], "must be true or false")
            values[key] = reader.table[key]
    for key, unit in WALKER_NUMBER_KEYS.items():
        if key in reader.table:
            values[key] = reader.number(key, unit=unit)
    for key in ("step_on_at_s", "step_off_at_s"):  # a walker acts within the run
        if key in values and not 0.0 <= values[key] < duration_s:
            raise reader.fail(key, values[key], f"must be within the run: 0 <= {key} <"
                                                f" duration_s ({duration_s:g} s)")
    if "layer" in reader.table:
        values["layer"] = reader.text("layer", choices=WALKER_LAYERS)
    if "population" in reader.table:
        values["population"] = reader.text("population", choices=tuple(POPULATIONS))
    gait = {key: reader.number(key) for key in GAIT_KEYS if key in reader.table}
    try:
        if gait:
            values["gait"] = GaitParams(**gait)
        return WalkerParams(**values)
    except ValueError as exc:
        bad = next((k for k in reader.table if str(exc).startswith(k)), "walker")
        raise reader.fail(bad, reader.table.get(bad, "<table>"), str(exc)) from None


def _machine(reader: _Reader) -> Machine:
    reader.only(["preset", *PART_TABLES])
    name = reader.text("preset", choices=tuple(sorted(PRESETS)))
    machine = preset(name)
    for part_name in PART_TABLES:
        if part_name not in reader.table:
            continue
        part = getattr(machine, part_name)
        overrides = reader.sub(part_name, reader.table[part_name])
        allowed = [f.name for f in fields(part) if "range" in f.metadata]
        overrides.only(allowed)
        values = {key: overrides.number(key) for key in overrides.table}
        tags = {**machine.tags, **{f"{part_name}.{key}": FILE_TAG for key in values}}
        try:
            machine = replace(machine, **{part_name: replace(part, **values)}, tags=tags)
        except ParameterError as exc:
            bad = next((k for k in values if f".{k} " in str(exc)), part_name)
            raise overrides.fail(bad, values.get(bad, "<table>"), str(exc)) from None
    return machine


def _engine(reader: _Reader, duration_s: float) -> EngineSpec:
    reader.only(["physics_dt_s", "control_period_s", "record_period_s"])
    physics = reader.number("physics_dt_s", 0.001, lo=1e-5, hi=0.01, unit="s")
    control = reader.number("control_period_s", 0.01, lo=physics, hi=1.0, unit="s")
    record = reader.number("record_period_s", 0.01, lo=physics, hi=max(duration_s, physics),
                           unit="s")
    for key, value in (("control_period_s", control), ("record_period_s", record)):
        ratio = value / physics
        if abs(ratio - round(ratio)) > 1e-6:
            raise reader.fail(key, value,
                              f"must be a whole multiple of physics_dt_s = {physics:g} s")
    return EngineSpec(physics_dt_s=physics, control_period_s=control, record_period_s=record)


def _rows(top: _Reader, name: str, rows: Any) -> list[_Reader]:
    if not isinstance(rows, list):
        raise top.fail(name, rows, f"must be an array of tables ([[{name}]])")
    return [top.sub(f"{name}[{index}]", row) for index, row in enumerate(rows)]


def _program(top: _Reader, rows: Any, machine: Machine, duration_s: float,
             has_brake: bool) -> tuple[Setpoint, ...]:
    setpoints: list[Setpoint] = []
    speed = 0.0
    incline = min(max(0.0, machine.incline.incline_min_pct), machine.incline.incline_max_pct)
    direction = BeltDirection.FORWARD
    resistance = 0.0
    last_at = -math.inf
    for row in _rows(top, "program", rows):
        row.only(["at_s", *SPEED_KEYS, "incline_pct", "belt_direction", "resistance_level"])
        at_s = row.number("at_s", lo=0.0, hi=duration_s, unit="s")
        if at_s <= last_at:
            raise row.fail("at_s", at_s, f"program rows must be in strictly increasing time"
                                         f" order (two rows at one time would leave the later"
                                         f" one to win silently); the previous row is at"
                                         f" {last_at:g} s")
        last_at = at_s
        given = [key for key in row.table if key in SPEED_KEYS]
        if len(given) > 1:
            raise row.fail(given[1], row.table[given[1]],
                           f"give exactly one of {', '.join(SPEED_KEYS)} (also got {given[0]})")
        if given:
            key = given[0]
            factor, unit = SPEED_KEYS[key]
            speed = row.number(key, lo=0.0, unit=unit) * factor
            try:
                machine.check_speed(speed)
            except CapabilityError as exc:
                raise row.fail(key, row.table[key], str(exc)) from None
        if "incline_pct" in row.table:
            incline = row.number("incline_pct", unit="%")
            try:
                machine.check_incline(incline)
            except CapabilityError as exc:
                raise row.fail("incline_pct", incline, str(exc)) from None
        if "belt_direction" in row.table:
            text = row.text("belt_direction", choices=("forward", "reverse"))
            direction = BeltDirection.FORWARD if text == "forward" else BeltDirection.REVERSE
            if direction is BeltDirection.REVERSE:
                try:
                    machine.check_reverse()
                except CapabilityError as exc:
                    raise row.fail("belt_direction", text, str(exc)) from None
        if "resistance_level" in row.table:
            resistance = row.number("resistance_level", lo=0.0, hi=1.0)
            if not has_brake and resistance > 0.0:
                raise row.fail("resistance_level", resistance,
                               f"{machine.name} has no resistance brake; 0 is allowed")
        setpoints.append(Setpoint(at_s=at_s, speed_mps=speed, incline_pct=incline,
                                  direction=direction, resistance_level=resistance))
    return tuple(setpoints)


def _routine(reader: _Reader, machine: Machine, duration_s: float) -> tuple[Setpoint, ...]:
    """A built-in routine by name, with its parameters, checked against the machine."""
    name = reader.text("name", choices=tuple(sorted(ROUTINES)))
    build = ROUTINES[name]
    allowed = [p for p in inspect.signature(build).parameters]
    reader.only(["name", *allowed])
    values: dict[str, Any] = {}
    for key in allowed:
        if key not in reader.table:
            continue
        value = reader.table[key]
        if isinstance(value, list):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise reader.fail(key, value, "must be a list of numbers")
            values[key] = tuple(float(v) for v in value)
        else:
            values[key] = reader.number(key)
    try:
        setpoints = build(**values)
    except ValueError as exc:
        bad = next((k for k in values if str(exc).startswith(k)), "name")
        raise reader.fail(bad, reader.table.get(bad, name), str(exc)) from None
    for setpoint in setpoints:
        try:
            machine.check_speed(setpoint.speed_mps)
            machine.check_incline(setpoint.incline_pct)
        except CapabilityError as exc:
            raise reader.fail("name", name, f"at {setpoint.at_s:g} s: {exc}") from None
    end_s = setpoints[-1].at_s
    if end_s > duration_s:
        raise reader.fail("name", name, f"the routine runs to {end_s:g} s; scenario.duration_s"
                                        f" = {duration_s:g} s must cover it")
    return tuple(setpoints)


def _faults(top: _Reader, rows: Any, duration_s: float, machine: Machine,
            has_walker: bool) -> tuple[FaultSpec, ...]:
    kinds = tuple(kind.value for kind in FaultKind)
    faults = []
    for row in _rows(top, "faults", rows):
        row.only(["at_s", "kind", "duration_s", "tension_scale", "error_m"])
        kind = FaultKind(row.text("kind", choices=kinds))
        at_s = row.number("at_s", lo=0.0, hi=duration_s, unit="s")
        duration = row.number("duration_s", 0.0, lo=0.0, hi=duration_s, unit="s")
        severity = math.nan
        if "tension_scale" in row.table:
            if kind is not FaultKind.BELT_SLIP:
                raise row.fail("tension_scale", row.table["tension_scale"],
                               "only a belt_slip fault takes tension_scale")
            severity = row.number("tension_scale", lo=0.0, hi=1.0)
        if "error_m" in row.table:
            if kind is not FaultKind.WALKER_STUMBLE:
                raise row.fail("error_m", row.table["error_m"],
                               "only a walker_stumble fault takes error_m")
            severity = row.number("error_m", lo=-2.0, hi=2.0, unit="m")
        if kind is FaultKind.WALKER_STUMBLE and not has_walker:
            raise row.fail("kind", kind.value, "needs a [walker] table")
        if kind is FaultKind.MOTOR_OVERTEMP and not machine.motorized:
            raise row.fail("kind", kind.value, f"{machine.name} has no motor")
        faults.append(FaultSpec(kind=kind, at_s=at_s, duration_s=duration, severity=severity))
    return tuple(faults)


def _criteria(top: _Reader, rows: Any, has_walker: bool) -> tuple[CriterionSpec, ...]:
    """The file's criteria, then the truth criteria it lacks (:func:`.criteria.truth_criteria`)."""
    from .criteria import CRITERIA, DECLARING, declares_fall, truth_criteria

    specs = []
    readers = _rows(top, "criteria", rows)
    for row in readers:
        kind = row.text("kind", choices=tuple(sorted(CRITERIA)))
        definition = CRITERIA[kind]
        row.only(["kind", "limit", *definition.options, *definition.text_options])
        if definition.needs_walker and not has_walker:
            raise row.fail("kind", kind, "needs a [walker] table")
        limit = None
        if definition.limit_unit is not None:
            limit = row.number("limit", definition.default_limit, lo=0.0,
                               unit=definition.limit_unit)
        elif "limit" in row.table:
            raise row.fail("limit", row.table["limit"], f"{kind} takes no limit")
        options: dict[str, Any] = {key: row.number(key, lo=0.0, unit="s")
                                   for key in definition.options if key in row.table}
        if kind in DECLARING:
            options.update(_declared_event(row, has_walker))
            if options.get("before_s", math.inf) <= options.get("after_s", 0.0):
                raise row.fail("before_s", row.table["before_s"],
                               f"must come after after_s = {options.get('after_s', 0.0):g}")
        specs.append(CriterionSpec(kind=kind, limit=limit, options=options))
    if declares_fall(specs):
        for row, spec in zip(readers, specs, strict=True):
            if spec.kind == "no_fall":
                raise row.fail("kind", "no_fall", "contradicts the fall this scenario declares"
                               " with expect_event/allow_event")
    specs += [CriterionSpec(kind=kind) for kind in truth_criteria(specs, has_walker)]
    return tuple(specs)


def _declared_event(row: _Reader, has_walker: bool) -> dict[str, Any]:
    """``event`` (and ``rule`` for a supervisor stop) of an expect_event / allow_event row."""
    from ..controllers.supervisor import STOP_ORDER
    from .hazards import DECLARABLE_EVENTS, WALKER_EVENTS

    event = row.text("event", choices=DECLARABLE_EVENTS)
    if event in WALKER_EVENTS and not has_walker:
        raise row.fail("event", event, "needs a [walker] table")
    options: dict[str, Any] = {"event": event}
    if "rule" in row.table:
        if event != "supervisor_stop":
            raise row.fail("rule", row.table["rule"], "only a supervisor_stop event takes a rule")
        options["rule"] = row.text("rule", choices=STOP_ORDER)
    return options
