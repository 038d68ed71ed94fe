"""The safety supervisor and the control loop: each rule alone, together, and on the twin."""

from __future__ import annotations

import math
import weakref

import numpy as np
import pytest

from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Fault, Telemetry
from treadtwin.controllers.loop import ControlLoop, wall_clock_ticks
from treadtwin.controllers.supervisor import STOP_ORDER, SafetySupervisor, SupervisorLimits
from treadtwin.scenarios.runner import run_scenario
from treadtwin.scenarios.schema import load_scenario, parse_scenario
from treadtwin.scenarios.suite import builtin_suite_dir
from treadtwin.sim.engine import Engine
from treadtwin.sim.faults import FaultKind, FaultSpec
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill

DT = 0.01
PITCH_M = SupervisorLimits().tach_pitch_m


def telemetry(t_s: float, speed: float = 0.0, current: float = 2.0, key: bool = True,
              faults: Fault = Fault.NONE, temp: float | None = 40.0,
              distance: float | None = None, force: float | None = None,
              pulses: int | None = None) -> Telemetry:
    """A board report; without ``pulses``, the tach count of a belt at ``speed`` since t = 0."""
    if pulses is None:
        pulses = int(t_s * speed / PITCH_M)
    return Telemetry(t_s, speed, BeltDirection.FORWARD, pulses, None, 0.0, current, 170.0, key,
                     True, faults, temp, distance, force)


def drive(supervisor: SafetySupervisor, requested: Command, seconds: float, start_s: float = 0.0,
          **kwargs) -> list[Command]:
    """Tick the supervisor with telemetry that reports the belt at the commanded speed, its
    tach pulsing once every ``PITCH_M`` of travel."""
    out: list[Command] = []
    speed = kwargs.pop("speed", None)
    tach_dead = kwargs.pop("tach_dead", False)  # the belt moves, the count stands still
    travel_m = drive.travel_m.get(supervisor, 0.0)
    for k in range(round(seconds / DT)):
        t = start_s + k * DT
        belt = out[-1].belt_speed_mps if (out and speed is None) else (speed or 0.0)
        travel_m += 0.0 if tach_dead else belt * DT
        out.append(supervisor.filter(t, DT, telemetry(t, speed=belt,
                                                      pulses=int(travel_m / PITCH_M), **kwargs),
                                     requested))
    drive.travel_m[supervisor] = travel_m
    return out


# Belt travel so far, per supervisor (weakly held, so a new supervisor never inherits an old
# one's count): the tach counts on across calls.
drive.travel_m = weakref.WeakKeyDictionary()


def rules(supervisor: SafetySupervisor, action: str) -> list[str]:
    return [i.rule for i in supervisor.interventions if i.action == action]


def test_start_speed_and_acceleration_are_limited():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=0.45, accel_max_mps2=0.5))
    out = drive(sup, Command(belt_speed_mps=2.0), 2.0, speed=0.0)  # belt not moving yet
    assert max(c.belt_speed_mps for c in out) <= 0.45 + 1e-9
    assert {"start_speed", "acceleration"} <= set(rules(sup, "limit"))
    out = drive(sup, Command(belt_speed_mps=2.0), 3.0, start_s=2.0)  # now it moves
    steps = [b.belt_speed_mps - a.belt_speed_mps for a, b in zip(out, out[1:], strict=False)]
    assert max(steps) <= 0.5 * DT + 1e-9
    assert out[-1].belt_speed_mps == pytest.approx(min(2.0, 0.45 + 0.5 * 3.0), abs=0.02)


def test_deceleration_is_limited_and_a_stop_request_ramps_down():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, accel_max_mps2=10.0,
                                            decel_max_mps2=1.0))
    drive(sup, Command(belt_speed_mps=2.0), 1.0)
    out = drive(sup, Command(mode=DriveMode.STOP), 1.0, start_s=1.0)
    assert out[-1].belt_speed_mps == pytest.approx(1.0, abs=0.02)
    assert out[-1].mode is DriveMode.NORMAL  # still slowing
    out = drive(sup, Command(mode=DriveMode.STOP), 1.5, start_s=2.0)
    assert out[-1].belt_speed_mps == 0.0 and out[-1].mode is DriveMode.STOP


