"""Sweeps: one scenario across a grid of values and seeds, run on Dask, one results table.

``--vary KEY=START:STOP:N`` gives N evenly spaced numbers, ``--vary KEY=a,b,c`` a
list of values; KEY is the scenario file's own dotted path (``walker.mass_kg``,
``machine.preset``, ``machine.drive.accel_mps2``, ``supervisor.backward_speed_max_mps``,
``faults[0].at_s``, ``program[1].speed_mph``). Every combination of the axes runs
once per seed. Every point is validated before anything runs; a point the schema
refuses, or a run that raises, is a row with its error, not a crashed sweep.

The points run on a Dask cluster: a ``LocalCluster`` of one single-threaded
process per worker by default, or the scheduler at ``--scheduler ADDRESS``.
Each run is the same deterministic function of its scenario and seed, so the
table is the same whichever cluster runs it, and the same as a serial run.
"""

from __future__ import annotations

import copy
import csv
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import Scenario, ScenarioError, scenario_from_dict

_PATH_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


@dataclass(frozen=True)
class Axis:
    """One swept key and its values; a range axis also keeps its span for sampling."""

    key: str
    values: tuple[Any, ...]
    span: tuple[float, float] | None = None  # START, STOP of KEY=START:STOP:N


def _value(text: str) -> Any:
    """A --vary value as TOML would read it: a whole number, a number, true/false, text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def parse_vary(text: str) -> Axis:
    """``KEY=START:STOP:N`` or ``KEY=a,b,c``; ValueError with one line if neither."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec:
        raise ValueError(f"--vary {text!r}: write KEY=START:STOP:N or KEY=a,b,c")
    for part in key.split("."):
        if not _PATH_PART.match(part):
            raise ValueError(f"--vary {text!r}: {part!r} is not a key (letters, digits, _,"
                             " and [N] for a row)")
    if spec.count(":") == 2:
        start, stop, count = spec.split(":")
        try:
            lo, hi, n = float(start), float(stop), int(count)
        except ValueError:
            raise ValueError(f"--vary {text!r}: START and STOP must be numbers and N a whole"
                             " number") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or not 1 <= n <= 10000:
            raise ValueError(f"--vary {text!r}: need finite START, STOP and 1 <= N <= 10000")
        values = tuple(lo if n == 1 else lo + (hi - lo) * i / (n - 1) for i in range(n))
        return Axis(key, tuple(round(v, 12) for v in values), (lo, hi))
    values = tuple(_value(v.strip()) for v in spec.split(",") if v.strip())
    if not values:
        raise ValueError(f"--vary {text!r}: no values")
    return Axis(key, values)


