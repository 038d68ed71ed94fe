"""Suites: many scenario files, validated first, run on one or more processes.

Writes each scenario's outputs to ``OUT/<scenario name>/``, an ``index.html``
linking them, and optionally a JUnit XML file for CI. A scenario's folder
appears only once it is complete (written beside it, then renamed), so an
interrupted suite (Ctrl-C) leaves the finished scenarios, an index of them,
and no half-written folder.
"""

from __future__ import annotations

import html
import multiprocessing
import os
import shutil
import signal
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .report import write_outputs
from .runner import run_scenario
from .schema import Scenario, ScenarioError, load_scenario


def builtin_suite_dir() -> Path:
    """Where the built-in scenario files are installed."""
    return Path(str(resources.files("treadtwin.scenarios") / "suites"))


def builtin_scenarios() -> dict[str, Path]:
    """The built-in scenario files by name (the file name without ``.toml``)."""
    return {path.stem: path for path in sorted(builtin_suite_dir().glob("*.toml"))}


def scenario_file(text: str | Path) -> Path:
    """A scenario file named by its path, or a built-in scenario named by its name."""
    path = Path(text)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return path  # a path: load_scenario says what is wrong with it
    builtin = builtin_scenarios().get(str(text))
    if builtin is None:
        raise ScenarioError(str(text), "file", str(text),
                            "no such file, and no built-in scenario of that name; built-in: "
                            + ", ".join(builtin_scenarios()) + " (see treadtwin list)")
    return builtin


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Scenario files named, or found (``*.toml``, sorted) in the directories named."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found.extend(sorted(path.rglob("*.toml")))
        elif path.exists():
            found.append(path)
        else:
            raise ScenarioError(str(path), "path", str(path), "no such file or directory")
    if not found:
        raise ScenarioError(", ".join(map(str, paths)), "path", "<none>",
                            "no scenario files (*.toml) found")
    return found


def load_all(files: Sequence[Path]) -> tuple[list[Scenario], list[ScenarioError]]:
    """Validate every file before running any; returns the good ones and all errors."""
    scenarios, errors = [], []
    for path in files:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            errors.append(exc)
    names = {}
    for scenario in scenarios:
        if scenario.name in names:
            errors.append(ScenarioError(scenario.source, "scenario.name", scenario.name,
                                        f"already used by {names[scenario.name]}; names must be"
                                        " unique in a suite (they name the output folders)"))
        names[scenario.name] = scenario.source
    return scenarios, errors


@dataclass(frozen=True)
class SuiteEntry:
    """One scenario's outcome in a suite."""

    name: str
    source: str
    passed: bool
    summary: dict[str, Any]


class SuiteInterrupted(KeyboardInterrupt):
    """Ctrl-C during a suite: pending scenarios were cancelled; ``entries`` finished."""

    def __init__(self, entries: list[SuiteEntry], total: int) -> None:
        super().__init__(f"{len(entries)} of {total} scenarios finished")
        self.entries = entries
        self.total = total


def _partial_dir(out_dir: Path, name: str) -> Path:
    return out_dir / f".{name}.partial"


def _run_one(scenario: Scenario, out_dir: str, seed: int | None) -> SuiteEntry:
    result = run_scenario(scenario, seed=seed)
    final = Path(out_dir) / scenario.name
    partial = _partial_dir(Path(out_dir), scenario.name)
    shutil.rmtree(partial, ignore_errors=True)
    summary = write_outputs(result, partial)
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)  # the folder appears complete, or not at all
    return SuiteEntry(scenario.name, scenario.source, result.passed, summary)


