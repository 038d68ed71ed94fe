"""Declared, validated parameters for plant parts.

Each plant part declares its parameters as a frozen dataclass whose fields
carry their unit in the name and their documented range in metadata::

    roller_radius_m: float = param(0.04, 0.02, 0.1, "drive roller radius")

:func:`validate` checks every field against its range at construction, and
:func:`describe` renders the declarations for documentation. The numeric
fields of all parts are packed, by name, into one numpy record that the
compiled stepper reads (see :mod:`treadtwin.sim.layout`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


class ParameterError(ValueError):
    """A plant parameter is outside its documented range."""


#: The provenance of a declared default: what the twin assumes when a machine says nothing.
DEFAULT_TAG = "[U] the twin's placeholder"


def param(default: float, lo: float, hi: float, doc: str, tag: str = DEFAULT_TAG) -> Any:
    """Declare a numeric parameter: its default, closed range, one-line doc and the default's tag.

    The tag says where the *default* comes from (see :mod:`.provenance`); a
    machine that sets its own value gives its own tag.
    """
    return dataclasses.field(default=default,
                             metadata={"range": (lo, hi), "doc": doc, "tag": tag})


def validate(part: Any) -> None:
    """Raise :class:`ParameterError` naming the first field outside its range."""
    for f in dataclasses.fields(part):
        rng = f.metadata.get("range")
        if rng is None:
            continue
        value = getattr(part, f.name)
        lo, hi = rng
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(
                f"{type(part).__name__}.{f.name} must be a number, got {value!r}"
            )
        if not (math.isfinite(value) or (math.isinf(value) and value == hi)) or not (
            lo <= value <= hi
        ):
            raise ParameterError(
                f"{type(part).__name__}.{f.name} = {value!r} is outside {lo}..{hi}"
                f" ({f.metadata['doc']})"
            )


def numeric_fields(part_type: type) -> list[str]:
    """Names of the range-declared (numeric) fields of a part type."""
    return [f.name for f in dataclasses.fields(part_type) if "range" in f.metadata]


def param_range(part_type: type, name: str) -> tuple[float, float]:
    """(low, high) of a declared parameter."""
    return next(f.metadata["range"] for f in dataclasses.fields(part_type) if f.name == name)


def default_tag(part_type: type, name: str) -> str:
    """The tag of a declared parameter's default."""
    return next(f.metadata["tag"] for f in dataclasses.fields(part_type) if f.name == name)


def describe(part_type: type) -> list[tuple[str, float, float, float, str]]:
    """(name, default, low, high, doc) for each declared parameter of a part type."""
    rows = []
    for f in dataclasses.fields(part_type):
        if "range" in f.metadata:
            lo, hi = f.metadata["range"]
            rows.append((f.name, f.default, lo, hi, f.metadata["doc"]))
    return rows
