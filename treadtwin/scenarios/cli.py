"""The ``treadtwin`` command line.

Exit codes (a contract): 0 when every criterion passes, 1 when one fails,
2 for invalid input, with one line naming the file, the key, the value and
what is allowed, and no traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

from .. import __version__
from ..sim.engine import ClockMode
from ..sim.machine import PART_NAMES
from ..sim.params import describe
from ..sim.presets import PRESETS, preset
from ..sim.provenance import legend_lines
from .criteria import describe_result
from .progress import Progress
from .schema import ScenarioError, load_scenario

EXIT_PASS, EXIT_FAIL, EXIT_INVALID = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INVALID, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="treadtwin",
        description="A digital twin and hardware-in-the-loop testbed for treadmills: run"
                    " scenarios on the twin, serve it behind a serial port, or drive a real"
                    " treadmill.",
        epilog="Exit codes: 0 every criterion passed, 1 one failed, 2 invalid input (one line"
               " naming what is wrong). run and suite write summary.json, trace.csv, plot.png"
               " and report.html for each scenario.")
    parser.add_argument("--version", action="version", version=f"treadtwin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run", help="run one scenario file",
        description="Run one scenario on the twin and write OUT/summary.json, trace.csv,"
                    " plot.png and report.html. Exit 0 when every criterion passes, 1 when"
                    " one fails, 2 for invalid input.")
    run.add_argument("file", help="scenario TOML file, or a built-in scenario's name")
    run.add_argument("--out", type=Path, default=None,
                     help="output directory (default: out/<scenario name>)")
    run.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
    run.add_argument("--clock", choices=[c.value for c in ClockMode], default="lockstep",
                     help="lockstep (as fast as possible) or scaled real time")
    run.add_argument("--time-scale", type=_positive_float, default=1.0,
                     help="with --clock scaled: simulated seconds per wall second")

    suite = commands.add_parser("suite", help="run scenario files or directories")
    suite.add_argument("paths", nargs="*",
                       help="files or directories (default: the built-in suites)")
    suite.add_argument("--workers", type=_positive_int, default=None,
                       help="parallel processes (default: one per core)")
    suite.add_argument("--out", type=Path, default=Path("out"), help="output directory")
    suite.add_argument("--junit", type=Path, default=None, help="write JUnit XML here")
    suite.add_argument("--seed", type=_seed, default=None, help="override every scenario's seed")

    sweep = commands.add_parser(
        "sweep", help="run one scenario across a grid of values and seeds, on Dask",
        description="Run the scenario once for every combination of the --vary axes and"
                    " every seed, on a local Dask cluster or a scheduler, and write"
                    " OUT/results.csv and OUT/results.parquet, one row per run.")
    sweep.add_argument("file", help="scenario TOML file, or a built-in scenario's name")
    sweep.add_argument("--vary", action="append", default=[], metavar="KEY=START:STOP:N|a,b",
                       help="a swept key, e.g. walker.mass_kg=50:120:8 or walker.facing="
                            "console,rear (repeatable)")
    sweep.add_argument("--seeds", type=_positive_int, default=1,
                       help="runs per combination, seeds SEED..SEED+N-1 (default 1)")
    sweep.add_argument("--seed", type=_seed, default=None,
                       help="first seed (default: the scenario's)")
    sweep.add_argument("--samples", type=_positive_int, default=None,
                       help="instead of the grid: this many random points, a Latin hypercube"
                            " over the START:STOP spans, a random choice on a,b lists")
    sweep.add_argument("--sample-seed", type=_seed, default=0,
                       help="seed of the --samples draw (default 0)")
    sweep.add_argument("--metric", default=None,
                       help="summary metric to plot across the first key (default:"
                            " min_rear_margin_m, stop_time_s or max_belt_speed_mps)")
    sweep.add_argument("--workers", type=_positive_int, default=None,
                       help="local Dask workers (default: one per core)")
    sweep.add_argument("--scheduler", default=None,
                       help="address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786")
    sweep.add_argument("--serial", action="store_true",
                       help="run in this process, one after the other (no Dask)")
    sweep.add_argument("--out", type=Path, default=None,
                       help="output directory (default: out/sweep/<scenario name>)")

    protocols = ("treadtwin", "woodway", "trackmaster")
    emulate = commands.add_parser(
        "emulate", help="put the twin behind a pseudo-terminal or serial device",
        description="Serve the twin as a treadmill on a pseudo-terminal (--pty; its path is the"
                    " first line printed) or a serial device, speaking the chosen protocol.")
    where = emulate.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="create a pseudo-terminal")
    where.add_argument("--device", help="serve on this serial device instead")
    what = emulate.add_mutually_exclusive_group()
    what.add_argument("--scenario", type=Path,
                      help="take the machine, walker and faults from this scenario file")
    what.add_argument("--preset", help="an empty machine preset (default: home-motorized)")
    emulate.add_argument("--protocol", choices=protocols, default="treadtwin")
    emulate.add_argument("--baud", type=_positive_int, default=None,
                         help="wire time to reproduce (default: 115200 treadtwin, 4800 lab)")
    emulate.add_argument("--clock", choices=("wall", "lockstep"), default="wall",
                         help="wall clock, or lockstep: one board period per host frame")
    emulate.add_argument("--link", type=Path, default=None,
                         help="also make this symbolic link to the pseudo-terminal")
    emulate.add_argument("--duration-s", type=_positive_float, default=None,
                         help="board time to serve (default: the scenario's, or 3600 s)")
    emulate.add_argument("--out", type=Path, default=None,
                         help="write the twin's own trace and verdicts here at the end")

    hil = commands.add_parser(
        "hil", help="run a scenario's controllers against a real or emulated treadmill",
        description="Run the scenario's program, controller stack and supervisor against the"
                    " treadmill on --port, recording trace.csv and summary.json.")
    hil.add_argument("file", help="scenario TOML file, or a built-in scenario's name")
    hil.add_argument("--port", required=True, help="serial device or pyserial URL")
    hil.add_argument("--protocol", choices=protocols, default="treadtwin")
    hil.add_argument("--baud", type=_positive_int, default=None,
                     help="default: 115200 treadtwin, 4800 lab treadmills")
    hil.add_argument("--lockstep", action="store_true",
                     help="step with an emulator in lockstep instead of the wall clock")
    hil.add_argument("--out", type=Path, default=None,
                     help="output directory (default: out/hil/<scenario name>)")

    commands.add_parser("list", help="list the built-in scenarios",
                        description="The built-in scenarios: name, machine, duration and what"
                                    " each checks. Run one with treadtwin run NAME.")
    presets = commands.add_parser("presets", help="list machine presets or show one")
    presets.add_argument("name", nargs="?", help="a preset name")
    return parser


EXIT_INTERRUPTED = 130  # as a shell reports a process stopped by SIGINT
MAX_SWEEP_RUNS = 100_000  # every point is validated and held before the first runs
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def out_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot take a run's outputs (a folder made or reused), or None."""
    resolved = path.expanduser().resolve()
    if resolved.exists() and not resolved.is_dir():
        return "is a file, not a folder"
    if resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents:
        return f"is inside the treadtwin package ({PACKAGE_DIR}); write outputs elsewhere"
    probe = resolved
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, so no folder can be made there"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def _refuse_out(command: str, option: str, path: Path) -> int | None:
    """Print the one-line refusal and return exit 2 if ``path`` cannot take outputs."""
    problem = out_dir_problem(path)
    if problem is None:
        return None
    print(f"treadtwin {command}: {option} {path}: {problem} (allowed: a folder, new or"
          " existing, that this user can write)", file=sys.stderr)
    return EXIT_INVALID