def test_backward_mode_caps_speed():
    sup = SafetySupervisor(SupervisorLimits(backward=True, backward_speed_max_mps=1.12,
                                            start_speed_max_mps=3.0, accel_max_mps2=10.0))
    out = drive(sup, Command(belt_speed_mps=2.0), 2.0)
    assert out[-1].belt_speed_mps == pytest.approx(1.12)
    assert "backward_speed" in rules(sup, "limit")


def test_beginner_mode_holds_the_incline_while_the_speed_rises():
    sup = SafetySupervisor(SupervisorLimits(beginner=True, start_speed_max_mps=3.0))
    out = drive(sup, Command(belt_speed_mps=1.0, incline_pct=5.0), 4.0)
    rising = [c for a, c in zip(out, out[1:], strict=False) if c.belt_speed_mps > a.belt_speed_mps]
    assert rising and all(c.incline_pct == 0.0 for c in rising)
    assert out[-1].incline_pct > 0.0  # once the speed is there, the incline follows
    assert "speed_and_incline" in rules(sup, "limit")


@pytest.mark.parametrize(
    "rule, kwargs",
    [
        ("key_out", dict(key=False)),
        ("stop_button", dict(faults=Fault.STOP_BUTTON)),
        ("drive_trip", dict(faults=Fault.OVERVOLTAGE)),
        ("over_temperature", dict(temp=126.0)),
        ("over_current", dict(current=31.0)),
        ("walker_drift", dict(distance=1.3)),
    ],
)
def test_each_stop_latches_ramps_down_and_needs_the_cause_gone_and_a_reset(rule, kwargs):
    limits = SupervisorLimits(start_speed_max_mps=3.0, accel_max_mps2=10.0, drift_limit_m=1.2)
    sup = SafetySupervisor(limits)
    drive(sup, Command(belt_speed_mps=1.5), 1.0)
    out = drive(sup, Command(belt_speed_mps=1.5), 2.0, start_s=1.0, **kwargs)
    assert sup.latched == rule
    assert out[-1].belt_speed_mps == 0.0 and out[-1].mode is DriveMode.STOP
    # Reset while the cause is still there: refused.
    drive(sup, Command(belt_speed_mps=1.5, reset=True), 0.1, start_s=3.0, **kwargs)
    assert sup.latched == rule and rule in rules(sup, "refused_reset")
    # Cause gone, no reset: still stopped.
    out = drive(sup, Command(belt_speed_mps=1.5), 0.5, start_s=3.1, speed=0.0)
    assert sup.latched == rule and out[-1].belt_speed_mps == 0.0
    # Cause gone and a reset: cleared, and the belt restarts under the limits.
    drive(sup, Command(belt_speed_mps=1.5, reset=True), 0.1, start_s=3.6, speed=0.0)
    assert sup.latched is None and rule in rules(sup, "reset")


def test_watchdog_stops_when_telemetry_goes_quiet():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, watchdog_timeout_s=0.5))
    last = drive(sup, Command(belt_speed_mps=1.0), 1.0)[-1]
    frozen = telemetry(0.99, speed=last.belt_speed_mps)
    for k in range(100):
        sup.filter(1.0 + k * DT, DT, frozen, Command(belt_speed_mps=1.0))
    assert sup.latched == "watchdog"


def test_tach_that_stays_silent_while_the_motor_drives_is_implausible():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, tach_timeout_s=3.0))
    drive(sup, Command(belt_speed_mps=1.0), 2.0)
    drive(sup, Command(belt_speed_mps=1.0), 2.5, start_s=2.0, speed=0.0, current=5.0)
    assert sup.latched is None  # 2.5 s without pulses: still within the timeout
    drive(sup, Command(belt_speed_mps=1.0), 1.0, start_s=4.5, speed=0.0, current=5.0)
    assert sup.latched == "tach_implausible"


