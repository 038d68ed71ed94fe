"""People drawn from a population: who steps on the belt when a scenario asks for many.

A scenario's ``[walker]`` describes one person; with ``population = NAME``
each run draws the person's reaction delay, recovery reach and stride-time
variability from that population's ranges (normal distributions cut at
their plausible ends), from the run's ``walker.person`` stream. Mass,
height and facing stay the scenario's. A safety verdict over many seeds
then becomes a share of people, as the published outcomes are (Owings et
al. 2001: 23 of 65 older adults failed to recover from the same belt start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .balance import WalkerParams


@dataclass(frozen=True, slots=True)
class Spread:
    """A normal distribution cut at ``lo`` and ``hi``; ``source`` says where it comes from."""

    mean: float
    sd: float
    lo: float
    hi: float
    source: str

    def draw(self, rng: np.random.Generator) -> float:
        for _ in range(100):  # rejection: the cut normal, not a pile-up at the ends
            value = rng.normal(self.mean, self.sd)
            if self.lo <= value <= self.hi:
                return float(value)
        return float(min(max(self.mean, self.lo), self.hi))


#: Per population, the drawn WalkerParams fields. Recovery reach is the longest step, in leg
#: lengths; stride-time variability is a coefficient of variation.
POPULATIONS: dict[str, dict[str, Spread]] = {
    "healthy-adult": {
        "reaction_delay_s": Spread(0.30, 0.05, 0.20, 0.45,
                                   "[U] centred on the 300 ms stepping response (Hof 2010 [C])"),
        "max_forward_step_per_leg": Spread(1.1, 0.1, 0.8, 1.4, "[U] around the default reach"),
        "max_backward_step_per_leg": Spread(0.8, 0.08, 0.6, 1.0, "[U] around the default reach"),
        "stride_time_cv": Spread(0.013, 0.003, 0.006, 0.025,
                                 "healthy young adults 1.3 % (Hausdorff et al. 1999 [C])"),
    },
    "older-adult": {
        "reaction_delay_s": Spread(0.40, 0.08, 0.25, 0.65,
                                   "[U] slower than young adults' 300 ms; Owings 2001's falls"
                                   " are shares, so a spread"),
        "max_forward_step_per_leg": Spread(1.0, 0.12, 0.7, 1.3, "[U] shorter than the young"),
        "max_backward_step_per_leg": Spread(0.7, 0.1, 0.5, 0.95, "[U] shorter than the young"),
        "stride_time_cv": Spread(0.02, 0.006, 0.008, 0.05,
                                 "[U] above the young's 1.3 %; median CV below 6 % in both"
                                 " age groups (Gabell and Nayak 1984 [C])"),
    },
}


def draw_person(params: WalkerParams, rng: np.random.Generator) -> tuple[WalkerParams, dict]:
    """The scenario's walker with its population's fields drawn; and what was drawn."""
    spreads = POPULATIONS[params.population]
    drawn = {name: round(spread.draw(rng), 4) for name, spread in spreads.items()}
    return replace(params, **drawn), drawn


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a share (falls among walkers, say)."""
    if n == 0:
        return 0.0, 1.0
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)
