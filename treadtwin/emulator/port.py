"""The emulator's end of the link: a pseudo-terminal or a serial device, paced at a baud rate.

A pseudo-terminal moves bytes as fast as the kernel copies them; a UART
takes 10 bit times per byte (8N1). So that timing seen through the
pseudo-terminal is the timing a real link would give, :class:`PtyPort`
delivers what the board sends only once its last byte would have left the
wire, and hands the board what the host sent only once its last byte would
have arrived. Both directions queue behind earlier bytes, as on a wire.

The host opens ``path``: a stable symbolic link to the current
pseudo-terminal when ``link_path`` is given, so :meth:`PtyPort.unplug` and
:meth:`PtyPort.replug` behave like pulling a USB adapter and plugging it
back in (the link moves to a new device; the host must reopen it).
"""

from __future__ import annotations

import errno
import os
import select
import tty
from collections import deque
from pathlib import Path

BITS_PER_BYTE_8N1 = 10  # start bit, 8 data bits, stop bit


class WireClock:
    """When bytes written back to back finish on a wire of ``baud`` (no pacing if ``None``)."""

    def __init__(self, baud: int | None) -> None:
        if baud is not None and baud <= 0:
            raise ValueError(f"baud must be a positive integer, got {baud!r}")
        self.byte_s = 0.0 if baud is None else BITS_PER_BYTE_8N1 / baud
        self._free_at_s = 0.0

    def done_at(self, now_s: float, nbytes: int) -> float:
        """Time the last of ``nbytes`` handed over at ``now_s`` is through."""
        start = max(now_s, self._free_at_s)
        self._free_at_s = start + nbytes * self.byte_s
        return self._free_at_s


def _refuse_foreign(link_path: Path) -> None:
    """A link path may only replace nothing, or a link to a pseudo-terminal (one this
    program left behind): anything else is the user's, and is not touched."""
    if not (link_path.exists() or link_path.is_symlink()):
        return
    if link_path.is_symlink() and os.readlink(link_path).startswith("/dev/pts/"):
        return
    raise FileExistsError(errno.EEXIST, "exists and is not a link to a pseudo-terminal; give"
                          " a new path (it would be replaced, then deleted at exit)",
                          str(link_path))


class PtyPort:
    """A pseudo-terminal for the host to open, with wire-time pacing both ways."""

    def __init__(self, baud: int | None = 115200, link_path: str | None = None) -> None:
        self.baud = baud
        self.link_path = Path(link_path) if link_path else None
        if self.link_path is not None:
            _refuse_foreign(self.link_path)
        self._tx_wire = WireClock(baud)
        self._rx_wire = WireClock(baud)
        self._tx: deque[tuple[float, bytes]] = deque()
        self._rx: deque[tuple[float, bytes]] = deque()
        self.dropped_tx_bytes = 0  # the host did not read and the terminal buffer filled
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""
        self.replug()

    @property
    def path(self) -> str:
        """What the host opens."""
        return str(self.link_path) if self.link_path else self.slave_path

    def fileno(self) -> int:
        """The master side, for ``select``."""
        if self._master is None:
            raise OSError(errno.ENODEV, "the emulated port is unplugged")
        return self._master

    @property
    def plugged(self) -> bool:
        """True while a device is there to open."""
        return self._master is not None

    def replug(self) -> None:
        """Create a fresh pseudo-terminal (and point the link at it)."""
        self.unplug()
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: a byte pipe like a UART
        os.set_blocking(master, False)
        self._master, self._slave = master, slave  # holding the slave keeps it alive between opens
        self.slave_path = os.ttyname(slave)
        if self.link_path is not None:
            tmp = self.link_path.with_name(self.link_path.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.slave_path)
            tmp.replace(self.link_path)

    def unplug(self) -> None:
        """Close the device: the host's port fails until it reopens after :meth:`replug`."""
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self._tx.clear()
        self._rx.clear()
        if self.link_path is not None:
            self.link_path.unlink(missing_ok=True)

    close = unplug

    # --- board -> host -------------------------------------------------------------------
    def send(self, data: bytes, now_s: float) -> None:
        """Queue bytes; they reach the host once their wire time has passed."""
        if data and self._master is not None:
            self._tx.append((self._tx_wire.done_at(now_s, len(data)), data))

    def flush_due(self, now_s: float) -> None:
        """Deliver every queued chunk whose wire time is over."""
        master = self._master
        while self._tx and self._tx[0][0] <= now_s and master is not None:
            _, data = self._tx.popleft()
            try:
                written = os.write(master, data)
            except OSError:  # the terminal buffer is full (the host does not read), or gone
                written = 0
            self.dropped_tx_bytes += len(data) - written

    # --- host -> board -------------------------------------------------------------------
    def poll_input(self, now_s: float) -> None:
        """Take whatever the host has written and stamp when it is through the wire."""
        master = self._master
        if master is None:
            return
        while True:
            try:
                data = os.read(master, 4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EIO: no process has the terminal open right now
                return
            if not data:
                return
            self._rx.append((self._rx_wire.done_at(now_s, len(data)), data))

    def received(self, now_s: float) -> bytes:
        """Bytes from the host whose wire time is over."""
        out = bytearray()
        while self._rx and self._rx[0][0] <= now_s:
            out += self._rx.popleft()[1]
        return bytes(out)

    def next_due_s(self) -> float:
        """Earliest time a queued chunk in either direction is through (inf if none)."""
        times = [q[0][0] for q in (self._tx, self._rx) if q]
        return min(times) if times else float("inf")

    def wait(self, timeout_s: float) -> None:
        """Sleep until the host writes or ``timeout_s`` passes."""
        timeout_s = max(timeout_s, 0.0)
        master = self._master  # unplug() may run in another thread (tests do that)
        try:
            select.select([] if master is None else [master], [], [], timeout_s)
        except (OSError, ValueError):  # closed under us: the device is gone
            select.select([], [], [], timeout_s)


class SerialDevicePort(PtyPort):
    """A real serial device (e.g. a USB-serial adapter wired to a host): the UART paces itself."""

    def __init__(self, device: str, baud: int = 115200) -> None:
        import serial  # pyserial; only needed here

        self._serial = serial.Serial(device, baudrate=baud, timeout=0)
        super().__init__(baud=None)

    @property
    def path(self) -> str:
        return self._serial.port

    def replug(self) -> None:
        self._master = self._serial.fileno()
        os.set_blocking(self._master, False)

    def unplug(self) -> None:
        self._master = None

    def close(self) -> None:
        self._serial.close()