def test_tach_silence_window_follows_the_pulse_spacing_at_the_lowest_speed():
    limits = SupervisorLimits()  # reed switch, 0.251 m a pulse; lowest speed 0.5 mph
    assert limits.tach_silence_s == pytest.approx(3 * 0.251 / 0.22352, rel=1e-6)  # 3.37 s
    assert SupervisorLimits(tach_pitch_m=0.0002).tach_silence_s == 0.5  # an encoder: the floor
    # a belt held at the lowest speed, a pulse every 1.12 s, never trips it ...
    slow = SafetySupervisor(limits)
    drive(slow, Command(belt_speed_mps=0.22352), 60.0, speed=0.22352, current=8.0)
    assert slow.latched is None
    # ... nor one that a heavy walker holds to a third of it at the start
    crawl = SafetySupervisor(limits)
    drive(crawl, Command(belt_speed_mps=0.22352), 30.0, speed=0.08, current=12.0)
    assert crawl.latched is None
    # a dead tach at that speed trips the stated window after its last pulse
    dead = SafetySupervisor(limits)
    drive(dead, Command(belt_speed_mps=0.22352), 10.0, speed=0.22352, current=8.0)
    assert dead.latched is None
    last_pulse_s = math.floor(10.0 * 0.22352 / PITCH_M) * PITCH_M / 0.22352
    drive(dead, Command(belt_speed_mps=0.22352), 5.0, start_s=10.0, speed=0.22352, current=8.0,
          tach_dead=True)
    (stop,) = [i for i in dead.interventions if i.action == "stop"]
    assert stop.rule == "tach_implausible"
    window_s = limits.tach_silence_s
    assert last_pulse_s + window_s < stop.t_s <= last_pulse_s + window_s + 2 * DT


def test_overspeed_against_the_command_is_implausible():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0))
    drive(sup, Command(belt_speed_mps=1.0), 3.0)
    drive(sup, Command(belt_speed_mps=1.0), 0.1, start_s=3.0, speed=1.6)
    assert sup.latched == "tach_implausible"


def test_temperature_derates_first_and_stops_later():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, accel_max_mps2=10.0))
    drive(sup, Command(belt_speed_mps=2.0), 1.0)
    out = drive(sup, Command(belt_speed_mps=2.0), 3.0, start_s=1.0, temp=115.0)
    assert sup.latched is None
    assert out[-1].belt_speed_mps == pytest.approx(0.9 * 2.0)
    assert "over_temperature" in rules(sup, "derate")
    drive(sup, Command(belt_speed_mps=2.0), 0.1, start_s=4.0, temp=125.5)
    assert sup.latched == "over_temperature"


def test_sustained_current_derates_but_a_short_peak_does_not():
    limits = SupervisorLimits(start_speed_max_mps=3.0, accel_max_mps2=10.0,
                              current_rms_tau_s=10.0, current_derate_a=12.0)
    sup = SafetySupervisor(limits)
    drive(sup, Command(belt_speed_mps=2.0), 1.0)
    drive(sup, Command(belt_speed_mps=2.0), 2.0, start_s=1.0, current=20.0)  # a 2 s peak
    assert rules(sup, "derate") == []
    drive(sup, Command(belt_speed_mps=2.0), 30.0, start_s=3.0, current=20.0)
    assert rules(sup, "derate") == ["over_current"]


def test_fall_seen_by_a_force_deck_stops_the_belt():
    limits = SupervisorLimits(start_speed_max_mps=3.0, walker_weight_n=700.0)
    sup = SafetySupervisor(limits)
    for k in range(200):  # walking: the deck force swings with every step
        t = k * DT
        sup.filter(t, DT, telemetry(t, speed=min(0.5 * t, 1.0),
                                    force=690.0 + 70.0 * math.sin(2 * math.pi * t / 0.6)),
                   Command(belt_speed_mps=1.0))
    assert sup.latched is None
    drive(sup, Command(belt_speed_mps=1.0), 0.1, start_s=2.0, speed=1.0, force=50.0)
    assert sup.latched == "walker_fallen"


