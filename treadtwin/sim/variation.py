"""Run-to-run spread of a machine: no two sessions find the deck the same.

The belt-deck friction depends on the deck's wax, wear, temperature and the
belt's tension on the day; no maker publishes its spread, so its size is the
scenario's (``[variation] deck_friction_cv``) and each run draws one factor
for it from the ``machine.deck`` stream. The factor scales the empty-belt
deck drag and the friction per newton of walker load together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from .machine import Machine
from .params import param_range


@dataclass(frozen=True, slots=True)
class MachineVariation:
    """How much a machine varies from run to run (coefficients of variation)."""

    deck_friction_cv: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.deck_friction_cv <= 0.5:
            raise ValueError(f"deck_friction_cv = {self.deck_friction_cv!r}: allowed 0..0.5")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) > 0.0 for f in fields(self))


def vary_machine(machine: Machine, variation: MachineVariation,
                 rng: np.random.Generator) -> tuple[Machine, dict[str, float]]:
    """The machine as this run finds it, and the factors drawn."""
    factor = float(np.clip(1.0 + variation.deck_friction_cv * rng.standard_normal(), 0.2, 2.0))
    belt = machine.belt
    values = {}
    for name in ("deck_drag_empty_n", "deck_friction_coeff"):
        lo, hi = param_range(type(belt), name)
        values[name] = min(max(getattr(belt, name) * factor, lo), hi)
    return replace(machine, belt=replace(belt, **values)), {"deck_friction_factor": factor}