def set_key(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key (``faults[0].at_s``) in a scenario document, making tables as needed."""
    parts = key.split(".")
    node: Any = doc
    for depth, part in enumerate(parts):
        name, index = _PATH_PART.match(part).groups()
        last = depth == len(parts) - 1
        if index is None:
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {name} is not a table")
        else:
            rows = node.get(name)
            if not isinstance(rows, list) or int(index) >= len(rows):
                have = len(rows) if isinstance(rows, list) else 0
                raise ValueError(f"{key}: the file has {have} [[{name}]] row(s)")
            if last:
                rows[int(index)] = value
                return
            node = rows[int(index)]


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its swept values and seed, and its scenario or why there is none."""

    index: int
    values: dict[str, Any]
    seed: int
    scenario: Scenario | None
    error: str = ""


def sweep_points(doc: dict[str, Any], source: str, axes: Sequence[Axis],
                 seeds: Sequence[int]) -> list[Point]:
    """Every combination of the axes, once per seed, validated."""
    grid = itertools.product(*(axis.values for axis in axes)) if axes else [()]
    combos = [dict(zip((a.key for a in axes), values, strict=True)) for values in grid]
    return _points(doc, source, combos, seeds)


def sample_points(doc: dict[str, Any], source: str, axes: Sequence[Axis],
                  seeds: Sequence[int], samples: int, sample_seed: int) -> list[Point]:
    """``samples`` random combinations, once per seed: a Latin hypercube over the range
    axes' spans (scipy.stats.qmc, seeded), a uniform seeded choice on the list axes."""
    import numpy as np
    from scipy.stats import qmc

    ranged = [a for a in axes if a.span is not None]
    rng = np.random.default_rng(sample_seed)
    cube = (qmc.LatinHypercube(d=len(ranged), seed=rng).random(samples) if ranged
            else np.zeros((samples, 0)))
    combos = []
    for row in range(samples):
        values, column = {}, 0
        for axis in axes:
            if axis.span is not None:
                lo, hi = axis.span
                values[axis.key] = round(float(lo + (hi - lo) * cube[row, column]), 12)
                column += 1
            else:
                values[axis.key] = axis.values[int(rng.integers(len(axis.values)))]
        combos.append(values)
    return _points(doc, source, combos, seeds)


def _points(doc: dict[str, Any], source: str, combos: Sequence[dict[str, Any]],
            seeds: Sequence[int]) -> list[Point]:
    points = []
    for swept in combos:
        for seed in seeds:
            point_doc = copy.deepcopy(doc)
            scenario, error = None, ""
            try:
                for key, value in swept.items():
                    set_key(point_doc, key, value)
                set_key(point_doc, "scenario.seed", seed)
                scenario = scenario_from_dict(point_doc, source)
            except (ScenarioError, ValueError) as exc:
                error = str(exc)
            points.append(Point(len(points), dict(swept), seed, scenario, error))
    return points


def run_point(point: Point) -> dict[str, Any]:
    """One row of the results table: the swept values, the verdict, criteria and metrics."""
    row: dict[str, Any] = {"run": point.index, **point.values, "seed": point.seed}
    if point.scenario is None:
        return {**row, "passed": False, "error": point.error}
    from .runner import run_scenario

    try:
        result = run_scenario(point.scenario)
    except Exception as exc:  # noqa: BLE001 - a run that raises is a row, not a crashed sweep
        return {**row, "passed": False, "error": f"{type(exc).__name__}: {exc}"}
    row.update(passed=result.passed, error="", reason=result.reason)
    for criterion in result.criteria:
        row[f"criterion.{criterion['name']}"] = criterion["value"]
    for name, value in result.metrics.items():
        row[f"metric.{name}"] = value
    row["wall_time_s"] = result.run.wall_time_s
    return row


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep; ``rows`` are those that finished, in run order."""

    def __init__(self, rows: list[dict[str, Any]], total: int) -> None:
        super().__init__(f"{len(rows)} of {total} runs finished")
        self.rows = rows
        self.total = total


def run_sweep(points: Sequence[Point], *, workers: int = 1, scheduler: str | None = None,
              serial: bool = False,
              progress: Callable[[dict[str, Any], int, int], None] | None = None
              ) -> list[dict[str, Any]]:
    """Run every point (serially, or on Dask) and return the rows in run order."""
    done: dict[int, dict[str, Any]] = {}
    total = len(points)

    def finished(row: dict[str, Any]) -> None:
        done[row["run"]] = row
        if progress:
            progress(row, len(done), total)

    try:
        if serial:
            for point in points:
                finished(run_point(point))
        else:
            _run_on_dask(points, workers, scheduler, finished)
    except KeyboardInterrupt:
        raise SweepInterrupted([done[i] for i in sorted(done)], total) from None
    return [done[i] for i in sorted(done)]


def _run_on_dask(points: Sequence[Point], workers: int, scheduler: str | None,
                 finished: Callable[[dict[str, Any]], None]) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # One single-threaded process per worker: the twin holds the GIL in its Python tick.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    client = Client(cluster if cluster is not None else scheduler)
    futures = []
    try:
        futures = client.map(run_point, points, pure=False)
        for future in as_completed(futures):
            finished(future.result())
    finally:
        client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


def write_table(rows: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """results.csv and results.parquet: one row per run, the union of every row's columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    csv_path, parquet_path = out_dir / "results.csv", out_dir / "results.parquet"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    table = pa.table({c: _column([row.get(c) for row in rows]) for c in columns})
    pq.write_table(table, parquet_path)
    return [csv_path, parquet_path]


def _column(values: list[Any]) -> list[Any]:
    """One Parquet column of one type: true/false, whole numbers, numbers, or else text;
    missing cells stay empty."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return [None if v is None else float(v) for v in values]
    return [None if v is None else str(v) for v in values]


def describe_rate(rows: Sequence[dict[str, Any]], wall_s: float) -> str:
    """``120 runs in 33 s: 100 passed, 18 failed, 2 errors``."""
    errors = sum(1 for r in rows if r.get("error"))
    passed = sum(1 for r in rows if r.get("passed"))
    return (f"{len(rows)} runs in {wall_s:.0f} s: {passed} passed,"
            f" {len(rows) - passed - errors} failed, {errors} errors")