def baud_problem(protocol: str, baud: int) -> str | None:
    """Why ``baud`` will not carry ``protocol``, or None."""
    if protocol != "treadtwin":
        return None if baud == 4800 else f"{protocol} consoles talk at 4800 baud only"
    from serial import SerialBase

    if baud < 38400 or baud not in SerialBase.BAUDRATES:
        return ("allowed: a standard rate from 38400 up (38400, 57600, 115200, 230400, ...);"
                " below 38400 the default 20 ms telemetry and the commands do not fit the"
                " link (docs/protocol.md section 11)")
    return None


def _refuse_baud(command: str, protocol: str, baud: int | None) -> int | None:
    problem = None if baud is None else baud_problem(protocol, baud)
    if problem is None:
        return None
    print(f"treadtwin {command}: --baud {baud}: {problem}", file=sys.stderr)
    return EXIT_INVALID


def _say_interrupted(command: str, result, out: Path) -> int:
    print(f"treadtwin {command}: interrupted at {result.run.sim_time_s:.2f} s of"
          f" {result.scenario.duration_s:g} s; what was done is in {out}/ (summary.json marked"
          " interrupted, trace.csv, events.csv, plot.png, report.html)", file=sys.stderr)
    return EXIT_INTERRUPTED


def _cmd_list(args: argparse.Namespace) -> int:
    from .suite import builtin_scenarios

    for name, path in builtin_scenarios().items():
        scenario = load_scenario(path)
        what = scenario.description.strip().split("\n")[0].split(". ")[0].rstrip(".")
        print(f"{name:28s} {scenario.machine.name:16s} {scenario.duration_s:6g} s  {what}")
    return EXIT_PASS


