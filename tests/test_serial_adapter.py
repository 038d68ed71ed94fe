"""The host side of the adapter link, pass by pass, on a fake port and a fake clock."""

from __future__ import annotations

from treadtwin.controllers.interface import BeltDirection, Fault, Telemetry
from treadtwin.controllers.protocol import encode_telemetry
from treadtwin.controllers.serial_adapter import SerialAdapterTreadmill


class FakePort:
    """Bytes the adapter sent wait here until the host reads them."""

    def __init__(self) -> None:
        self.waiting = b""
        self.written: list[bytes] = []

    @property
    def in_waiting(self) -> int:
        return len(self.waiting)

    def read(self, size: int = 1) -> bytes:
        data, self.waiting = self.waiting[:size], self.waiting[size:]
        return data

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        return len(data)

    def close(self) -> None:
        pass


def _telemetry(t_s: float, seq: int) -> bytes:
    return encode_telemetry(Telemetry(t_s, 0.0, BeltDirection.FORWARD, 0, None, 0.0, 0.0, 170.0,
                                      True, False, Fault.NONE), seq)


def test_a_starved_reader_counts_its_own_stall_and_not_a_link_loss():
    now = [0.0]
    host = SerialAdapterTreadmill("fake", watchdog_ms=250, clock=lambda: now[0])
    port = host._serial = FakePort()
    port.waiting = _telemetry(0.0, 1)
    host._service()
    now[0] = 0.005
    host._service()
    assert host.counters.host_stalls == 0
    # The host's thread sleeps 0.3 s (over the 62.5 ms heartbeat interval and the 0.1 s
    # link-loss time); the adapter's telemetry kept coming and waits in the port.
    now[0] = 0.305
    port.waiting = b"".join(_telemetry(0.02 * k, 1 + k) for k in range(1, 16))
    host._service()
    assert host.counters.host_stalls == 1
    assert abs(host.counters.host_stall_max_s - 0.3) < 1e-9
    assert host.counters.link_losses == 0 and host.link_up
    assert host.counters.as_dict()["host_stalls"] == 1  # reported in summary.json's link


def test_a_silent_adapter_is_a_link_loss_and_no_host_stall():
    now = [0.0]
    host = SerialAdapterTreadmill("fake", watchdog_ms=250, clock=lambda: now[0])
    host._serial = FakePort()
    host._serial.waiting = _telemetry(0.0, 1)
    for k in range(40):  # the loop comes round every 5 ms; nothing more arrives
        now[0] = 0.005 * k
        host._service()
        if not host.link_up:
            break  # the next pass would reconnect
    assert 0.1 < now[0] <= 0.11  # lost after 5 telemetry periods, at least 100 ms
    assert host.counters.host_stalls == 0
    assert host.counters.link_losses == 1 and not host.link_up
