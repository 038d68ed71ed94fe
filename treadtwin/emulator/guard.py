"""A board that cannot take the emulator down: an exception in its logic stops the belt.

A device that dies on a frame is the worst thing a hardware-in-the-loop rig
can do: the host sees its port vanish mid-run. :class:`GuardedBoard` stands
in front of any :class:`~.board.DeviceBoard`; when the board's code raises,
the error is recorded (time and text), the drive is sent STOP for that tick,
the host gets the board's "could not carry out" answer if the failure came
while handling its bytes (NACK OPERATION_FAILED on treadtwin's protocol, the
error byte on a lab profile, so a client waiting for a reply never hangs),
and serving goes on. The emulator reports the errors when it finishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..controllers.interface import Command, DriveMode, Telemetry
from .board import DeviceBoard

_STOP = Command(mode=DriveMode.STOP)


@dataclass(frozen=True)
class BoardError:
    """One exception the board's logic raised, and when (board clock)."""

    t_s: float
    where: str  # "on_bytes", "on_tick", "take_drive_command" or "failure_reply"
    text: str


class GuardedBoard:
    """Forwards to ``board``; turns its exceptions into a stopped drive and a record."""

    def __init__(self, board: DeviceBoard) -> None:
        self.board = board
        self.errors: list[BoardError] = []
        self._failed = False
        self._now_s = 0.0

    def __getattr__(self, name: str):  # counts, fed, session_id...: the board's own
        return getattr(self.board, name)

    @property
    def drive_command(self) -> Command:
        return _STOP if self._failed else self.board.drive_command

    def take_drive_command(self) -> Command:
        if self._failed:
            self._failed = False  # one tick of STOP; the board's next answer stands
            return _STOP
        try:
            return self.board.take_drive_command()
        except Exception as exc:  # noqa: BLE001 - any fault of the board logic
            self._record(self._now_s, "take_drive_command", exc)
            return _STOP

    def on_bytes(self, data: bytes, now_s: float, telemetry: Telemetry) -> bytes:
        self._now_s = now_s
        try:
            return self.board.on_bytes(data, now_s, telemetry)
        except Exception as exc:  # noqa: BLE001
            self._record(now_s, "on_bytes", exc)
            try:
                return self.board.failure_reply()
            except Exception as reply_exc:  # noqa: BLE001
                self._record(now_s, "failure_reply", reply_exc)
                return b""

    def on_tick(self, now_s: float, telemetry: Telemetry) -> bytes:
        self._now_s = now_s
        try:
            return self.board.on_tick(now_s, telemetry)
        except Exception as exc:  # noqa: BLE001
            self._record(now_s, "on_tick", exc)
            return b""

    def _record(self, now_s: float, where: str, exc: Exception) -> None:
        self._failed = True
        self.errors.append(BoardError(now_s, where, f"{type(exc).__name__}: {exc}"))
