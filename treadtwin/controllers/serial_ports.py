"""Opening a serial port: one program per port.

Linux lets two programs open the same device, and two hosts commanding one
treadmill would each think it is in charge. A device path is therefore opened
with pyserial's exclusive lock (``flock``), so a port another program holds is
refused at once. pyserial URLs (``loop://``, ``socket://``) name no shared
device and are opened as they are.
"""

from __future__ import annotations


def exclusive_for(port: str) -> dict[str, bool]:
    """Extra pyserial arguments for ``port``: an exclusive lock for a device path."""
    return {} if "://" in port else {"exclusive": True}
