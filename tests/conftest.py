"""Where treadmill-agnostic tests run: ``--treadmill twin,emulator`` (default) or a real port.

``pytest --treadmill /dev/ttyUSB0 --treadmill-protocol trackmaster`` runs the
tests that take the ``treadmill_target`` fixture against a real treadmill in
wall-clock time (make sure nobody is on it). ``twin`` runs them in-process;
``emulator`` runs them through the serial adapter, a pseudo-terminal and the
emulator in lockstep.
"""

from __future__ import annotations

import pytest

from treadtwin.emulator.runner import PROTOCOLS


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("treadtwin")
    group.addoption("--treadmill", default="twin,emulator",
                    help="comma-separated targets: twin, emulator, or a serial port / pyserial"
                         " URL of a real treadmill (default: twin,emulator)")
    group.addoption("--treadmill-protocol", default="treadtwin", choices=PROTOCOLS,
                    help="protocol of a real treadmill given with --treadmill")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "treadmill_target" in metafunc.fixturenames:
        targets = [t.strip() for t in metafunc.config.getoption("--treadmill").split(",")]
        metafunc.parametrize("treadmill_target", [t for t in targets if t], indirect=True)


@pytest.fixture
def treadmill_target(request: pytest.FixtureRequest):
    from hil_support import TreadmillTarget

    return TreadmillTarget(request.param, request.config.getoption("--treadmill-protocol"))
