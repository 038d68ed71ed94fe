"""Sweep throughput on Dask: simulated seconds per wall second with 1 and 2 workers.

    python benchmarks/bench_sweep.py [--runs 40] [--minutes 10]

A sweep of ten-minute sessions (the built-in backward-warmup's machine and a
walker, mass swept) runs on a local Dask cluster of one worker, then two,
and serially in this process as the reference; reports each throughput, the
parallel efficiency from 1 to 2 workers (target 85 %), and what 1000
ten-minute sessions would take (target under 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treadtwin.scenarios.sweep import Axis, run_sweep, sweep_points  # noqa: E402

SESSION = """[scenario]
name = "bench-sweep"
duration_s = {duration}
[machine]
preset = "home-motorized"
[walker]
facing = "rear"
step_on_at_s = 3
[routine]
name = "backward-warmup"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args(argv)
    doc = tomllib.loads(SESSION.format(duration=60 * args.minutes))
    masses = tuple(50.0 + 70.0 * i / max(args.runs - 1, 1) for i in range(args.runs))
    points = sweep_points(doc, "bench", [Axis("walker.mass_kg", masses)], [1])
    simulated_s = sum(p.scenario.duration_s for p in points)
    print(f"{len(points)} sessions of {args.minutes:g} min ({simulated_s:.0f} s simulated)")
    results = {}
    for name, kwargs in (("serial, this process", {"serial": True}),
                         ("Dask, 1 worker", {"workers": 1}),
                         ("Dask, 2 workers", {"workers": 2})):
        start = time.perf_counter()
        rows = run_sweep(points, **kwargs)
        wall = time.perf_counter() - start
        results[name] = wall
        errors = sum(1 for r in rows if r["error"])
        print(f"{name:22s} {wall:7.1f} s wall  {simulated_s / wall:8.0f} simulated s per wall s"
              f"  ({errors} errors)")
    one, two = results["Dask, 1 worker"], results["Dask, 2 workers"]
    print(f"parallel efficiency 1 -> 2 workers: {one / (2 * two):.0%} (target 85 %)")
    per_session_s = two / len(points)
    print(f"1000 ten-minute sessions at this rate: {1000 * per_session_s * 10 / args.minutes:.0f}"
          " s on 2 workers (target 300 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