def test_a_deck_force_without_the_stride_rhythm_on_a_moving_belt_is_a_fall():
    weight = 700.0
    sup = SafetySupervisor(SupervisorLimits(walker_weight_n=weight, start_speed_max_mps=3.0))
    for k in range(400):  # walking: the force swings by 20 % of the weight every step
        t = k * DT
        swing = 0.1 * weight * math.sin(2 * math.pi * t / 0.6)
        sup.filter(t, DT, telemetry(t, speed=min(0.5 * t, 1.0), force=weight + swing),
                   Command(belt_speed_mps=1.0))
    assert sup.latched is None
    for k in range(400, 500):  # lying on the belt: a steady load
        t = k * DT
        sup.filter(t, DT, telemetry(t, speed=1.0, force=weight), Command(belt_speed_mps=1.0))
    assert sup.latched == "walker_fallen"
    stop = next(i for i in sup.interventions if i.action == "stop")
    assert 4.0 + 0.6 <= stop.t_s <= 4.0 + 0.8 + DT  # once a window holds no swing


def test_several_stops_at_once_are_named_in_order():
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, drift_limit_m=1.0))
    drive(sup, Command(belt_speed_mps=1.0), 1.0)
    drive(sup, Command(belt_speed_mps=1.0), 0.1, start_s=1.0, key=False, temp=130.0,
          distance=1.2, current=35.0)
    assert sup.latched == "key_out"
    stop = next(i for i in sup.interventions if i.action == "stop")
    expected = ["safety key out", "winding at 130 C", "35.0 A", "walker 1.20 m"]
    positions = [stop.reason.index(text) for text in expected]
    assert positions == sorted(positions)
    assert STOP_ORDER.index("key_out") < STOP_ORDER.index("over_temperature") \
        < STOP_ORDER.index("over_current") < STOP_ORDER.index("walker_drift")


class _Failing:
    period_s = DT

    def __init__(self, fail_from_s: float, how: str) -> None:
        self.fail_from_s = fail_from_s
        self.how = how

    def tick(self, now_s, dt_s, telemetry):
        if now_s >= self.fail_from_s:
            if self.how == "raise":
                raise RuntimeError("controller bug")
            return None  # silent
        return Command(belt_speed_mps=1.0)


@pytest.mark.parametrize("how", ["raise", "silent"])
def test_a_controller_that_fails_leaves_the_belt_stopped_on_the_twin(how):
    treadmill = SimulatedTreadmill(preset("home-motorized"), 40.0)
    loop = ControlLoop(_Failing(10.0, how), SafetySupervisor())
    result = Engine(treadmill, loop).run(40.0)
    assert loop.supervisor.latched == "controller_fault"
    assert result.trace["belt_speed_mps"][-1] == 0.0
    assert any(e.kind == "supervisor_stop" and "controller_fault" in e.detail
               for e in result.events)


def test_control_loop_passes_the_measured_period_and_counts_overruns():
    seen = []

    class Recorder:
        period_s = 0.01

        def tick(self, now_s, dt_s, telemetry):
            seen.append(dt_s)
            return Command()

    loop = ControlLoop(Recorder())
    for t in (0.0, 0.01, 0.02, 0.05, 0.06):
        loop.tick(t, 0.01, telemetry(t))
    assert seen[1:] == pytest.approx([0.01, 0.01, 0.03, 0.01])
    assert loop.overruns == 1


def test_the_wall_clock_sleeps_to_each_deadline_and_skips_the_ones_it_missed():
    now = [100.0]
    slept = []

    def sleep(dt_s):
        slept.append(dt_s)
        now[0] += dt_s

    ticks = []
    for t in wall_clock_ticks(0.01, 0.1, clock=lambda: now[0], sleep=sleep):
        ticks.append(round(t, 9))
        if len(ticks) == 3:
            now[0] += 0.035  # a slow tick: the deadlines at 0.03, 0.04 and 0.05 pass
    # After the slow tick the next one is at the first deadline still ahead: no catching up.
    assert ticks == pytest.approx([0.0, 0.01, 0.02, 0.06, 0.07, 0.08, 0.09, 0.1])
    assert all(dt > 0 for dt in slept)


# --- on the twin, with the walker: each rule prevents a fall that happens without it ----------

def _both_ways(text: str):
    on = run_scenario(parse_scenario(text, "on.toml"))
    off = run_scenario(parse_scenario(text + "\n[supervisor]\nenabled = false\n", "off.toml"))
    return on, off


