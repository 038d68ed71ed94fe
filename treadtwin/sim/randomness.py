"""One seeded random stream per source of a run, independent of each other.

Each source (the walker's step timing, the person drawn from a population,
a sensor's noise) takes its own :class:`numpy.random.Generator`, derived
from the run's seed and the source's name alone. Adding a source, or a
source drawing more numbers, leaves every other source's draws as they
were, so a change in one model does not reshuffle the rest.
"""

from __future__ import annotations

import zlib

import numpy as np

#: The sources that draw, and what each varies.
SOURCES = {
    "walker.person": "the person drawn from the scenario's walker population",
    "walker.steps": "the walker's step-to-step timing (stride-time variability)",
    "machine.deck": "the belt-deck friction the run finds ([variation] deck_friction_cv)",
}


class RunStreams:
    """The random streams of one run, by source name."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.used: list[str] = []  # sources that took a generator, in the order they did

    def generator(self, source: str) -> np.random.Generator:
        """The generator of ``source`` (one of :data:`SOURCES`)."""
        if source not in SOURCES:
            raise ValueError(f"unknown random source {source!r}; known: {', '.join(SOURCES)}")
        if source not in self.used:
            self.used.append(source)
        # The seed and a stable hash of the name: the same stream in every process.
        key = zlib.crc32(source.encode("utf-8"))
        return np.random.default_rng(np.random.SeedSequence(self.seed % 2**63, spawn_key=(key,)))
