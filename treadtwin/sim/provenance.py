"""Where a machine's numbers come from: the tag legend and the rules a tag must keep.

Every parameter of a machine carries a tag: one letter in brackets from
:data:`TAG_LEGEND`, then a few words naming the source or the reasoning
(``"[C] 20 Hz PWM command (Sons of Invention, MC-2100)"``). A declared
default carries the tag of the default; a machine that sets its own value
states its own tag, so one machine's source never labels another's number.
The sources themselves are listed in docs/references.md.
"""

from __future__ import annotations

import re

from .params import ParameterError

#: Tag letters and what each promises.
TAG_LEGEND = {
    "C": "confirmed: read in a primary source (standard, datasheet, paper, maker's manual)",
    "S": "secondary: from a review, a repair guide or a forum, named beside it",
    "D": "derived: computed from other tagged figures, the computation beside it",
    "U": "unsourced: an engineering assumption, for calibration from logs to replace",
    "M": "model: a convention of the twin (a threshold, a run condition), not of the machine",
    "N": "not used: this machine has no such part, so the value has no effect",
    "F": "file: set by the scenario file, the user's own figure",
}

_TAG = re.compile(r"^\[([A-Z])\] \S")

#: The tag of every parameter of a part the machine does not have.
NOT_USED_TAG = "[N] no such part on this machine"
#: The tag of a value a scenario file sets.
FILE_TAG = "[F] set in the scenario file"


def tag_code(tag: str) -> str:
    """The legend letter of a tag; :class:`ParameterError` when it is not a legend tag."""
    match = _TAG.match(tag)
    if match is None or match.group(1) not in TAG_LEGEND:
        raise ParameterError(
            f"source tag {tag!r} must start with one of "
            f"{', '.join(f'[{c}]' for c in TAG_LEGEND)} followed by its reason"
        )
    return match.group(1)


def legend_lines() -> list[str]:
    """The legend as text lines, one per tag."""
    return [f"[{code}] {meaning}" for code, meaning in TAG_LEGEND.items()]