def test_start_and_acceleration_limits_prevent_the_fall_of_a_standing_person():
    # Owings et al. 2001: a belt started under a standing older adult, here at 18 m/s^2.
    text = ('[scenario]\nname="t"\nduration_s=20\n[machine]\npreset="instrumented"\n'
            '[machine.drive]\naccel_mps2=18\ndecel_mps2=18\n'
            '[walker]\nstep_on_at_s=1\nreaction_delay_s=0.45\n[[program]]\nat_s=0\nspeed_mps=0\n'
            '[[program]]\nat_s=10\nspeed_mps=0.89\n')
    on, off = _both_ways(text)
    assert off.metrics["walker_fell"] is True
    assert on.metrics["walker_fell"] is False
    assert any(e.kind == "supervisor_limit" for e in on.run.events)


@pytest.mark.parametrize("facing", ["console", "rear"])
def test_the_deceleration_limit_prevents_the_fall_when_the_program_stops_the_belt(facing):
    # A research drive stops at 18 m/s^2 when told to; the program stops it from a brisk
    # walk (3 mph forwards, 2.5 mph backwards: about the preferred speed, the slip speed
    # beyond which recoveries start to fail; split-belt slip study, Research Square rs-4677876).
    top_mph = 3.0 if facing == "console" else 2.5
    text = ('[scenario]\nname="t"\nduration_s=26\n[machine]\npreset="instrumented"\n'
            '[machine.drive]\naccel_mps2=18\ndecel_mps2=18\n'
            f'[walker]\nstep_on_at_s=1\nfacing="{facing}"\nreaction_delay_s=0.4\n'
            + "".join(f"[[program]]\nat_s={at}\nspeed_mph={mph}\n"
                      for at, mph in ((0, 0.5), (3, 1.0), (6, 1.5), (9, 2.0), (12, top_mph),
                                      (20, 0.0))))
    on = run_scenario(parse_scenario(text + ("\n[supervisor]\nbackward = true\n"
                                             if facing == "rear" else ""), "on.toml"))
    off = run_scenario(parse_scenario(text + "\n[supervisor]\nenabled = false\n", "off.toml"))
    assert off.metrics["walker_fell"] is True
    assert on.metrics["walker_fell"] is False
    trace = on.run.trace
    slowing = -np.diff(np.abs(trace["belt_speed_cmd_mps"])) / np.diff(trace["t_s"])
    assert slowing.max() <= 0.5 + 1e-6  # the command came down at the default limit


@pytest.mark.parametrize("facing", ["console", "rear"])
def test_a_fall_seen_on_the_force_deck_stops_the_belt_before_it_carries_the_walker_off(facing):
    # No lanyard, and the drift stop out of the way: only the deck's force can tell.
    text = ('[scenario]\nname="t"\nduration_s=25\n[machine]\npreset="instrumented"\n'
            f'[walker]\nstep_on_at_s=1\nlanyard=false\nfacing="{facing}"\n'
            + "".join(f"[[program]]\nat_s={at}\nspeed_mph={mph}\n"
                      for at, mph in ((0, 0.5), (3, 1.0), (6, 1.5), (9, 2.0)))
            + '[[faults]]\nat_s=15\nkind="walker_stumble"\nerror_m=1.5\n')
    on = run_scenario(parse_scenario(text + "\n[supervisor]\ndrift_limit_m = 100\n", "on.toml"))
    off = run_scenario(parse_scenario(text + "\n[supervisor]\nenabled = false\n", "off.toml"))
    assert on.metrics["walker_fell"] and off.metrics["walker_fell"]
    assert any(e.kind == "off_rear" for e in off.run.events)
    assert not any(e.kind == "off_rear" for e in on.run.events)
    stops = [e for e in on.run.events if e.kind == "supervisor_stop"]
    assert stops and stops[0].detail.startswith("walker_fallen: deck force steady")


