"""What every emulated board firmware offers: bytes in, bytes and a drive command out."""

from __future__ import annotations

from typing import Protocol

from ..controllers.interface import Command, Telemetry


class DeviceBoard(Protocol):
    """Firmware of a board between a host link and the treadmill's motor drive.

    The emulator calls :meth:`on_bytes` with whatever the host sent (any
    chunking: a frame may arrive split or several at once) and :meth:`on_tick`
    at the board's own period; both return the bytes to send back to the
    host. ``telemetry`` is what the motor board reports at ``now_s`` (board
    clock, seconds). :attr:`drive_command` is what the board currently asks
    of the drive; the emulator writes it to the twin whenever it changes.
    Nothing here may raise on bad bytes: bad input is counted and answered
    as the protocol says.
    """

    @property
    def drive_command(self) -> Command: ...

    def take_drive_command(self) -> Command: ...

    def on_bytes(self, data: bytes, now_s: float, telemetry: Telemetry) -> bytes: ...

    def on_tick(self, now_s: float, telemetry: Telemetry) -> bytes: ...

    def failure_reply(self) -> bytes:
        """What to send the host when the board's own logic failed while handling its bytes:
        the protocol's "could not carry out" answer, so the host is told and never waits."""
        ...