def _cmd_run(args: argparse.Namespace) -> int:
    from .recording import TraceRecorder
    from .report import write_outputs
    from .runner import ScenarioInterrupted, run_scenario
    from .suite import scenario_file

    scenario = load_scenario(scenario_file(args.file))
    out = args.out or Path("out") / scenario.name
    refused = _refuse_out("run", "--out", out)
    if refused is not None:
        return refused
    with TraceRecorder(out) as recorder:  # trace.csv and events.csv grow as the run goes
        try:
            result = run_scenario(scenario, seed=args.seed, clock=ClockMode(args.clock),
                                  time_scale=args.time_scale, recorder=recorder)
        except ScenarioInterrupted as stop:
            write_outputs(stop.result, out, recorder)
            return _say_interrupted("run", stop.result, out)
        write_outputs(result, out, recorder)
    print(f"{_verdict_line(result)} ({result.run.sim_time_s:g} s simulated in "
          f"{result.run.wall_time_s:.2f} s, real-time factor {result.run.real_time_factor:.0f})")
    for criterion in result.criteria:
        mark = "ok  " if criterion["passed"] else "FAIL"
        print(f"  {mark} {describe_result(criterion)}")
    print(f"  {_randomness_text(result.extra.get('randomness'))}")
    print(f"  outputs in {out}/ (summary.json, trace.csv, events.csv, plot.png,"
          " report.html)")
    return EXIT_PASS if result.passed else EXIT_FAIL


