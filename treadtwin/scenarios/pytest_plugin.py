"""The pytest plugin: scenario files are tests, and tests can take any treadmill.

Registered by entry point (``pytest11``), so installing treadtwin is enough:

- ``pytest path/to/scenarios/`` collects every ``.toml`` file with a
  ``[scenario]`` table as one test item, named after the scenario, with the
  marker ``scenario``. The item runs the scenario on the twin; it fails with
  the verdict line and each failing criterion's value and limit, and records
  every metric as a JUnit property (``--junitxml``). A file that is not a valid
  scenario is one failed item whose message is the one-line reason, and the
  other files still run. ``-k`` selects by scenario or file name.
- The ``treadmill`` fixture runs a test's scenario on each target of
  ``--treadmill`` (default ``twin,emulator``; or a serial port or pyserial URL
  of a real treadmill, with ``--treadmill-protocol``).

The ini option ``treadtwin_collect_scenarios = false`` turns the collection
off, for a project whose test folders hold scenario files that are data.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

# The twin is imported only when a scenario is collected: a pytest run that has nothing
# of treadtwin's does not pay for loading it.
PROTOCOLS = ("treadtwin", "woodway", "trackmaster")  # as emulator.runner.PROTOCOLS (tested)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("treadtwin")
    group.addoption("--treadmill", default="twin,emulator",
                    help="comma-separated targets: twin, emulator, or a serial port / pyserial"
                         " URL of a real treadmill (default: twin,emulator)")
    group.addoption("--treadmill-protocol", default="treadtwin", choices=PROTOCOLS,
                    help="protocol of a real treadmill given with --treadmill")
    parser.addini("treadtwin_collect_scenarios", type="bool", default=True,
                  help="collect .toml files with a [scenario] table as tests (default: true)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a treadtwin scenario file run on the twin")


def _is_scenario_file(path: Path) -> bool:
    if path.suffix != ".toml":
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip().startswith("[scenario]") for line in text.splitlines())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getini("treadtwin_collect_scenarios"):
        return None
    if _is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "treadmill" in metafunc.fixturenames:
        targets = [t.strip() for t in metafunc.config.getoption("--treadmill").split(",")]
        metafunc.parametrize("treadmill", [t for t in targets if t], indirect=True)


@pytest.fixture
def treadmill(request: pytest.FixtureRequest):
    """A :class:`~.targets.TreadmillTarget`: ``treadmill.run(scenario)`` runs the scenario
    on the twin, through the emulator, or on the real treadmill of ``--treadmill``; a test
    that takes it runs once per target."""
    from .targets import TreadmillTarget

    return TreadmillTarget(request.param, request.config.getoption("--treadmill-protocol"))


class ScenarioFile(pytest.File):
    """A scenario TOML file: one item, or one clear collection error."""

    def collect(self):
        from .schema import ScenarioError, load_scenario

        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            # Reported as a failure of this file alone: a collection error proper would stop
            # the whole session, and the other scenario files must still run.
            yield InvalidScenario.from_parent(self, name=self.path.stem, reason=str(exc))
            return
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        item.add_marker(pytest.mark.scenario)
        yield item


class ScenarioInvalid(Exception):
    """A scenario file the schema refuses; the message is the one-line reason."""


class InvalidScenario(pytest.Item):
    """Stands for a file that is not a valid scenario: it fails with the one-line reason."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        raise ScenarioInvalid(self.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, ScenarioInvalid):
            return f"invalid scenario file: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"invalid scenario file {self.path.name}"


class ScenarioFailed(Exception):
    """A scenario's verdict was FAIL; the message is the verdict and its criteria."""


class ScenarioItem(pytest.Item):
    """One scenario run on the twin and judged by its criteria."""

    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        from .criteria import describe_result
        from .runner import run_scenario

        result = run_scenario(self.scenario)
        for name, value in result.metrics.items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            self.user_properties.append((name, value))
        self.user_properties.append(("passed", result.passed))
        if not result.passed:
            lines = [f"FAIL {self.scenario.name}"]
            lines += [f"  {describe_result(c)}" for c in result.criteria if not c["passed"]]
            raise ScenarioFailed("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name} ({self.scenario.machine.name})"
