"""Helpers for the hardware-in-the-loop tests: the emulator in a background thread.

They live in the package (``treadtwin.scenarios.targets``) since the pytest plugin's
``treadmill`` fixture uses them too; the tests import them from here."""

from treadtwin.scenarios.targets import RunningEmulator, TreadmillTarget

__all__ = ["RunningEmulator", "TreadmillTarget"]
