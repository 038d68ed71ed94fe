"""Ordinary treadmill sessions, across the range users give the twin: how many go wrong?

    python benchmarks/bench_ordinary_sessions.py [--size quick|full] [--workers N] [--csv F]
                                                 [--population healthy-adult --seeds N]

A healthy adult on a motorized treadmill with the default settings
(supervisor on, lanyard worn, no rails unless the row says so, stepping onto
a stopped belt at t = 0) walks through every one of these sessions; so must
the twin's walker. Each session is a scenario file run through the same
schema and runner as ``treadtwin run``, and judged by its default criteria
(``no_fall``, ``no_unexpected_stop``).

The matrix: the three motorized presets x walker masses x heights x both
facings x session kinds:

- ``constant``: one program speed from standstill, across each facing's
  walking range (forward 0.5-3.5 mph, backward 0.5-2.5 mph);
- ``progression``: the seeds' 0.5 mph steps, 20 s each, up to 3 mph forwards
  or 2 mph backwards (the 0.5 mph progression the backward-walking guides advise);
- ``stop``: walking at 1-3 mph (backward 1-2 mph), then a programmed stop
  whose deceleration the supervisor holds at 0.5-1.0 m/s^2;
- ``incline``: walking on 0-10 % grade;
- ``rails``: the constant session holding the handrails.

It prints, per preset and kind, the counts of sessions with a fall, a
lanyard pull, a supervisor stop, a stumble and a FAIL verdict, and ends with
the totals. Exit status 1 when any session fell, pulled the lanyard or was
stopped (the issue's "done" condition).

With ``--population`` every session is run ``--seeds`` times, each with a
person drawn from that population and stepping with its stride-time
variability (docs/walker.md), seeds 0 to N-1.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from treadtwin.scenarios.runner import run_scenario  # noqa: E402
from treadtwin.scenarios.schema import parse_scenario  # noqa: E402

PRESETS = ("home-motorized", "club-motorized", "instrumented")
SIZES = {
    # masses (kg), heights (m), forward constant speeds (mph), backward constant speeds (mph)
    "quick": ((55.0, 85.0, 120.0), (1.75,), (0.5, 1.5, 3.0), (0.5, 1.0, 2.0)),
    "full": ((50.0, 70.0, 85.0, 100.0, 120.0), (1.55, 1.75, 1.95),
             (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5), (0.5, 1.0, 1.5, 2.0, 2.5)),
}
STOP_DECELS_MPS2 = (0.5, 0.75, 1.0)
INCLINES_PCT = (0.0, 5.0, 10.0)
SESSION_S = 60.0


def _walker(mass_kg: float, height_m: float, facing: str, rails: bool = False,
            population: str | None = None) -> str:
    drawn = f'population = "{population}"\n' if population else ""
    return (f"[walker]\nmass_kg = {mass_kg}\nheight_m = {height_m}\nfacing = \"{facing}\"\n"
            f"holds_handrails = {'true' if rails else 'false'}\n{drawn}")


def _rows(*rows: tuple[float, float, float]) -> str:
    return "".join(f"[[program]]\nat_s = {at}\nspeed_mph = {mph}\nincline_pct = {grade}\n"
                   for at, mph, grade in rows)


def sessions(size: str, population: str | None = None,
             seeds: int = 1) -> list[tuple[dict, str]]:
    """Every session of the matrix: (its labels, its scenario text), once per seed."""
    masses, heights, fwd_mph, bwd_mph = SIZES[size]
    out = []
    for preset, mass, height, facing in itertools.product(PRESETS, masses, heights,
                                                          ("console", "rear")):
        backward = facing == "rear"
        speeds = bwd_mph if backward else fwd_mph
        head = f'[machine]\npreset = "{preset}"\n'
        cases = []
        for mph in speeds:
            cases.append(("constant", f"{mph} mph", _rows((0, mph, 0)), ""))
            cases.append(("rails", f"{mph} mph", _rows((0, mph, 0)), "rails"))
        top = 2.0 if backward else 3.0
        steps = [(20 * i, 0.5 * (i + 1), 0) for i in range(int(top / 0.5))]
        cases.append(("progression", f"to {top} mph", _rows(*steps), ""))
        for mph, decel in itertools.product((1.0, 2.0) if backward else (1.0, 2.0, 3.0),
                                            STOP_DECELS_MPS2):
            stop = (f"[supervisor]\ndecel_max_mps2 = {decel}\n")
            cases.append(("stop", f"{mph} mph at {decel} m/s^2",
                          _rows((0, mph, 0), (30, 0.0, 0)), stop))
        for grade in INCLINES_PCT:
            mph = 1.0 if backward else 2.0
            cases.append(("incline", f"{mph} mph {grade:g} %", _rows((0, mph, grade)), ""))
        for kind, what, program, extra in cases:
            rails = extra == "rails"
            supervisor = "" if rails else extra
            duration_s = max(SESSION_S, steps[-1][0] + 20.0) if kind == "progression" else SESSION_S
            for seed in range(seeds):
                text = (f'[scenario]\nname = "ordinary"\nduration_s = {duration_s}\n'
                        f"seed = {seed}\n{head}"
                        f"{_walker(mass, height, facing, rails, population)}{supervisor}"
                        f"{program}")
                labels = {"preset": preset, "mass_kg": mass, "height_m": height,
                          "facing": facing, "kind": kind, "what": what, "seed": seed}
                out.append((labels, text))
    return out


def run_one(item: tuple[dict, str]) -> dict:
    """Run one session; its labels with what happened."""
    labels, text = item
    result = run_scenario(parse_scenario(text, "ordinary"))
    kinds = Counter(e.kind for e in result.run.events)
    first_bad = next((f"{e.t_s:.1f}s {e.kind}: {e.detail}" for e in result.run.events
                      if e.kind in ("fall", "lanyard_pull", "supervisor_stop")), "")
    return {**labels, "passed": result.passed, "fell": kinds["fall"] > 0,
            "lanyard": kinds["lanyard_pull"] > 0, "stopped": kinds["supervisor_stop"] > 0,
            "stumbles": kinds["stumble"], "first_bad": first_bad,
            "speed_error_mps": result.metrics.get("mean_abs_speed_error_mps"),
            "max_balance_error_m": float(abs(result.run.trace["balance_error_m"]).max())}


COLUMNS = ("sessions", "falls", "lanyard", "stops", "stumbled", "FAIL")


def _count(rows: list[dict]) -> list[int]:
    return [len(rows), sum(r["fell"] for r in rows), sum(r["lanyard"] for r in rows),
            sum(r["stopped"] for r in rows), sum(r["stumbles"] > 0 for r in rows),
            sum(not r["passed"] for r in rows)]


def table(rows: list[dict]) -> str:
    """Counts per preset and session kind, then the totals, as Markdown."""
    lines = ["| preset | kind | " + " | ".join(COLUMNS) + " |",
             "|---|---|" + "---:|" * len(COLUMNS)]
    for preset in PRESETS:
        for kind in ("constant", "progression", "stop", "incline", "rails"):
            group = [r for r in rows if r["preset"] == preset and r["kind"] == kind]
            if group:
                lines.append(f"| {preset} | {kind} | " + " | ".join(map(str, _count(group)))
                             + " |")
    lines.append("| **all** | | " + " | ".join(f"**{n}**" for n in _count(rows)) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--csv", type=Path, help="write one row per session here")
    parser.add_argument("--population", choices=("healthy-adult", "older-adult"), default=None,
                        help="draw each session's person from this population")
    parser.add_argument("--seeds", type=int, default=1, help="with --population: seeds per cell")
    args = parser.parse_args(argv)
    seeds = args.seeds if args.population else 1
    items = sessions(args.size, args.population, seeds)
    drawn = (f", people drawn from {args.population}, {seeds} seeds per cell"
             if args.population else "")
    print(f"{len(items)} ordinary sessions ({args.size}{drawn}), {SESSION_S:g} s each, "
          f"{args.workers} workers", flush=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, items, chunksize=4))
    print(table(rows))
    errors = sorted(r["max_balance_error_m"] for r in rows)
    print(f"\nlargest balance error per session: median {errors[len(errors) // 2]:.3f} m,"
          f" 99th percentile {errors[int(0.99 * (len(errors) - 1))]:.3f} m, max {errors[-1]:.3f} m")
    print(f"{time.perf_counter() - start:.0f} s wall")
    bad = [r for r in rows if r["fell"] or r["lanyard"] or r["stopped"]]
    for r in bad[:40]:
        print(f"  {r['preset']} {r['mass_kg']:g} kg {r['height_m']} m {r['facing']} "
              f"{r['kind']} {r['what']} seed {r['seed']}: {r['first_bad']}")
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
