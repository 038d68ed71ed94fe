"""Sweeps: axes and keys, a grid of points on Dask equal to the serial run, the table."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import tomllib

import pyarrow.parquet as pq
import pytest

from treadtwin.scenarios.cli import main
from treadtwin.scenarios.sweep import (
    Axis,
    parse_vary,
    run_sweep,
    sample_points,
    set_key,
    sweep_points,
    write_table,
)

SHORT = """[scenario]
name = "short"
duration_s = 12
seed = 4
[machine]
preset = "home-motorized"
[walker]
step_on_at_s = 1
[walker.extra]
[[program]]
at_s = 0
speed_mph = 0.5
[[program]]
at_s = 4
speed_mph = 1.5
[[faults]]
at_s = 8
kind = "lanyard_pull"
[[criteria]]
kind = "stops_within"
limit = 5
""".replace("[walker.extra]\n", "")


def test_vary_takes_a_range_or_a_list_and_refuses_anything_else_in_one_line():
    assert parse_vary("walker.mass_kg=50:120:3") == Axis("walker.mass_kg", (50.0, 85.0, 120.0),
                                                         (50.0, 120.0))
    assert parse_vary("walker.facing=console,rear") == Axis("walker.facing", ("console", "rear"))
    assert parse_vary("faults[0].at_s=5,6") == Axis("faults[0].at_s", (5, 6))
    for bad, words in (("walker.mass_kg", "KEY=START"), ("x=1:2:z", "whole number"),
                       ("a b=1", "is not a key"), ("x=1:nan:2", "finite"), ("x=,", "no values")):
        with pytest.raises(ValueError, match=words):
            parse_vary(bad)


def test_keys_reach_tables_and_rows_and_a_missing_row_is_named():
    doc = tomllib.loads(SHORT)
    set_key(doc, "machine.drive.accel_mps2", 0.4)
    set_key(doc, "faults[0].at_s", 9.0)
    set_key(doc, "program[1].speed_mph", 2.0)
    assert doc["machine"]["drive"] == {"accel_mps2": 0.4}
    assert doc["faults"][0]["at_s"] == 9.0 and doc["program"][1]["speed_mph"] == 2.0
    with pytest.raises(ValueError, match="1 \\[\\[faults\\]\\] row"):
        set_key(doc, "faults[3].at_s", 1.0)


def test_a_point_the_schema_refuses_is_a_row_with_its_error():
    doc = tomllib.loads(SHORT)
    points = sweep_points(doc, "short.toml", [Axis("walker.mass_kg", (70.0, 900.0))], [4])
    rows = run_sweep(points, serial=True)
    assert [r["passed"] for r in rows] == [True, False]
    assert "walker.mass_kg = 900" in rows[1]["error"] and rows[0]["error"] == ""


def _comparable(rows):
    return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in rows]


def test_a_grid_on_the_local_dask_cluster_equals_the_serial_run_row_for_row(tmp_path):
    # walker mass x facing x two presets x 3 seeds, as a user sweeps it
    doc = tomllib.loads(SHORT)
    # (the walker's steps vary with the seed, so each seed is a different run)
    set_key(doc, "walker.stride_time_cv", 0.03)
    axes = [Axis("walker.mass_kg", (50.0, 120.0)), Axis("walker.facing", ("console", "rear")),
            Axis("machine.preset", ("home-motorized", "club-motorized"))]
    points = sweep_points(doc, "short.toml", axes, [4, 5, 6])
    serial = run_sweep(points, serial=True)
    parallel = run_sweep(points, workers=2)
    assert len(serial) == 24 and _comparable(parallel) == _comparable(serial)
    by_seed = [r["metric.max_balance_error_m"] for r in serial[:3]]
    assert len(set(by_seed)) == 3  # the seeds drew different steps
    assert all(r["error"] == "" for r in serial)
    paths = write_table(parallel, tmp_path)
    table = pq.read_table(paths[1])
    assert table.num_rows == 24 and table.column("walker.facing").to_pylist()[:2] == [
        "console", "console"]
    assert table.column("metric.stop_time_s").type == "double"


@pytest.mark.skipif(shutil.which("dask", path=os.path.dirname(sys.executable)) is None,
                    reason="the dask command line is not installed beside this Python")
def test_a_scheduler_with_two_workers_gives_the_same_table(tmp_path):
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    port = 18786 + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "dask.log").open("w")
    procs = [subprocess.Popen([dask, "scheduler", "--port", str(port), "--dashboard-address",
                               ":0", "--host", "127.0.0.1"], stdout=log, stderr=log)]
    try:
        time.sleep(2.0)
        procs += [subprocess.Popen([dask, "worker", address, "--nthreads", "1",
                                    "--dashboard-address", ":0"], stdout=log, stderr=log)
                  for _ in range(2)]
        doc = tomllib.loads(SHORT)
        points = sweep_points(doc, "short.toml", [Axis("walker.mass_kg", (60.0, 90.0))], [4, 5])
        remote = run_sweep(points, scheduler=address)
        assert _comparable(remote) == _comparable(run_sweep(points, serial=True))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        log.close()


def test_the_command_line_writes_the_table_and_refuses_a_bad_axis(tmp_path, capsys):
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT)
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--vary", "walker.mass_kg=60:80:2", "--seeds", "2",
                 "--serial", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "4 runs" in printed and "4 passed" in printed
    assert (out / "results.csv").read_text().count("\n") == 5
    assert main(["sweep", str(scenario), "--vary", "walker.mass_kg", "--out", str(out)]) == 2
    assert "KEY=START:STOP:N" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_plain_lines_elsewhere(monkeypatch, capsys):
    from treadtwin.scenarios.progress import Progress

    plain = Progress(2, "run")
    plain.done(True, "[1/2] PASS a")
    plain.done(False, "[2/2] FAIL b")
    plain.close()
    assert capsys.readouterr().out == "[1/2] PASS a\n[2/2] FAIL b\n"
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = Progress(2, "run")
    bar.done(True)
    bar.done(False)
    bar.close()
    drawn = terminal.getvalue()
    assert "2/2" in drawn and "failed=1" in drawn


def test_samples_are_a_latin_hypercube_over_the_spans_and_repeat_with_their_seed():
    doc = tomllib.loads(SHORT)
    axes = [parse_vary("walker.mass_kg=50:120:2"), parse_vary("walker.height_m=1.5:1.9:2"),
            parse_vary("walker.facing=console,rear")]
    points = sample_points(doc, "short.toml", axes, [4], samples=10, sample_seed=3)
    masses = [p.values["walker.mass_kg"] for p in points]
    heights = [p.values["walker.height_m"] for p in points]
    # one sample in each tenth of each span: the hypercube's stratification
    assert sorted(int((m - 50.0) / 7.0) for m in masses) == list(range(10))
    assert sorted(int((h - 1.5) / 0.04) for h in heights) == list(range(10))
    assert {p.values["walker.facing"] for p in points} <= {"console", "rear"}
    again = sample_points(doc, "short.toml", axes, [4], samples=10, sample_seed=3)
    assert [p.values for p in again] == [p.values for p in points]
    other = sample_points(doc, "short.toml", axes, [4], samples=10, sample_seed=4)
    assert [p.values for p in other] != [p.values for p in points]


def test_the_sweep_writes_a_report_page_with_its_plot(tmp_path, capsys):
    scenario = tmp_path / "short.toml"
    scenario.write_text(SHORT)
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--vary", "criteria[0].limit=0.5:5:4", "--serial",
                 "--metric", "stop_time_s", "--out", str(out)])
    assert code == 1  # the tightest limits fail
    page = (out / "index.html").read_text()
    assert (out / "plot.png").stat().st_size > 10_000
    assert "4 runs:" in page and "failed" in page and "stops_within" in page
    assert main(["sweep", str(scenario), "--vary", "walker.mass_kg=60,70", "--serial",
                 "--metric", "no_such_metric", "--out", str(out)]) == 0
    assert "--metric no_such_metric: no run has that metric" in capsys.readouterr().err
