"""Progress of long work (suites, sweeps): a bar on a terminal, plain lines elsewhere.

On a terminal, tqdm draws done/total, the failures so far and an estimate of
the time left; in CI logs and pipes there is no bar, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, unit: str) -> Any | None:
    """A tqdm bar on stderr when it is a terminal; None elsewhere."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, smoothing=0.1)


class Progress:
    """Counts finished items and failures; draws the bar, or prints each line given."""

    def __init__(self, total: int, unit: str) -> None:
        self.bar = progress_bar(total, unit)
        self.failed = 0

    def done(self, passed: bool, line: str | None = None) -> None:
        self.failed += not passed
        if self.bar is None:
            if line is not None:
                print(line, flush=True)
            return
        if line is not None:
            self.bar.write(line, file=sys.stdout)
        self.bar.update(1)
        self.bar.set_postfix(failed=self.failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
