"""The command of a controller that sets the belt speed itself (self-paced, emulation).

Such a controller computes a speed every tick and takes the rest (incline,
resistance, reset) from an inner program. :class:`BeltCommand` sends the
speed to the millimetre per second, finer than any board's step, and hands
back the previous :class:`~.interface.Command` object while nothing in it
changed: the engine and the serial link send only new commands.
"""

from __future__ import annotations

from .interface import BeltDirection, Command, DriveMode

#: Commands are sent to the millimetre per second (finer than any board's command step).
SPEED_RESOLUTION_MPS = 0.001


class BeltCommand:
    """The last command sent, reused while speed and the inner program's values hold."""

    def __init__(self) -> None:
        self._sent: Command | None = None

    def command(self, speed_mps: float, base: Command, *, incline_pct: float | None = None,
                direction: BeltDirection | None = None, mode: DriveMode | None = None,
                resistance_level: float | None = None) -> Command:
        """``speed_mps`` (quantised) with ``base``'s other fields unless given here."""
        speed = round(speed_mps / SPEED_RESOLUTION_MPS) * SPEED_RESOLUTION_MPS
        incline = base.incline_pct if incline_pct is None else incline_pct
        direction = base.belt_direction if direction is None else direction
        mode = base.mode if mode is None else mode
        level = base.resistance_level if resistance_level is None else resistance_level
        sent = self._sent
        if (sent is not None and sent.belt_speed_mps == speed and sent.incline_pct == incline
                and sent.belt_direction is direction and sent.mode is mode
                and sent.resistance_level == level and sent.reset == base.reset):
            return sent  # unchanged: no new object, nothing new to send
        self._sent = Command(belt_speed_mps=speed, incline_pct=incline, belt_direction=direction,
                             mode=mode, resistance_level=level, reset=base.reset)
        return self._sent
