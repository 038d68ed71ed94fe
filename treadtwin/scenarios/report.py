"""Outputs of a run: summary.json, trace.csv, plot.png and report.html (contract names)."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from .recording import TraceRecorder, write_events_csv, write_trace_csv
from .runner import ScenarioResult


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_summary(result: ScenarioResult, path: Path) -> dict[str, Any]:
    """Write summary.json; returns what was written."""
    summary = _json_safe(result.summary())
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _event_labels(events, span_s: float) -> list[tuple[float, str]]:
    """Events close together (1 % of the run) share one marker and one label."""
    groups: list[tuple[float, list[str]]] = []
    for event in events:
        if groups and event.t_s - groups[-1][0] < 0.01 * span_s:
            if event.kind not in groups[-1][1]:
                groups[-1][1].append(event.kind)
        else:
            groups.append((event.t_s, [event.kind]))
    return [(t_s, ", ".join(kinds)) for t_s, kinds in groups]


def plot_run(result: ScenarioResult, path: Path) -> None:
    """Belt speed, incline, motor current and voltage, faults and events over time, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace = result.run.trace
    t = trace["t_s"]
    motorized = result.scenario.machine.motorized
    # A hil run knows only what the treadmill reports; a twin run also knows the truth.
    hardware = str(result.extra.get("mode", "")).startswith("hil")
    walker = None if hardware else result.scenario.walker  # no walker model on hardware
    panels = 2 + int(motorized) + int(walker is not None)
    fig, axes = plt.subplots(panels, 1, figsize=(11, 2.6 * panels + 0.6), sharex=True,
                             constrained_layout=True)
    ax = axes[0]
    ax.plot(t, trace["belt_speed_cmd_mps"], color="0.55", lw=1.2, ls="--", label="command")
    if not hardware:
        ax.plot(t, trace["belt_speed_mps"], color="C0", lw=1.2, label="belt (true)")
    ax.plot(t, trace["belt_speed_meas_mps"], color="C1", lw=0.8, alpha=0.8,
            label="belt (as reported)" if hardware else "belt (tach, as measured)")
    ax.set_ylabel("belt speed (m/s)")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    ax.plot(t, trace["incline_cmd_pct"], color="0.55", lw=1.2, ls="--", label="command")
    if not hardware:
        ax.plot(t, trace["incline_pct"], color="C2", lw=1.2, label="deck (true)")
    ax.plot(t, trace["incline_meas_pct"], color="C3", lw=0.8, alpha=0.8,
            label="deck (as reported)" if hardware else "sensor")
    ax.set_ylabel("incline (%)")
    ax.legend(loc="upper right", fontsize=8)
    if motorized:
        ax = axes[2]
        ax.plot(t, trace["motor_current_a"], color="C4", lw=0.9, label="armature current")
        ax.set_ylabel("current (A)")
        twin = ax.twinx()
        twin.plot(t, trace["motor_voltage_v"], color="C5", lw=0.8, alpha=0.7,
                  label="armature voltage")
        twin.plot(t, trace["bus_voltage_v"], color="C7", lw=0.8, alpha=0.7, label="bus voltage")
        twin.set_ylabel("voltage (V)")
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    if walker is not None:
        ax = axes[-1]
        length = result.scenario.machine.belt.running_length_m
        ax.plot(t, trace["walker_pos_m"], color="C0", lw=1.0, label="walker (centre of mass)")
        ax.axhline(length, color="red", lw=1.0, ls="--", label="rear edge")
        if walker.lanyard:
            ax.axhline(walker.lanyard_reach_frac * length, color="C1", lw=0.8, ls=":",
                       label="lanyard reach")
        ax.set_ylim(length * 1.1, 0.0)  # console at the top, rear edge below
        ax.set_ylabel("from the front (m)")
        ax.legend(loc="lower right", fontsize=8)
    span_s = float(t[-1] - t[0]) if len(t) else 1.0
    for t_s, label in _event_labels(result.run.events, span_s=span_s):
        for axis in axes:
            axis.axvline(t_s, color="red", lw=0.8, alpha=0.6)
        axes[0].annotate(label, (t_s, axes[0].get_ylim()[1]), rotation=90,
                         fontsize=7, color="red", va="top", ha="right")
    axes[-1].set_xlabel("time (s)")
    verdict = "PASS" if result.passed else "FAIL"
    fig.suptitle(f"{result.scenario.name} on {result.scenario.machine.name}: {verdict}")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report_html(result: ScenarioResult, summary: dict[str, Any], path: Path) -> None:
    """A one-page report: verdict, criteria, metrics, events and the plot."""
    esc = html.escape

    def rows(items: list[tuple[str, ...]]) -> str:
        return "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in item) + "</tr>"
                       for item in items)

    criteria = [(c["name"], "pass" if c["passed"] else "FAIL", c["value"], c["limit"])
                for c in summary["criteria"]]
    metrics = [(k, v) for k, v in summary["metrics"].items()]
    events = [(f"{e['t_s']:.2f}", e["kind"], e["detail"]) for e in summary["events"]]
    verdict = "PASS" if summary["passed"] else "FAIL"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{esc(summary['scenario'])}: {verdict}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.PASS{{color:#17702b}}.FAIL{{color:#b00020}}</style></head><body>
<h1>{esc(summary['scenario'])} <span class="{verdict}">{verdict}</span></h1>
<p>{esc(result.scenario.description)}</p>
<p>Machine <b>{esc(summary['machine'])}</b>; {summary['sim_time_s']:g} s simulated in
{summary['wall_time_s']:.2f} s (real-time factor {summary['real_time_factor']:.0f});
seed {summary['seed']}.</p>
<img src="plot.png" alt="belt speed, incline and motor over time" style="max-width:100%">
<h2>Criteria</h2><table><tr><th>criterion</th><th>verdict</th><th>value</th><th>limit</th></tr>
{rows(criteria)}</table>
<h2>Events</h2><table><tr><th>t (s)</th><th>kind</th><th>detail</th></tr>{rows(events)}</table>
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>{rows(metrics)}</table>
<p>Data: <a href="summary.json">summary.json</a>, <a href="trace.csv">trace.csv</a></p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_outputs(result: ScenarioResult, out_dir: Path,
                  recorder: TraceRecorder | None = None) -> dict[str, Any]:
    """Write every output of a run into ``out_dir``; returns the summary.

    With the ``recorder`` that streamed the run, trace.csv and events.csv are finished
    from what it wrote; without one they are written whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if recorder is not None:
        recorder.finish(result.run.trace, result.run.events)
    else:
        write_trace_csv(result.run.trace, out_dir / "trace.csv", result.run.events)
        write_events_csv(result.run.events, out_dir / "events.csv")
    summary = write_summary(result, out_dir / "summary.json")
    plot_run(result, out_dir / "plot.png")
    write_report_html(result, summary, out_dir / "report.html")
    return summary
