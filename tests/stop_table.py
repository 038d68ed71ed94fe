"""How a watchdog or emergency stop ends on each motorized preset, through the adapter board.

``python tests/stop_table.py`` prints the table docs/hil.md holds;
``test_adapter_refusals`` checks the document against a fresh measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

from treadtwin.controllers.interface import Command
from treadtwin.controllers.protocol import Hello, encode, encode_command
from treadtwin.controllers.units import STANDARD_GRAVITY_MPS2
from treadtwin.emulator.runner import EmulatorClock, adapter_board_for
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill

TICK_S = 0.001
FROM_MPS = 5.0 / 3.6  # 5 km/h, a brisk walk
STOPPED_BELOW_MPS = 0.05
MOTORIZED = ("home-motorized", "club-motorized", "instrumented")


@dataclass(frozen=True)
class StopOutcome:
    preset: str
    stop: str  # "watchdog" or "emergency"
    load_kg: float  # standing on the deck
    drive_cut_s: float  # DRIVE_ENABLED clears
    stopped_s: float  # the belt below 0.05 m/s (ground truth)
    coasting_s: float  # time with COASTING set while the belt moved


def measure(name: str, stop: str, load_kg: float, watchdog_ms: int = 250) -> StopOutcome:
    machine = preset(name)
    twin = SimulatedTreadmill(machine, duration_s=120.0, physics_dt_s=TICK_S,
                              record_period_s=0.01)
    twin.set_walker_loads(0.0, load_kg * STANDARD_GRAVITY_MPS2)
    board = adapter_board_for(machine, EmulatorClock.WALL)
    now_s, seq = 0.0, 0

    def tick(frames: bytes = b"") -> None:
        nonlocal now_s
        telemetry = twin.read()
        if frames:
            board.on_bytes(frames, now_s, telemetry)
        board.on_tick(now_s, telemetry)
        twin.write(board.take_drive_command())
        now_s += TICK_S
        twin.advance_to(now_s)

    tick(encode(Hello(min_version=1, max_version=1, session_id=1, watchdog_ms=watchdog_ms,
                      telemetry_period_ms=20), seq))
    for i in range(8000):  # 8 s at 5 km/h, commanded every 50 ms
        frames = b""
        if i % 50 == 0:
            seq += 1
            frames = encode_command(Command(belt_speed_mps=FROM_MPS), seq)
        tick(frames)
    start_s = now_s
    if stop == "emergency":
        seq += 1
        tick(encode_command(Command(emergency_stop=True), seq))
    else:  # the host falls silent; the watchdog expires watchdog_ms later
        start_s += watchdog_ms / 1000.0
    cut_s = stopped_s = None
    coasting_s = 0.0
    while now_s - start_s < 100.0:
        tick()
        telemetry = twin.read()
        moving = twin.truth_belt_speed_mps() >= STOPPED_BELOW_MPS
        if cut_s is None and now_s > start_s and not telemetry.drive_enabled:
            cut_s = now_s - start_s
        if moving and telemetry.belt_coasting:
            coasting_s += TICK_S
        if stopped_s is None and now_s > start_s and not moving:
            stopped_s = now_s - start_s
        if cut_s is not None and stopped_s is not None:
            break
    return StopOutcome(name, stop, load_kg, cut_s, stopped_s, coasting_s)


def table() -> list[StopOutcome]:
    return [measure(name, stop, load)
            for name in MOTORIZED for stop in ("watchdog", "emergency") for load in (0.0, 70.0)]


if __name__ == "__main__":
    print("| preset | stop | load on the deck | drive cut after | belt stopped after"
          " | coasting for |")
    print("|---|---|---|---|---|---|")
    for o in table():
        print(f"| {o.preset} | {o.stop} | {o.load_kg:g} kg | {o.drive_cut_s:.2f} s |"
              f" {o.stopped_s:.2f} s | {o.coasting_s:.2f} s |")
