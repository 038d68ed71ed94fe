"""How fast the whole twin runs with a walker on the belt, beside the empty belt.

    python benchmarks/bench_walker_session.py [--minutes 10] [--repeat 3]

Runs a session of ``--minutes`` on the home treadmill (a walker stepping on
at 0.5 mph, raised in 0.5 mph steps to 3 mph) with the layer-2 walker,
forwards and backwards, and the same program on the empty belt, with the
safety supervisor off (the twin alone) and on; reports the best real-time
factor of ``--repeat`` runs after one warm-up run. Then, as a user meets it,
``treadtwin run backward-warmup`` as a separate process: the wall time with
Python's start, loading the compiled plant and writing the report, beside the
simulation's own share (``wall_time_s`` in its summary.json).
Target (issue 3): the whole twin with the walker at least 1000x on one core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from treadtwin.scenarios.runner import run_scenario  # noqa: E402
from treadtwin.scenarios.schema import parse_scenario  # noqa: E402

TARGET_RTF = 1000.0


def scenario_text(minutes: float, walker: str) -> str:
    rows = "".join(f"[[program]]\nat_s = {20 * i}\nspeed_mph = {0.5 * (i + 1)}\n"
                   for i in range(6))
    return (f'[scenario]\nname = "bench"\nduration_s = {60 * minutes}\n'
            f'[machine]\npreset = "home-motorized"\n{walker}\n{rows}')


def best_rtf(text: str, repeat: int) -> tuple[float, float]:
    scenario = parse_scenario(text, "bench")
    run_scenario(scenario)  # warm-up: numba cache load
    best_wall = float("inf")
    engine_rtf = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_scenario(scenario)
        wall = time.perf_counter() - start
        if wall < best_wall:
            best_wall, engine_rtf = wall, result.run.real_time_factor
    return scenario.duration_s / best_wall, engine_rtf


def command_line_run(name: str = "backward-warmup") -> tuple[float, float, float]:
    """Wall time of ``treadtwin run NAME`` in its own process, its simulation's wall time
    and its simulated time, in seconds."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "treadtwin", "run", name, "--out", out],
                       check=True, capture_output=True)
        wall = time.perf_counter() - start
        summary = json.loads((Path(out) / "summary.json").read_text())
    return wall, summary["wall_time_s"], summary["sim_time_s"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    off = "[supervisor]\nenabled = false\n"
    forwards = "[walker]\nstep_on_at_s = 3\n"
    backwards = '[walker]\nfacing = "rear"\nholds_handrails = true\nstep_on_at_s = 3\n'
    cases = {
        "empty belt": off,
        "walker forwards": forwards + off,
        "walker backwards": backwards + off,
        "walker fwd + supervisor": forwards,
        "walker bwd + supervisor": backwards,
    }
    print(f"home-motorized, {args.minutes:g} min, physics 1 ms, controller 10 ms, "
          f"best of {args.repeat}")
    print(f"{'case':24s} {'RTF (run_scenario)':>20s} {'RTF (engine)':>14s}")
    for name, walker in cases.items():
        total, engine = best_rtf(scenario_text(args.minutes, walker), args.repeat)
        verdict = "" if "walker" not in name else (
            "  target 1000x: " + ("met" if total >= TARGET_RTF else "MISSED"))
        print(f"{name:24s} {total:19.0f}x {engine:13.0f}x{verdict}")
    wall, simulating, simulated = command_line_run()
    print(f"treadtwin run backward-warmup ({simulated / 60:g} min simulated): {wall:.1f} s of"
          f" wall time, {simulating:.1f} s of it simulation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
