"""A sweep's report: pass rate and one metric across the swept space, on one HTML page.

``plot.png`` shows, along the first swept key, the share of runs that passed
and the chosen metric of every run (green passed, red failed); ``index.html``
puts it beside the counts, the links to the table and the failed runs.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The metric plotted when the user names none: the first of these the rows have.
DEFAULT_METRICS = ("min_rear_margin_m", "stop_time_s", "max_belt_speed_mps")
MAX_LISTED_FAILURES = 50
BINS = 10  # a numeric key with more distinct values is binned for the pass rate


def pick_metric(rows: Sequence[dict[str, Any]], wanted: str | None) -> str | None:
    """The metric column to plot: ``wanted`` if the rows have it, else a default."""
    have = {k[len("metric."):] for row in rows for k, v in row.items()
            if k.startswith("metric.") and isinstance(v, int | float) and not isinstance(v, bool)}
    if wanted is not None:
        return wanted if wanted in have else None
    return next((m for m in DEFAULT_METRICS if m in have), min(have) if have else None)


def _positions(values: list[Any]) -> tuple[list[float], list[str] | None]:
    """x positions for the first key's values; category labels when they are not numbers."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None
    labels = sorted({str(v) for v in values})
    return [float(labels.index(str(v))) for v in values], labels


def write_plot(rows: Sequence[dict[str, Any]], key: str, metric: str | None,
               path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ran = [r for r in rows if not r.get("error")]
    x, labels = _positions([r.get(key) for r in ran])
    passed = np.array([bool(r.get("passed")) for r in ran])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                      constrained_layout=True)
    xs = np.array(x)
    distinct = np.unique(xs)
    if labels is None and len(distinct) > BINS:
        edges = np.linspace(xs.min(), xs.max(), BINS + 1)
        which = np.clip(np.digitize(xs, edges) - 1, 0, BINS - 1)
        centres = 0.5 * (edges[:-1] + edges[1:])
        rate = [passed[which == b].mean() if np.any(which == b) else np.nan for b in range(BINS)]
        top.plot(centres, rate, "o-", color="tab:blue")
    else:
        top.plot(distinct, [passed[xs == v].mean() for v in distinct], "o-", color="tab:blue")
    top.set_ylim(-0.05, 1.05)
    top.set_ylabel("share of runs passed")
    top.set_title(f"{len(ran)} runs across {key}")
    if metric is not None:
        values = np.array([np.nan if r.get(f"metric.{metric}") is None
                           else float(r[f"metric.{metric}"]) for r in ran])
        bottom.scatter(xs[passed], values[passed], s=14, color="tab:green", label="passed")
        bottom.scatter(xs[~passed], values[~passed], s=14, color="tab:red", label="failed")
        bottom.set_ylabel(metric)
        bottom.legend(loc="best")
    bottom.set_xlabel(key)
    if labels is not None:
        bottom.set_xticks(range(len(labels)), labels)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_sweep_report(rows: Sequence[dict[str, Any]], keys: Sequence[str], metric: str | None,
                       out_dir: Path, title: str) -> Path:
    """plot.png and index.html in ``out_dir``; returns the page's path."""
    esc = html.escape
    plot = ""
    if keys and any(not r.get("error") for r in rows):
        write_plot(rows, keys[0], metric, out_dir / "plot.png")
        plot = '<img src="plot.png" alt="pass rate and metric across the swept key">'
    errors = [r for r in rows if r.get("error")]
    failed = [r for r in rows if not r.get("passed") and not r.get("error")]
    columns = [*keys, "seed"]

    def table(items: Sequence[dict[str, Any]], last: str) -> str:
        head = "".join(f"<th>{esc(c)}</th>" for c in [*columns, last])
        body = "".join("<tr>" + "".join(f"<td>{esc(str(r.get(c, '')))}</td>"
                                        for c in [*columns, last]) + "</tr>"
                       for r in items[:MAX_LISTED_FAILURES])
        more = (f"<p>and {len(items) - MAX_LISTED_FAILURES} more in results.csv</p>"
                if len(items) > MAX_LISTED_FAILURES else "")
        return f"<table><tr>{head}</tr>{body}</table>{more}"

    passed = len(rows) - len(failed) - len(errors)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>sweep {esc(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px}}
</style></head><body>
<h1>Sweep of {esc(title)}</h1>
<p>{len(rows)} runs: {passed} passed, {len(failed)} failed, {len(errors)} could not run.
Table: <a href="results.csv">results.csv</a>, <a href="results.parquet">results.parquet</a>.</p>
{plot}
<h2>Failed runs</h2>{table(failed, "reason") if failed else "<p>none</p>"}
<h2>Runs that could not run</h2>{table(errors, "error") if errors else "<p>none</p>"}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
