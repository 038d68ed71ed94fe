"""Where treadmill-agnostic tests run: ``--treadmill twin,emulator`` (default) or a real port.

The options come from treadtwin's pytest plugin (``treadtwin.scenarios.pytest_plugin``).
``pytest --treadmill /dev/ttyUSB0 --treadmill-protocol trackmaster`` runs the
tests that take the ``treadmill_target`` fixture against a real treadmill in
wall-clock time (make sure nobody is on it). ``twin`` runs them in-process;
``emulator`` runs them through the serial adapter, a pseudo-terminal and the
emulator in lockstep.
"""

from __future__ import annotations

import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "treadmill_target" in metafunc.fixturenames:
        targets = [t.strip() for t in metafunc.config.getoption("--treadmill").split(",")]
        metafunc.parametrize("treadmill_target", [t for t in targets if t], indirect=True)


@pytest.fixture
def treadmill_target(request: pytest.FixtureRequest):
    from hil_support import TreadmillTarget

    return TreadmillTarget(request.param, request.config.getoption("--treadmill-protocol"))
