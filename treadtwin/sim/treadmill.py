"""The simulated treadmill: the plant behind the controllers' interface.

:class:`SimulatedTreadmill` implements
:class:`~treadtwin.controllers.interface.Treadmill` over the compiled
stepper. Controllers get only what a board reports (:meth:`read`); the
engine and the recorder get ground truth through the trace and through the
``truth_*`` accessors, which are not part of the interface. The simulated
treadmill never advances time on its own: the engine calls
:meth:`advance_to`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..controllers.interface import BeltDirection, Command, Fault, Telemetry
from .layout import (
    PROFILE_ROWS,
    TRACE_DTYPE,
    empty_profile,
    initial_inputs,
    initial_state,
    pack_params,
)
from .machine import Machine
from .stepper import advance_and_sample, sample

_FAULTS: dict[int, Fault] = {}  # int -> Fault, so that a tick does not build an IntFlag
_FORWARD, _REVERSE = BeltDirection.FORWARD, BeltDirection.REVERSE
_new_tuple = tuple.__new__


def _entry_point(dispatcher, *args):
    """The compiled function for these argument types, callable without type dispatch.

    numba's dispatcher resolves argument types on every call, which for
    record arrays costs about a microsecond: more than ten plant steps.
    The plant's argument types never change, so it resolves them once.
    """
    dispatcher(*args)  # compile (or load from cache) for these types
    signature = tuple(nb.typeof(a) for a in args)
    return dispatcher.overloads[signature].entry_point


def _fault_flags(bits: int) -> Fault:
    flags = _FAULTS.get(bits)
    if flags is None:
        flags = _FAULTS[bits] = Fault(bits)
    return flags


class SimulatedTreadmill:
    """A machine preset brought to life: physics at ``physics_dt_s``, a trace row every
    ``record_period_s``.

    Parameters
    ----------
    machine:
        What to simulate (see :mod:`treadtwin.sim.presets`).
    duration_s:
        Room to reserve in the trace; recording stops when it is full.
    physics_dt_s, record_period_s:
        Plant step and trace period; the record period must be a whole
        number of steps.
    """

    def __init__(
        self,
        machine: Machine,
        duration_s: float,
        physics_dt_s: float = 0.001,
        record_period_s: float = 0.01,
    ) -> None:
        if not 1e-5 <= physics_dt_s <= 0.01:
            raise ValueError(f"physics_dt_s must be within 1e-5..0.01 s, got {physics_dt_s!r}")
        every = round(record_period_s / physics_dt_s)
        if every < 1 or abs(every * physics_dt_s - record_period_s) > 1e-9:
            raise ValueError(
                f"record_period_s ({record_period_s}) must be a whole multiple of physics_dt_s"
                f" ({physics_dt_s})"
            )
        if not (math.isfinite(duration_s) and duration_s >= 0.0):
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
        self.machine = machine
        self.physics_dt_s = physics_dt_s
        self.record_period_s = record_period_s
        self._params = pack_params(machine, physics_dt_s, every)
        self._state = initial_state(machine)
        self._inputs = initial_inputs(machine)
        self._trace = np.zeros(int(duration_s / record_period_s) + 2, dtype=TRACE_DTYPE)
        self._profile = empty_profile()
        self._has_force_deck = machine.has_force_deck
        self._has_distance_sensor = machine.has_distance_sensor
        self._motorized = machine.motorized
        self._step = 0
        self._advance = _entry_point(
            advance_and_sample, self._state, self._params, self._inputs, self._trace,
            self._profile, 0)
        self._sample: tuple | None = None

    # --- time -------------------------------------------------------------------------
    @property
    def t_s(self) -> float:
        """Plant time."""
        return self._step * self.physics_dt_s

    def advance_to(self, t_s: float) -> None:
        """Advance the plant to ``t_s`` (rounded to the physics step)."""
        target = round(t_s / self.physics_dt_s)
        steps = target - self._step
        if steps > 0:
            self._sample = self._advance(
                self._state, self._params, self._inputs, self._trace, self._profile, steps)
            self._step = target

    # --- the controllers' interface ----------------------------------------------------
    def read(self) -> Telemetry:
        values = self._sample
        if values is None:
            values = self._sample = sample(self._state, self._params, self._inputs,
                                           self._profile)
        (t_s, speed, reverse, pulses, last_pulse, incline, current, bus, enabled, faults,
         temp_c, key_present, walker_pos, walker_load, coasting) = values
        motorized = self._motorized
        flags = _FAULTS.get(faults)
        # tuple.__new__ skips the named tuple's Python-level constructor: a control loop
        # builds one of these every tick.
        return _new_tuple(Telemetry, (
            t_s,
            speed,
            _REVERSE if reverse else _FORWARD,
            pulses,
            None if last_pulse != last_pulse else last_pulse,  # NaN: no pulse yet
            incline,
            current if motorized else None,
            bus if motorized else None,
            key_present,
            enabled,
            flags if flags is not None else _fault_flags(faults),
            temp_c if motorized else None,
            walker_pos if self._has_distance_sensor and walker_pos == walker_pos else None,
            walker_load if self._has_force_deck else None,
            coasting if motorized else None,
        ))

    def write(self, command: Command) -> None:
        u = self._inputs[0]
        u["cmd_speed_mps"] = command.belt_speed_mps
        u["cmd_direction"] = float(command.belt_direction)
        u["cmd_mode"] = int(command.mode)
        u["cmd_incline_pct"] = command.incline_pct
        u["cmd_resistance_level"] = command.resistance_level
        if command.emergency_stop:
            u["cmd_estop"] = 1
        if command.reset:
            u["cmd_reset"] = 1
        self._sample = None

    # --- the world acting on the machine (engine and faults, not controllers) ----------
    def set_key_present(self, present: bool) -> None:
        """Insert or pull the safety key (lanyard clip)."""
        self._inputs[0]["key_present"] = 1 if present else 0
        self._sample = None

    def press_stop_button(self) -> None:
        """Press the stop button once; the board latches the stop."""
        self._inputs[0]["stop_button"] = 1
        self._sample = None

    def heat_winding_to(self, temp_c: float) -> None:
        """Set the winding temperature (fault injection: a motor that has overheated)."""
        self._state[0]["winding_temp_c"] = temp_c
        self._sample = None

    def set_input(self, name: str, value: float) -> None:
        """Set a plant input by name (fault injection: ``tach_ok``, ``tension_scale``...)."""
        if name not in self._inputs.dtype.names:
            names = ", ".join(self._inputs.dtype.names)
            raise KeyError(f"no plant input {name!r}; inputs: {names}")
        self._inputs[0][name] = value
        self._sample = None

    def get_input(self, name: str) -> float:
        """Current value of a plant input."""
        return self._inputs[0][name].item()

    def set_walker_loads(self, force_n: float, load_n: float) -> None:
        """Steady forces on the belt: fore-aft (+ toward the rear) and vertical load."""
        u = self._inputs[0]
        u["walker_force_n"] = force_n
        u["walker_load_n"] = load_n
        self._sample = None

    def place_walker(self, pos_m: float, lanyard_reach_m: float = math.nan,
                     front_limit_m: float = 0.0) -> None:
        """Put the walker's centre of mass on the deck, ``pos_m`` from the front.

        ``front_limit_m`` is the nearest the centre of mass can come to the front: the
        console stops the body there.
        """
        self._state[0]["walker_pos_m"] = max(pos_m, front_limit_m)
        u = self._inputs[0]
        u["walker_present"] = 1
        u["lanyard_reach_m"] = lanyard_reach_m
        u["walker_front_limit_m"] = front_limit_m
        self._sample = None

    def set_walker_push(self, push_n: float, speed_mps: float) -> None:
        """Push on a belt without a motor: ``push_n`` at rest, falling linearly to zero at
        belt speed ``speed_mps`` (a person's force-velocity curve)."""
        u = self._inputs[0]
        u["walker_push_n"] = push_n
        u["walker_push_speed_mps"] = speed_mps
        self._sample = None

    def set_walker_balance(self, error_m: float) -> None:
        """The walker's balance error (extrapolated centre of mass off its base), for the trace."""
        self._inputs[0]["walker_balance_error_m"] = error_m

    def remove_walker(self) -> None:
        """The walker has left the deck: no more forces or position."""
        u = self._inputs[0]
        u["walker_present"] = 0
        u["walker_profile_len"] = 0
        u["walker_speed_mps"] = 0.0
        u["walker_push_n"] = 0.0
        self._state[0]["walker_pos_m"] = math.nan
        self._sample = None

    def set_walker_step(self, speed_mps: float, fore_aft_n: np.ndarray, normal_n: np.ndarray,
                        state: int, vo2_ml_kg_min: float) -> None:
        """The walker's next step: speed relative to the belt (toward the console) and the
        forces on the belt for each plant step from now on (held at the last value after)."""
        rows = min(len(fore_aft_n), PROFILE_ROWS)
        self._profile[:rows, 0] = fore_aft_n[:rows]
        self._profile[:rows, 1] = normal_n[:rows]
        u = self._inputs[0]
        u["walker_speed_mps"] = speed_mps
        u["walker_profile_start_step"] = self._step
        u["walker_profile_len"] = rows
        u["walker_state"] = state
        u["walker_vo2_ml_kg_min"] = vo2_ml_kg_min
        self._sample = None

    def set_walker_speed(self, speed_mps: float) -> None:
        """Change the walker's speed relative to the belt within a step (forces play on)."""
        self._inputs[0]["walker_speed_mps"] = speed_mps
        self._sample = None

    # --- ground truth (never given to controllers) --------------------------------------
    def truth_belt_speed_mps(self) -> float:
        """True belt surface speed."""
        return float(self._state[0]["belt_speed_mps"])

    def truth_kinetic_j(self) -> float:
        """Kinetic energy of belt, rollers, motor and flywheel."""
        s = self._state[0]
        p = self._params[0]
        return 0.5 * float(p["drive_side_mass_kg"] * s["drive_speed_mps"] ** 2
                           + p["belt_side_mass_kg"] * s["belt_speed_mps"] ** 2)

    def truth_walker_pos_m(self) -> float:
        """The walker's centre of mass, metres from the front of the deck (NaN: none)."""
        return float(self._state[0]["walker_pos_m"])

    def truth_belt_travel_m(self) -> float:
        """How far the belt has moved (signed)."""
        return float(self._state[0]["belt_travel_m"])

    def truth_incline_pct(self) -> float:
        """The deck's true grade."""
        return float(self._state[0]["incline_pct"])

    def truth_state(self, name: str) -> float:
        """Any plant state by name (see :data:`treadtwin.sim.layout.STATE_DTYPE`)."""
        return self._state[0][name].item()

    def trace(self) -> np.ndarray:
        """The rows recorded so far (a view, one row per ``record_period_s``)."""
        return self._trace[: int(self._state[0]["trace_row"])]