def _worker_signals() -> None:
    """A worker dies quietly when the pool terminates it (SIGTERM): the parent's handler,
    which turns SIGTERM into Ctrl-C, is not the worker's."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_packed(job: tuple[Scenario, str, int | None]) -> SuiteEntry:
    return _run_one(*job)


def run_suite(
    scenarios: Sequence[Scenario],
    out_dir: Path,
    workers: int = 1,
    seed: int | None = None,
    progress: Callable[[SuiteEntry, int, int], None] | None = None,
) -> list[SuiteEntry]:
    """Run scenarios (in parallel when ``workers`` > 1); results in the input order.

    On Ctrl-C the running and pending scenarios are cancelled at once, the index of
    those that finished is written, and :class:`SuiteInterrupted` carries them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, SuiteEntry] = {}
    total = len(scenarios)

    def finished(entry: SuiteEntry) -> None:
        done[entry.name] = entry
        if progress:
            progress(entry, len(done), total)

    try:
        if workers <= 1:
            for scenario in scenarios:
                finished(_run_one(scenario, str(out_dir), seed))
        else:
            # multiprocessing's pool, not concurrent.futures: it can terminate workers that
            # are mid-scenario, so Ctrl-C does not wait for them to finish.
            with multiprocessing.Pool(workers, initializer=_worker_signals) as pool:
                try:
                    jobs = [(s, str(out_dir), seed) for s in scenarios]
                    for entry in pool.imap_unordered(_run_packed, jobs):
                        finished(entry)
                except KeyboardInterrupt:
                    pool.terminate()
                    pool.join()
                    raise
    except KeyboardInterrupt:
        for scenario in scenarios:
            shutil.rmtree(_partial_dir(out_dir, scenario.name), ignore_errors=True)
        entries = [done[s.name] for s in scenarios if s.name in done]
        write_index(entries, out_dir / "index.html", total=total)
        raise SuiteInterrupted(entries, total) from None
    entries = [done[s.name] for s in scenarios]
    write_index(entries, out_dir / "index.html")
    return entries


def write_junit(entries: Sequence[SuiteEntry], path: Path, suite_name: str = "treadtwin") -> None:
    """JUnit XML: one testcase per scenario, a failure per failed criterion."""
    failures = sum(not e.passed for e in entries)
    wall = sum(e.summary["wall_time_s"] for e in entries)
    root = ET.Element("testsuite", name=suite_name, tests=str(len(entries)),
                      failures=str(failures), errors="0", time=f"{wall:.3f}")
    for entry in entries:
        case = ET.SubElement(root, "testcase", classname=suite_name, name=entry.name,
                             file=entry.source, time=f"{entry.summary['wall_time_s']:.3f}")
        for criterion in entry.summary["criteria"]:
            if not criterion["passed"]:
                failure = ET.SubElement(case, "failure", message=(
                    f"{criterion['name']}: value {criterion['value']} limit {criterion['limit']}"))
                failure.text = f"see {entry.name}/summary.json"
        props = ET.SubElement(case, "properties")
        for key, value in entry.summary["metrics"].items():
            ET.SubElement(props, "property", name=key, value=str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_index(entries: Sequence[SuiteEntry], path: Path, total: int | None = None) -> None:
    """An index page linking each scenario's report; ``total`` when the suite was cut short."""
    rows = []
    for e in entries:
        verdict = "PASS" if e.passed else "FAIL"
        failed = ", ".join(c["name"] for c in e.summary["criteria"] if not c["passed"])
        rows.append(
            f"<tr><td><a href='{html.escape(e.name)}/report.html'>{html.escape(e.name)}</a></td>"
            f"<td class='{verdict}'>{verdict}</td><td>{html.escape(e.summary['machine'])}</td>"
            f"<td>{e.summary['real_time_factor']:.0f}</td><td>{html.escape(failed)}</td></tr>")
    passed = sum(e.passed for e in entries)
    note = ("" if total is None else f"<p><b>Interrupted:</b> {len(entries)} of {total}"
            " scenarios finished; the others were cancelled.</p>")
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>treadtwin suite</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
        "padding:3px 8px}table{border-collapse:collapse}.PASS{color:#17702b}.FAIL{color:#b00020}"
        f"</style></head><body><h1>treadtwin suite: {passed}/{len(entries)} passed</h1>"
        f"{note}<table>"
        "<tr><th>scenario</th><th>verdict</th><th>machine</th><th>real-time factor</th>"
        "<th>failed criteria</th></tr>" + "".join(rows) + "</table></body></html>\n",
        encoding="utf-8")


def default_workers() -> int:
    """One worker per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def progress_line(entry: SuiteEntry, done: int, total: int) -> str:
    """One line per finished scenario."""
    verdict = "PASS" if entry.passed else "FAIL"
    rtf = entry.summary["real_time_factor"]
    return f"[{done}/{total}] {verdict} {entry.name} (real-time factor {rtf:.0f})"
