"""trace.csv and events.csv: their columns, and a recorder that streams them while a run goes.

A run's outputs must survive the run being cut short. :class:`TraceRecorder`
appends the new trace rows and events once a simulated second (the engine
calls it), each batch as whole lines in one unbuffered write: a run killed at
any instant leaves a readable CSV that lacks at most the rows since the last
flush, and an interrupted run finishes the files from what it reached.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..controllers.interface import Fault
from ..sim.engine import Event
from ..sim.walker.balance import WalkerState

#: Contract columns first, in the contract's order, then the extras.
TRACE_COLUMNS = (
    "t_s", "belt_speed_mps", "belt_speed_cmd_mps", "belt_speed_meas_mps", "incline_pct",
    "motor_current_a", "motor_voltage_v", "walker_pos_m", "walker_state", "key_present",
    "safety_state",
    "e_elec_j", "e_copper_j", "e_friction_j", "e_brake_j", "e_walker_j", "kinetic_j",
    # extras: further loss and storage terms of the balance, then sensors and board
    "e_slip_j", "e_magnetic_j", "e_brake_resistor_j", "walker_force_n", "walker_load_n",
    "vo2_ml_kg_min", "balance_error_m",
    "incline_cmd_pct", "incline_meas_pct", "motor_current_meas_a", "bus_voltage_v",
    "motor_temp_c", "drive_speed_mps", "board_ref_mps", "tach_pulse_count", "belt_travel_m",
)

#: events.csv: one row per event, in time order.
EVENT_COLUMNS = ("t_s", "kind", "detail")

#: How each walker state code is written in the trace.
WALKER_STATES = {int(state): state.name.lower() for state in WalkerState}


def _supervisor_stops(t_s: np.ndarray, events: Sequence[Event]) -> np.ndarray:
    """Per row, the rule of the supervisor's latched stop ('' when none), from its events.

    Rows may be any later slice of a run: a stop latched before the first row carries in."""
    latched = np.full(len(t_s), "", dtype=object)
    stop_rule, since = None, 0
    for event in events:
        if event.kind not in ("supervisor_stop", "supervisor_reset"):
            continue
        row = int(np.searchsorted(t_s, event.t_s - 1e-9))
        if stop_rule is not None:
            latched[since:row] = stop_rule
        rule = event.detail.split(":", 1)[0]
        stop_rule, since = (rule, row) if event.kind == "supervisor_stop" else (None, row)
    if stop_rule is not None:
        latched[since:] = stop_rule
    return latched


def _safety_state_names(flags: np.ndarray, supervisor: np.ndarray) -> np.ndarray:
    """'ok', or the board's raised fault flags and the supervisor's latched stop
    ('supervisor:<rule>') joined by '|', per row."""
    names = np.empty(len(flags), dtype=object)
    cache: dict[tuple[int, str], str] = {}
    for index, (bits, rule) in enumerate(zip(flags.tolist(), supervisor.tolist(), strict=True)):
        text = cache.get((bits, rule))
        if text is None:
            members = [f.name.lower() for f in Fault if f and bits & f]
            if rule:
                members.append(f"supervisor:{rule}")
            text = cache[(bits, rule)] = "|".join(members) if members else "ok"
        names[index] = text
    return names


def _column_text(trace: np.ndarray, name: str, events: Sequence[Event]) -> np.ndarray:
    if name == "safety_state":
        return _safety_state_names(trace["faults"], _supervisor_stops(trace["t_s"], events))
    if name == "walker_state":
        return np.array([WALKER_STATES.get(int(c), str(int(c))) for c in trace["walker_state"]],
                        dtype=object)
    values = trace[name]
    if values.dtype.kind == "i":
        text = values.astype(str).astype(object)
        text[values < 0] = ""  # not known (a hil run: a key the protocol cannot report)
        return text
    text = np.char.mod("%.9g", values)
    text[np.isnan(values)] = ""
    return text


def trace_rows_text(trace: np.ndarray, events: Sequence[Event] = ()) -> str:
    """trace.csv lines for these rows (no header); empty cells where a value does not exist.

    ``events`` (the run's, so far) give the supervisor's latched stops for
    ``safety_state``."""
    if len(trace) == 0:
        return ""
    columns = [_column_text(trace, name, events) for name in TRACE_COLUMNS]
    return "".join(",".join(row) + "\n" for row in zip(*columns, strict=True))


def trace_header() -> str:
    return ",".join(TRACE_COLUMNS) + "\n"


def write_trace_csv(trace: np.ndarray, path: Path, events: Sequence[Event] = ()) -> None:
    """The whole trace.csv of a finished run, in one go."""
    path.write_text(trace_header() + trace_rows_text(trace, events), encoding="utf-8",
                    newline="\n")


def events_text(events: Sequence[Event]) -> str:
    """events.csv lines (no header), quoted where a detail needs it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for event in events:
        writer.writerow((f"{event.t_s:.6f}", event.kind, event.detail))
    return buffer.getvalue()


def write_events_csv(events: Sequence[Event], path: Path) -> None:
    """The whole events.csv of a finished run, in one go."""
    path.write_text(",".join(EVENT_COLUMNS) + "\n" + events_text(events), encoding="utf-8",
                    newline="\n")


class TraceRecorder:
    """Streams trace.csv and events.csv into ``out_dir`` while a run goes."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._trace = (out_dir / "trace.csv").open("wb", buffering=0)
        self._events = (out_dir / "events.csv").open("wb", buffering=0)
        self._trace.write(trace_header().encode())
        self._events.write((",".join(EVENT_COLUMNS) + "\n").encode())
        self.rows_written = 0
        self.events_until_s = -math.inf  # events before this time are written
        self.flushes = 0

    def flush(self, trace: np.ndarray,
              events: Sequence[Event] | Callable[[int], Sequence[Event]],
              now_s: float) -> None:
        """Append the rows not written yet, and the events from the last flush up to (not
        including) ``now_s``: every event before ``now_s`` is known by then.

        ``events`` is the run's list so far, or ``events_from(row)`` giving the events the
        trace shows from that row on and every other one."""
        if self._trace.closed:
            return
        if callable(events):  # the trace's own events only from the rows not yet judged
            events = events(int(np.searchsorted(trace["t_s"], self.events_until_s - 1e-9)))
        self.append(trace[self.rows_written:], events, now_s)

    def append(self, rows: np.ndarray, events: Sequence[Event], now_s: float) -> None:
        """Append these new rows (those after the ones written) and the events due by
        ``now_s``, as :meth:`flush` does, for a caller that keeps its own rows."""
        if self._trace.closed:
            return
        if len(rows):
            self._trace.write(trace_rows_text(rows, events).encode())  # whole lines, one write
            self.rows_written += len(rows)
        due = [e for e in events if self.events_until_s <= e.t_s < now_s]
        if due:
            self._events.write(events_text(due).encode())
        self.events_until_s = now_s
        self.flushes += 1

    def finish(self, trace: np.ndarray, events: Sequence[Event]) -> None:
        """Write what is left and close the files."""
        self.flush(trace, events, math.inf)
        self.close()

    def close(self) -> None:
        self._trace.close()
        self._events.close()

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