def _cmd_suite(args: argparse.Namespace) -> int:
    from .suite import (
        SuiteInterrupted,
        builtin_suite_dir,
        default_workers,
        discover,
        load_all,
        progress_line,
        run_suite,
        write_junit,
    )

    refused = _refuse_out("suite", "--out", args.out)
    if refused is not None:
        return refused
    cores = os.cpu_count() or 1
    if args.workers is not None and args.workers > cores:
        print(f"treadtwin suite: --workers {args.workers}: this machine has {cores} core(s);"
              f" allowed: 1..{cores}", file=sys.stderr)
        return EXIT_INVALID
    if args.junit is not None:
        junit_problem = ("is a folder" if args.junit.is_dir()
                         else out_dir_problem(args.junit.parent))
        if junit_problem:
            print(f"treadtwin suite: --junit {args.junit}: {junit_problem} (allowed: a file"
                  " path in a folder this user can write)", file=sys.stderr)
            return EXIT_INVALID
    files = discover(args.paths or [builtin_suite_dir()])
    scenarios, errors = load_all(files)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"treadtwin suite: {len(errors)} invalid scenario file(s); nothing was run",
              file=sys.stderr)
        return EXIT_INVALID
    workers = min(args.workers or default_workers(), len(scenarios))
    print(f"running {len(scenarios)} scenarios on {workers} worker(s) into {args.out}/", flush=True)
    bar = Progress(len(scenarios), "scenario")
    try:
        entries = run_suite(scenarios, args.out, workers=workers, seed=args.seed,
                            progress=lambda e, done, total: bar.done(
                                e.passed, progress_line(e, done, total)))
    except SuiteInterrupted as stop:
        bar.close()
        if args.junit:
            write_junit(stop.entries, args.junit)
        print(f"treadtwin suite: interrupted; {len(stop.entries)} of {stop.total} scenarios"
              f" finished, the rest cancelled; index: {args.out}/index.html", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    if args.junit:
        write_junit(entries, args.junit)
    failed = [e.name for e in entries if not e.passed]
    print(f"{len(entries) - len(failed)}/{len(entries)} passed"
          + (f"; failed: {', '.join(failed)}" if failed else "")
          + f"; index: {args.out}/index.html")
    return EXIT_FAIL if failed else EXIT_PASS


def _randomness_text(randomness: dict | None) -> str:
    """Which random sources drew, with the seed: a user should know whether a run varies."""
    if not randomness or not randomness["sources"]:
        return "random: nothing varies in this scenario; every seed gives this run"
    drawn = randomness.get("walker_drawn")
    parts = []
    for source in randomness["sources"]:
        if source == "walker.person" and drawn:
            values = ", ".join(f"{k} {v:g}" for k, v in drawn.items() if k != "population")
            parts.append(f"{source} (a person from {drawn['population']}: {values})")
        else:
            parts.append(source)
    return f"random: seed {randomness['seed']}; drawn by {'; '.join(parts)}"


def _cmd_sweep(args: argparse.Namespace) -> int:
    import time

    from .suite import scenario_file
    from .sweep import (
        SweepInterrupted,
        describe_rate,
        parse_vary,
        run_sweep,
        sample_points,
        sweep_points,
        write_table,
    )
    from .sweep_report import pick_metric, write_sweep_report

    path = scenario_file(args.file)
    base = load_scenario(path)  # the file itself must be valid before it is varied
    try:
        axes = [parse_vary(text) for text in args.vary]
    except ValueError as exc:
        print(f"treadtwin sweep: {exc}", file=sys.stderr)
        return EXIT_INVALID
    out = args.out or Path("out") / "sweep" / base.name
    refused = _refuse_out("sweep", "--out", out)
    if refused is not None:
        return refused
    cores = os.cpu_count() or 1
    if args.workers is not None and args.workers > cores and args.scheduler is None:
        print(f"treadtwin sweep: --workers {args.workers}: this machine has {cores} core(s);"
              f" allowed: 1..{cores}", file=sys.stderr)
        return EXIT_INVALID
    per_seed = (args.samples if args.samples is not None
                else math.prod(len(axis.values) for axis in axes))
    runs = per_seed * args.seeds
    if runs > MAX_SWEEP_RUNS:
        print(f"treadtwin sweep: {runs} runs asked for (the axes' sizes times --seeds);"
              f" allowed: at most {MAX_SWEEP_RUNS} in one sweep", file=sys.stderr)
        return EXIT_INVALID
    import tomllib

    doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    first = base.seed if args.seed is None else args.seed
    seeds = range(first, first + args.seeds)
    points = (sample_points(doc, str(path), axes, seeds, args.samples, args.sample_seed)
              if args.samples is not None else sweep_points(doc, str(path), axes, seeds))
    invalid = [p for p in points if p.scenario is None]
    where = ("in this process" if args.serial else f"on {args.scheduler}" if args.scheduler
             else f"on a local Dask cluster of {args.workers or cores} worker(s)")
    print(f"sweeping {base.name}: {len(points)} runs ({len(invalid)} refused by the schema)"
          f" {where} into {out}/", flush=True)
    bar = Progress(len(points), "run")
    start = time.monotonic()
    try:
        rows = run_sweep(points, workers=args.workers or cores, scheduler=args.scheduler,
                         serial=args.serial, progress=lambda row, done, total: bar.done(
                             bool(row.get("passed"))))
    except SweepInterrupted as stop:
        bar.close()
        write_table(stop.rows, out)
        print(f"treadtwin sweep: interrupted; {len(stop.rows)} of {stop.total} runs finished"
              f" and are in {out}/results.csv and results.parquet", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    write_table(rows, out)
    metric = pick_metric(rows, args.metric)
    if args.metric is not None and metric is None:
        print(f"treadtwin sweep: --metric {args.metric}: no run has that metric; the plot"
              " shows the pass rate only (metrics are the summary's, e.g. stop_time_s)",
              file=sys.stderr)
    page = write_sweep_report(rows, [a.key for a in axes], metric, out, base.name)
    print(f"{describe_rate(rows, time.monotonic() - start)}; table: {out}/results.csv,"
          f" {out}/results.parquet; report: {page}")
    return EXIT_PASS if all(r.get("passed") for r in rows) else EXIT_FAIL


def _counts_text(counts) -> str:
    """``sessions 1, commands 2000, ...`` for a counters dataclass (its repr otherwise)."""
    if not is_dataclass(counts):
        return str(counts)
    return ", ".join(f"{f.name.replace('_', ' ')} {getattr(counts, f.name)}"
                     for f in fields(counts))


def _verdict_line(result) -> str:
    """``PASS name`` or ``FAIL name: why`` (the first line a user reads)."""
    if result.passed:
        return f"PASS {result.scenario.name}"
    return f"FAIL {result.scenario.name}: {result.reason}"


def _print_verdict(result, out: Path) -> None:
    print(f"{_verdict_line(result)} ({result.run.sim_time_s:g} s in"
          f" {result.run.wall_time_s:.2f} s of wall time)")
    for criterion in result.criteria:
        mark = "ok  " if criterion["passed"] else "FAIL"
        print(f"  {mark} {describe_result(criterion)}")
    for name in result.extra.get("not_judged", []):
        print(f"  n/a  {name}: needs the twin's ground truth")
    print(f"  outputs in {out}/ (summary.json, trace.csv, events.csv, plot.png,"
          " report.html)")


def _cmd_emulate(args: argparse.Namespace) -> int:
    import signal

    from ..emulator.port import PtyPort, SerialDevicePort
    from ..emulator.runner import Emulator, EmulatorClock, board_for
    from ..sim.treadmill import SimulatedTreadmill
    from .report import write_outputs
    from .runner import build_twin, judge

    clock = EmulatorClock(args.clock)
    refused = _refuse_baud("emulate", args.protocol, args.baud)
    if refused is not None:
        return refused
    if args.out:
        refused = _refuse_out("emulate", "--out", args.out)
        if refused is not None:
            return refused
    scenario = load_scenario(args.scenario) if args.scenario else None
    if scenario is not None:
        machine, faults = scenario.machine, scenario.faults
        duration_s = args.duration_s or scenario.duration_s
        if args.duration_s:
            scenario = replace(scenario, duration_s=duration_s)
        treadmill, walker = build_twin(scenario)
    else:
        try:
            machine = preset(args.preset or "home-motorized")
        except KeyError as exc:
            print(f"treadtwin emulate: {exc.args[0]}", file=sys.stderr)
            return EXIT_INVALID
        faults, walker = (), None
        duration_s = args.duration_s or 3600.0
        treadmill = SimulatedTreadmill(machine, duration_s=duration_s, record_period_s=0.1)
    try:
        board = board_for(machine, args.protocol, clock)
    except ValueError as exc:
        print(f"treadtwin emulate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    baud = args.baud or (115200 if args.protocol == "treadtwin" else 4800)
    try:
        port = (PtyPort(baud, link_path=args.link) if args.pty
                else SerialDevicePort(args.device, baud))
    except FileExistsError as exc:
        print(f"treadtwin emulate: --link {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"treadtwin emulate: cannot open {args.device or 'a pseudo-terminal'}: {exc}",
              file=sys.stderr)
        return EXIT_INVALID
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    emulator = Emulator(treadmill, board, port, clock, walker=walker, faults=faults)
    print(port.path, flush=True)
    print(f"treadtwin emulate: {machine.name} speaking {args.protocol} at {baud} baud"
          f" ({clock.value} clock) for up to {duration_s:g} s; Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        run = emulator.run(duration_s, should_stop=lambda: bool(stop))
    finally:
        port.close()
    print(f"treadtwin emulate: served {run.sim_time_s:.2f} s; board: {_counts_text(board.counts)}",
          file=sys.stderr)
    errors = emulator.board.errors
    if errors:
        first = errors[0]
        print(f"treadtwin emulate: the board's logic raised {len(errors)} time(s), the first at"
              f" {first.t_s:.3f} s in {first.where} ({first.text}); each time the drive was"
              " stopped and serving went on", file=sys.stderr)
    if args.out and scenario is None:
        print(f"treadtwin emulate: nothing written to {args.out}: --out records a --scenario's"
              " trace and verdicts, and a bare --preset has none", file=sys.stderr)
    elif args.out and getattr(board.counts, "sessions", None) == 0:
        print(f"treadtwin emulate: nothing written to {args.out}: no host ever connected",
              file=sys.stderr)
    elif args.out:
        run.interrupted = bool(stop) and run.sim_time_s < duration_s - 1e-9
        result = judge(scenario, run)
        result.extra = {"mode": f"emulator-{clock.value}", "protocol": args.protocol}
        write_outputs(result, args.out)
        if run.interrupted:
            return _say_interrupted("emulate", result, args.out)
        _print_verdict(result, args.out)
        return EXIT_PASS if result.passed else EXIT_FAIL
    return EXIT_PASS


def _cmd_hil(args: argparse.Namespace) -> int:
    from .hil import Protocol, open_treadmill, run_hil, unreportable_needs
    from .recording import TraceRecorder
    from .report import write_outputs
    from .runner import ScenarioInterrupted
    from .suite import scenario_file

    scenario = load_scenario(scenario_file(args.file))
    out = args.out or Path("out") / "hil" / scenario.name
    refused = _refuse_out("hil", "--out", out) or _refuse_baud("hil", args.protocol, args.baud)
    if refused is not None:
        return refused
    protocol = Protocol(args.protocol)
    needs = unreportable_needs(scenario)
    if protocol is not Protocol.TREADTWIN and needs:
        print(f"treadtwin hil: {args.file}: the [controller] needs {needs}, which"
              f" {protocol.value} treadmills do not report; allowed with --protocol"
              f" {protocol.value}: kind = \"program\" or \"incline_loop\"", file=sys.stderr)
        return EXIT_INVALID
    period_ms = round(scenario.engine.control_period_s * 1000)
    try:
        treadmill = open_treadmill(args.port, protocol, args.baud, lockstep=args.lockstep,
                                   telemetry_period_ms=period_ms if args.lockstep else 20,
                                   seed=scenario.seed)
    except (OSError, ValueError) as exc:
        print(f"treadtwin hil: cannot drive {args.port} ({protocol.value}): {exc}",
              file=sys.stderr)
        return EXIT_INVALID
    with TraceRecorder(out) as recorder:  # trace.csv and events.csv grow as the run goes
        try:
            result = run_hil(scenario, treadmill, lockstep=args.lockstep, recorder=recorder)
        except ScenarioInterrupted as stop:  # the belt is stopped; the link closes below
            write_outputs(stop.result, out, recorder)
            print(f"treadtwin hil: {stop.result.extra['stopping']}", file=sys.stderr)
            return _say_interrupted("hil", stop.result, out)
        finally:
            treadmill.close()
        write_outputs(result, out, recorder)
    _print_verdict(result, out)
    return EXIT_PASS if result.passed else EXIT_FAIL


def _cmd_presets(args: argparse.Namespace) -> int:
    if args.name is None:
        for name in PRESETS:
            machine = preset(name)
            print(f"{name:16s} {machine.kind.value:15s} {machine.description}")
        return EXIT_PASS
    try:
        machine = preset(args.name)
    except KeyError as exc:
        print(f"treadtwin presets: {exc.args[0]}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{machine.name}: {machine.description}")
    if machine.rated_user_mass_kg:
        print(f"rated user: {machine.rated_user_mass_kg:g} kg")
    if machine.motorized:
        print(f"stop: {machine.stop_statement()}")
    for part_name in PART_NAMES:
        part = getattr(machine, part_name)
        print(f"[machine.{part_name}]")
        for name, _default, lo, hi, doc in describe(type(part)):
            print(f"  {name:28s} = {getattr(part, name):<12.6g} ({lo:g}..{hi:g}) {doc}")
            print(f"  {'':28s}   {machine.tag(part_name, name)}")
    print("sources:")
    for source in machine.sources:
        print(f"  - {source}")
    print("tags:")
    for line in legend_lines():
        print(f"  {line}")
    return EXIT_PASS


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends a run as Ctrl-C does: outputs kept, summary marked interrupted."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.command == "run" and args.clock != ClockMode.SCALED.value
            and args.time_scale != 1.0):
        parser.error(f"--time-scale {args.time_scale:g} needs --clock scaled (lockstep runs as"
                     " fast as it can)")
    if args.command in ("run", "suite", "hil", "sweep"):  # emulate handles its own signals
        import signal

        signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "suite":
            return _cmd_suite(args)
        if args.command == "emulate":
            return _cmd_emulate(args)
        if args.command == "hil":
            return _cmd_hil(args)
        if args.command == "list":
            return _cmd_list(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        return _cmd_presets(args)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("treadtwin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``treadtwin presets | head``): stop quietly; point stdout
        # at nothing so Python's own flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
