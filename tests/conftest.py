"""The tests' shared setup.

The ``treadmill`` fixture and the ``--treadmill`` options come from treadtwin's pytest
plugin (``treadtwin.scenarios.pytest_plugin``): ``pytest --treadmill /dev/ttyUSB0
--treadmill-protocol trackmaster`` runs the tests that take it against a real treadmill in
wall-clock time (make sure nobody is on it). ``twin`` runs them in-process; ``emulator``
runs them through the serial adapter, a pseudo-terminal and the emulator in lockstep.
"""
