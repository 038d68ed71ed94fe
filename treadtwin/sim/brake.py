"""Resistance brake of manual, curved and sled treadmills.

A manual machine has no motor; its resistance setting acts on the flywheel
(drive side). An eddy-current brake gives a force proportional to speed, a
friction (pad) brake a constant force against motion. The setting is the
command's ``resistance_level`` in 0..1, scaling each brake from zero to its
maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import param, validate


@dataclass(frozen=True, slots=True)
class BrakeParams:
    """Brake at full resistance (``resistance_level = 1``); zero means no such brake."""

    eddy_brake_max_n_per_mps: float = param(0.0, 0.0, 2000.0,
                                            "eddy-current drag at full setting")
    friction_brake_max_n: float = param(0.0, 0.0, 2000.0, "pad-brake force at full setting")

    def __post_init__(self) -> None:
        validate(self)

    @property
    def has_brake(self) -> bool:
        """True when the resistance setting does anything."""
        return self.eddy_brake_max_n_per_mps > 0.0 or self.friction_brake_max_n > 0.0
