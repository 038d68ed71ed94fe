"""Hardware-in-the-loop timing: round trip through the emulator, and wall-clock loop jitter.

1. **Round trip.** A host writes a COMMAND and waits for the TELEMETRY frame
   that acknowledges it (``ack_seq``), through a pseudo-terminal and the
   emulator (``treadtwin emulate --pty``, a separate process, wall clock).
   The reference is the wire-time floor: the COMMAND's and the TELEMETRY's
   bytes at 10 bits each at the chosen baud rate, which no link at that
   rate can beat. Target: median and 99th percentile within floor + 0.5 ms.
2. **Loop jitter.** A 100 Hz control loop (program, supervisor) runs
   against the emulator through :class:`SerialAdapterTreadmill` under
   :func:`run_wall_clock` for ``--seconds``; the reference is a bare loop
   with the same scheduler and no work, run in the same process just before.
   Target: the control loop's 99th-percentile period no more than twice
   the bare loop's. The 99th percentile of |period - nominal| is printed
   too: it is the jitter itself, where the period's p99 includes the
   nominal 10 ms.

Usage::

    python benchmarks/bench_hil_link.py --round-trips 2000 --seconds 60 [--baud 115200]
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import serial

from treadtwin.controllers.interface import Command
from treadtwin.controllers.loop import ControlLoop, run_wall_clock, wall_clock_ticks
from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.controllers.protocol import (
    FrameDecoder,
    Hello,
    HelloAck,
    Side,
    TelemetryPayload,
    encode,
    encode_command,
)
from treadtwin.controllers.serial_adapter import SerialAdapterTreadmill
from treadtwin.controllers.supervisor import SafetySupervisor
from treadtwin.emulator.port import BITS_PER_BYTE_8N1


@contextmanager
def emulator(baud: int, preset: str = "home-motorized"):
    """``treadtwin emulate --pty`` in a child process; yields the device path."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "treadtwin.scenarios.cli", "emulate", "--pty", "--preset", preset,
         "--baud", str(baud)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def round_trips(path: str, baud: int, count: int) -> tuple[np.ndarray, float]:
    """Seconds from writing each COMMAND to decoding the TELEMETRY that acks it; the floor.

    The host side is kept lean (``select`` and ``os.read`` on the port, no reader
    thread) so the figure is the link and the emulator, not a host's own overhead.
    """
    port = serial.serial_for_url(path, baudrate=baud, timeout=0.5)
    fd = port.fileno()
    decoder = FrameDecoder(Side.HOST)
    seq = 1
    port.write(encode(Hello(1, 1, 0xBE7C4, 2000, 1000), seq))  # slow periodic telemetry
    deadline = time.monotonic() + 2.0
    while not any(isinstance(m.body, HelloAck) for m in decoder.feed(port.read(64))):
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator did not answer the HELLO")
    samples = []
    command_bytes = telemetry_bytes = 0
    for i in range(count):
        seq += 1
        frame = encode_command(Command(belt_speed_mps=0.5 + 0.001 * (i % 100)), seq)
        port.reset_input_buffer()
        start = time.perf_counter()
        os.write(fd, frame)
        acked = None
        while acked is None:
            select.select([fd], [], [], 0.5)
            for message in decoder.feed(os.read(fd, 4096)):
                if isinstance(message.body, TelemetryPayload) and message.body.ack_seq == seq:
                    acked = message
        samples.append(time.perf_counter() - start)
        command_bytes = len(frame)
        telemetry_bytes = len(encode(acked.body, acked.seq))
        time.sleep(0.002)
    port.write(encode_command(Command(), seq + 1))
    port.close()
    floor_s = (command_bytes + telemetry_bytes) * BITS_PER_BYTE_8N1 / baud
    return np.array(samples), floor_s


def bare_loop(period_s: float, duration_s: float) -> np.ndarray:
    """Tick times of the scheduler run_wall_clock uses, doing nothing."""
    return np.array(list(wall_clock_ticks(period_s, duration_s)))


def control_loop(path: str, baud: int, period_s: float, duration_s: float) -> np.ndarray:
    """Tick times of a 100 Hz program + supervisor loop driving the emulator."""
    program = [Setpoint(at_s=0.0, speed_mps=0.5), Setpoint(at_s=duration_s / 2,
                                                                 speed_mps=1.0)]
    loop = ControlLoop(ProgramController(program, period_s=period_s), SafetySupervisor())
    with SerialAdapterTreadmill(path, baudrate=baud) as treadmill:
        ticks = run_wall_clock(loop, treadmill, duration_s)
    return np.array(ticks)


def period_stats(ticks: np.ndarray, period_s: float) -> dict[str, float]:
    periods = np.diff(ticks)
    late = np.abs(periods - period_s)
    return {"mean_ms": 1e3 * periods.mean(), "p99_ms": 1e3 * np.percentile(periods, 99),
            "p99_dev_ms": 1e3 * np.percentile(late, 99), "max_ms": 1e3 * periods.max(),
            "overruns": int(np.count_nonzero(periods > 1.5 * period_s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--period-s", type=float, default=0.01)
    args = parser.parse_args()

    with emulator(args.baud) as path:
        samples, floor_s = round_trips(path, args.baud, args.round_trips)
    median_ms = 1e3 * statistics.median(samples)
    p99_ms = 1e3 * float(np.percentile(samples, 99))
    print(f"round trip COMMAND -> acking TELEMETRY at {args.baud} baud, {len(samples)} samples:")
    print(f"  wire-time floor {1e3 * floor_s:.3f} ms; median {median_ms:.3f} ms"
          f" (+{median_ms - 1e3 * floor_s:.3f}); p99 {p99_ms:.3f} ms"
          f" (+{p99_ms - 1e3 * floor_s:.3f}); target floor + 0.5 ms:"
          f" median {'met' if median_ms <= 1e3 * floor_s + 0.5 else 'NOT met'},"
          f" p99 {'met' if p99_ms <= 1e3 * floor_s + 0.5 else 'NOT met'}")

    bare = period_stats(bare_loop(args.period_s, args.seconds), args.period_s)
    with emulator(args.baud) as path:
        loop = period_stats(control_loop(path, args.baud, args.period_s, args.seconds),
                            args.period_s)
    print(f"100 Hz wall-clock loop over {args.seconds:g} s (period {1e3 * args.period_s:g} ms):")
    for name, stats in (("bare sleep loop", bare), ("control loop via emulator", loop)):
        print(f"  {name:26s} mean {stats['mean_ms']:.3f} ms, p99 {stats['p99_ms']:.3f} ms,"
              f" p99 |period - nominal| {stats['p99_dev_ms']:.3f} ms, max {stats['max_ms']:.3f}"
              f" ms, overruns {stats['overruns']}")
    ratio = loop["p99_ms"] / bare["p99_ms"]
    print(f"  p99 period ratio control/bare = {ratio:.3f} (target <= 2:"
          f" {'met' if ratio <= 2.0 else 'NOT met'})")


if __name__ == "__main__":
    main()