@pytest.mark.parametrize("mph", [0.5, 1.0, 2.0])
def test_walking_on_the_force_deck_never_looks_like_a_fall(mph):
    text = ('[scenario]\nname="t"\nduration_s=40\n[machine]\npreset="instrumented"\n'
            '[walker]\nstep_on_at_s=1\n'
            + "".join(f"[[program]]\nat_s={5 * i}\nspeed_mph={step}\n"
                      for i, step in enumerate(np.arange(0.5, mph + 0.25, 0.5))))
    result = run_scenario(parse_scenario(text, "walk.toml"))
    assert not any(e.kind == "supervisor_stop" for e in result.run.events)


def test_backward_speed_cap_prevents_the_drift_to_the_lanyard():
    off = run_scenario(load_scenario(builtin_suite_dir() / "too-fast-backward.toml"))
    on = run_scenario(load_scenario(builtin_suite_dir() / "too-fast-backward-supervised.toml"))
    assert any(e.kind == "lanyard_pull" for e in off.run.events)
    assert not any(e.kind == "lanyard_pull" for e in on.run.events)
    assert on.passed and on.metrics["min_rear_margin_m"] > 0.25


def test_drift_stop_on_a_distance_sensor_acts_before_the_lanyard():
    text = ('[scenario]\nname="t"\nduration_s=60\n[machine]\npreset="instrumented"\n'
            '[walker]\nfacing="rear"\nholds_handrails=true\nstep_on_at_s=1\n'
            + "".join(f"[[program]]\nat_s={4 * i}\nspeed_mps={0.25 * (i + 1)}\n" for i in range(8)))
    on = run_scenario(parse_scenario(
        text + "\n[supervisor]\nbackward_speed_max_mps = 3.0\n", "on.toml"))
    off = run_scenario(parse_scenario(text + "\n[supervisor]\nenabled = false\n", "off.toml"))
    assert any(e.kind == "lanyard_pull" for e in off.run.events)
    stops = [e for e in on.run.events if e.kind == "supervisor_stop"]
    assert stops and "walker_drift" in stops[0].detail
    assert not any(e.kind == "lanyard_pull" for e in on.run.events)
    assert not on.metrics["walker_fell"]


def test_key_pull_walking_backwards_stops_the_belt_before_the_rear_edge():
    result = run_scenario(load_scenario(builtin_suite_dir() / "key-pull-backward.toml"))
    assert result.passed
    assert result.metrics["stop_time_s"] < 8.0
    assert result.metrics["min_rear_margin_m"] > 0.25
    assert math.isfinite(result.metrics["min_rear_margin_m"])


def test_a_belt_coasting_down_after_a_lower_command_is_not_an_overspeed():
    # A 1-quadrant drive cannot brake: after the command drops, the belt coasts above it.
    sup = SafetySupervisor(SupervisorLimits(start_speed_max_mps=3.0, accel_max_mps2=10.0,
                                            decel_max_mps2=1.0))
    drive(sup, Command(belt_speed_mps=1.4), 1.0)
    for k in range(300):  # the belt coasts at 0.1 m/s^2 while the command falls at 1 m/s^2
        t = 1.0 + k * DT
        sup.filter(t, DT, telemetry(t, speed=1.4 - 0.1 * k * DT), Command(belt_speed_mps=0.0))
    assert sup.latched is None


class _KeyPullSession:
    """Asks for 1 m/s at once, then a reset 3 s after the key is back (at 9 s)."""

    period_s = DT

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command:
        return Command(belt_speed_mps=1.0, reset=12.0 <= now_s < 12.1)


def test_every_intervention_is_an_event_of_the_run():
    loop = ControlLoop(_KeyPullSession(), SafetySupervisor())
    engine = Engine(SimulatedTreadmill(preset("home-motorized"), 20.0), loop,
                    [FaultSpec(FaultKind.LANYARD_PULL, at_s=6.0, duration_s=3.0)])
    events = engine.run(20.0).events
    seen = [(e.t_s, e.kind, e.detail.split(":")[0]) for e in events
            if e.kind.startswith("supervisor_")]
    assert seen == [(i.t_s, f"supervisor_{i.action}", i.rule) for i in loop.interventions]
    assert {"limit", "stop", "reset"} <= {i.action for i in loop.interventions}
