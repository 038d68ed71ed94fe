"""What a SIGKILL costs a run: seconds of trace not on disk, over many kills.

    python benchmarks/bench_kill_loss.py [--kills 20] [--seed 1]

Starts ``treadtwin run backward-warmup --clock scaled --time-scale 1`` again and
again, kills it with SIGKILL at a random moment 1.5-4.5 s into the simulation,
and measures the run time lost: from the last write of trace.csv to the kill.
Each trace left behind is checked to be readable (whole rows only).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treadtwin.scenarios.recording import TRACE_COLUMNS  # noqa: E402


def _newest_t_s(path: Path) -> float:
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return 0.0
    return float(lines[-1].split(b",")[0]) if len(lines) > 1 else 0.0


def one_kill(at_s: float) -> tuple[float, int]:
    """Seconds lost and rows left by one kill at about ``at_s`` of simulated time."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        run = subprocess.Popen([sys.executable, "-m", "treadtwin", "run", "backward-warmup",
                                "--clock", "scaled", "--time-scale", "1", "--out", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        while _newest_t_s(out / "trace.csv") < 1.0:
            time.sleep(0.005)
        time.sleep(at_s - 1.0)
        killed_at = time.time()
        run.send_signal(signal.SIGKILL)
        run.wait()
        trace = out / "trace.csv"
        lost_s = killed_at - os.stat(trace).st_mtime
        text = trace.read_text(encoding="utf-8")
        rows = list(csv.reader(text.splitlines()))
        if not text.endswith("\n") or any(len(r) != len(TRACE_COLUMNS) for r in rows):
            raise SystemExit(f"a half-written row after a kill at {at_s:.2f} s")
        return lost_s, len(rows) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    losses = []
    for k in range(args.kills):
        lost_s, rows = one_kill(rng.uniform(1.5, 4.5))
        losses.append(lost_s)
        print(f"kill {k + 1:2d}: {rows:4d} rows on disk, {lost_s:.3f} s of run lost", flush=True)
    mean_s = sum(losses) / len(losses)
    print(f"{args.kills} kills, every trace readable; run time lost: mean {mean_s:.3f} s,"
          f" worst {max(losses):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
