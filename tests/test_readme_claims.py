"""Every claim in the README's "What is here" list names the test or benchmark that checks it.

The table below is the audit: each phrase of the list, the evidence for it. The tests here
keep it honest as both sides change: a phrase that leaves the README, a sentence with no
claim, or evidence that no longer exists fails.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (phrase of the README's list, [tests/file.py::test_name or a benchmarks/ file])
CLAIMS: list[tuple[str, list[str]]] = [
    ("belt and rollers with slip on the drive roller",
     ["tests/test_plant_physics.py::test_energy_balances_with_a_walker_force_and_belt_slip"]),
    ("20 Hz PWM command capped at 85 % duty",
     ["tests/test_sensors_and_board.py::test_board_quantises_the_pwm_speed_command"]),
    ("slow ramp",
     ["tests/test_sensors_and_board.py::"
      "test_controlled_stop_follows_the_board_ramp_on_a_drive_that_can_brake"]),
    ("tach loop with IR compensation",
     ["tests/test_plant_physics.py::test_steady_speed_under_constant_load",
      "tests/test_plant_physics.py::test_ir_compensation_cancels_its_share_of_the_load_droop"]),
    ("current limit",
     ["tests/test_sensors_and_board.py::test_current_limit_caps_the_armature_current"]),
    ("a DC bus with regeneration, brake chopper and\n  over-voltage trip",
     ["tests/test_plant_physics.py::test_regeneration_is_dumped_in_the_brake_resistor",
      "tests/test_plant_physics.py::test_regeneration_without_a_brake_resistor_trips_on_over_voltage",
      "tests/test_plant_physics.py::"
      "test_back_driven_single_quadrant_motor_charges_the_bus_through_its_diodes"]),
    ("winding temperature",
     ["tests/test_sensors_and_board.py::test_the_winding_heats_with_the_copper_loss"]),
    ("an incline lift with end stops",
     ["tests/test_plant_physics.py::test_incline_moves_at_its_rate_and_stops_at_its_end_stops"]),
    ("calibration error and homing",
     ["tests/test_plant_physics.py::test_incline_sensor_is_off_by_its_calibration_error_until_homed"]),
    ("a reed-switch tach",
     ["tests/test_sensors_and_board.py::test_reed_switch_gives_one_pulse_per_roller_turn",
      "tests/test_sensors_and_board.py::"
      "test_slow_belt_gives_sparse_pulses_and_a_stepwise_speed_estimate"]),
    ("the safety key and\n  stop button cutting drive and lift in hardware",
     ["tests/test_sensors_and_board.py::test_key_pull_latches_until_reset_with_the_key_back",
      "tests/test_presets_behaviour.py::"
      "test_a_stop_decelerates_as_the_preset_states_empty_and_at_its_rated_user"]),
    ("Six machine presets",
     ["tests/test_presets_and_params.py::test_preset_names_are_the_contract"]),
    ("simpy schedules controller ticks, faults and the walker's\n  steps",
     ["tests/test_engine.py::test_batched_ticks_give_exactly_the_same_run_as_one_event_per_tick",
      "tests/test_engine.py::test_comms_loss_drops_commands_and_the_board_times_out"]),
    ("compiled fixed steps that are\n  exact for the linear part",
     ["tests/test_discretize.py::test_matrix_functions_match_expm_and_quadrature",
      "tests/test_plant_physics.py::"
      "test_motor_and_inertia_step_response_matches_the_analytic_solution"]),
    ("takes 0.2-0.4 s on the empty belt and 0.6-1.2 s", ["benchmarks/bench_walker_session.py"]),
    ("takes 6-8 s\n  of wall time", ["benchmarks/bench_walker_session.py"]),
    ("gait and\n  per-foot force profiles from the biomechanics references",
     ["tests/test_walker_gait.py::test_forward_cadence_and_step_length_match_table_1_3",
      "tests/test_walker_gait.py::test_backward_at_self_selected_speed_follows_laufer",
      "tests/test_walker_gait.py::test_vertical_double_hump_at_1_3_mps",
      "tests/test_walker_gait.py::test_backward_footfall_is_forward_footfall_time_reversed"]),
    ("its place on the\n  deck with a reaction delay and step-by-step speed regulation",
     ["tests/test_walker_balance.py::test_recommended_half_mph_steps_are_walked_without_a_stumble",
      "tests/test_walker_balance.py::"
      "test_a_belt_that_starts_suddenly_under_standing_people_fells_some_not_all"]),
    ("deciding between walking on,\n  stumbling and falling",
     ["tests/test_walker_balance.py::"
      "test_belt_perturbations_of_published_size_are_survived_and_weigh_by_size",
      "tests/test_walker_balance.py::"
      "test_a_slip_up_to_the_preferred_speed_is_recovered_and_twice_it_fells",
      "tests/test_walker_balance.py::"
      "test_ordinary_sessions_end_without_a_fall_a_lanyard_pull_or_a_stop"]),
    ("drift off the rear, the lanyard pulling the key",
     ["tests/test_walker_balance.py::"
      "test_a_belt_faster_than_backward_walking_carries_the_walker_to_the_lanyard",
      "tests/test_walker_balance.py::test_without_a_lanyard_the_drifting_walker_leaves_over_the_rear"]),
    ("handrails",
     ["tests/test_walker_balance.py::test_holding_the_rails_takes_weight_off_the_belt"]),
    ("stepping on and off the side rails",
     ["tests/test_walker_balance.py::test_stepping_on_and_off_the_side_rails"]),
    ("turning round at a stop",
     ["tests/test_routines.py::test_a_walker_turns_round_at_each_stop_of_the_interval_routine"]),
    ("pushing a belt that has no motor",
     ["tests/test_walker_balance.py::test_on_a_manual_treadmill_the_walker_moves_the_belt"]),
    ("metabolic cost (ACSM, LCDA and a\n  backward-walking factor)",
     ["tests/test_walker_energy.py::test_acsm_walking_reproduces_table_a",
      "tests/test_walker_energy.py::test_lcda_reproduces_the_derived_table",
      "tests/test_walker_energy.py::test_backward_costs_more_by_a_published_factor"]),
    ("the belt dips at each foot strike",
     ["tests/test_walker_balance.py::test_belt_dips_at_foot_strike_and_the_dip_grows_with_walker_mass"]),
    ("an inclined walker drives the belt",
     ["tests/test_walker_balance.py::test_energy_balance_closes_with_a_walker_on_the_belt"]),
    ("With `layer = \"multibody\"` the step forces come from a pybullet biped",
     ["tests/test_walker_multibody.py::test_flat_stance_foot_moves_at_belt_speed",
      "tests/test_walker_multibody.py::test_step_forces_are_a_drop_in_for_layer_2",
      "tests/test_walker_balance.py::test_the_same_scenario_runs_with_the_multibody_layer"]),
    ("start speed, acceleration\n  and deceleration limits",
     ["tests/test_supervisor.py::test_start_speed_and_acceleration_are_limited",
      "tests/test_supervisor.py::test_deceleration_is_limited_and_a_stop_request_ramps_down"]),
    ("a backward-walking speed cap",
     ["tests/test_supervisor.py::test_backward_mode_caps_speed",
      "tests/test_supervisor.py::test_backward_speed_cap_prevents_the_drift_to_the_lanyard"]),
    ("no speed and incline\n  increase together in beginner mode",
     ["tests/test_supervisor.py::test_beginner_mode_holds_the_incline_while_the_speed_rises"]),
    ("derating on RMS current and winding\n  temperature",
     ["tests/test_supervisor.py::test_temperature_derates_first_and_stops_later",
      "tests/test_supervisor.py::test_sustained_current_derates_but_a_short_peak_does_not"]),
    ("latched stops (key, stop button, drive trip, telemetry\n  watchdog, implausible tach,"
     " over-current, over-temperature, walker drift or\n  fall where a sensor shows it",
     ["tests/test_supervisor.py::"
      "test_each_stop_latches_ramps_down_and_needs_the_cause_gone_and_a_reset",
      "tests/test_supervisor.py::test_watchdog_stops_when_telemetry_goes_quiet",
      "tests/test_supervisor.py::test_tach_that_stays_silent_while_the_motor_drives_is_implausible",
      "tests/test_supervisor.py::test_drift_stop_on_a_distance_sensor_acts_before_the_lanyard",
      "tests/test_supervisor.py::test_fall_seen_by_a_force_deck_stops_the_belt"]),
    ("a controller that raises or falls silent",
     ["tests/test_supervisor.py::test_a_controller_that_fails_leaves_the_belt_stopped_on_the_twin"]),
    ("Every intervention is an event",
     ["tests/test_supervisor.py::test_every_intervention_is_an_event_of_the_run"]),
    ("workout routines from the source articles",
     ["tests/test_routines.py::test_progression_starts_at_half_a_mph_and_climbs_in_half_mph_steps",
      "tests/test_routines.py::"
      "test_warmup_is_five_minutes_at_two_mph_and_five_percent_with_incline_after_speed",
      "tests/test_routines.py::test_intervals_stop_between_directions_and_restart_slowly",
      "tests/test_routines.py::test_hill_holds_speed_while_the_incline_steps"]),
    ("outer-loop speed control",
     ["tests/test_speed_control.py::test_outer_loop_removes_the_mc2100_steady_error_under_load"]),
    ("a\n  tach estimator that stays usable at 0.5 mph",
     ["tests/test_speed_control.py::"
      "test_estimator_at_half_mph_is_within_half_a_percent_after_two_pulses",
      "tests/test_speed_control.py::test_estimator_tracks_the_twin_at_half_mph_and_after_a_stop"]),
    ("self-paced control from a\n  walker distance sensor",
     ["tests/test_self_paced.py::test_belt_settles_at_the_walkers_own_speed_and_keeps_it_in_place"]),
    ("incline control with homing and a calibration\n  table",
     ["tests/test_speed_control.py::test_incline_homing_zeroes_a_sensor_offset_on_the_twin",
      "tests/test_speed_control.py::test_calibration_table_corrects_commands_without_a_sensor"]),
    ("emulation of a manual, curved or sled treadmill on a motorized\n  one",
     ["tests/test_emulation.py::test_stride_average_walker_force_equals_the_emulated_resistance",
      "tests/test_emulation.py::test_the_sled_moves_only_while_pushed_and_stops_when_the_walker_steps_off",
      "tests/test_emulation.py::"
      "test_the_curved_belt_keeps_the_walker_at_the_reference_at_its_own_pace"]),
    ("no back-driven motor",
     ["tests/test_emulation.py::test_the_drive_absorbs_the_push_below_its_trip_level"]),
    ("stability-checked",
     ["tests/test_emulation.py::test_the_refused_masses_oscillate_and_the_accepted_ones_settle",
      "tests/test_emulation.py::test_curved_gains_without_phase_margin_are_refused"]),
    ("**Scenarios** in TOML with faults and pass/fail criteria, run from the\n  command line,"
     " writing `summary.json`, `trace.csv`, a plot and an HTML\n  report",
     ["tests/test_scenarios.py::test_cli_run_writes_the_contract_outputs",
      "tests/test_verdicts.py::test_an_injected_fault_explains_the_stop_it_causes_and_no_other"]),
    ("suites in parallel with JUnit XML",
     ["tests/test_scenarios.py::test_suite_writes_junit_and_index",
      "tests/test_cli_workflows.py::"
      "test_ctrl_c_stops_a_suite_at_once_and_keeps_an_index_of_what_finished"]),
    ("Outputs stream to disk while a\n  run goes, and an interrupted run keeps what it did",
     ["tests/test_interrupted_runs.py::"
      "test_an_interrupted_run_writes_what_it_did_marked_interrupted",
      "tests/test_interrupted_runs.py::"
      "test_a_killed_run_leaves_a_readable_trace_short_of_at_most_its_last_second",
      "benchmarks/bench_kill_loss.py"]),
    ("`treadtwin sweep` runs a scenario across a grid of\n  values and seeds on a Dask cluster",
     ["tests/test_sweep.py::test_a_grid_on_the_local_dask_cluster_equals_the_serial_run_row_for_row",
      "tests/test_sweep.py::test_a_scheduler_with_two_workers_gives_the_same_table",
      "benchmarks/bench_sweep.py"]),
    ("a pytest plugin collects scenario files as tests",
     ["tests/test_pytest_plugin.py::test_scenario_files_are_collected_run_and_reported"]),
    ("stride-time variability, walkers drawn\n  from a population, a deck friction spread",
     ["tests/test_variability.py::"
      "test_stride_time_variability_in_the_trace_is_the_one_the_walker_was_given",
      "tests/test_variability.py::"
      "test_a_belt_start_under_fifty_drawn_older_adults_fells_a_share_of_them",
      "tests/test_variability.py::"
      "test_a_deck_friction_spread_draws_one_factor_per_run_of_the_stated_size"]),
    ("the host-adapter\n  wire protocol, specified in [docs/protocol.md](docs/protocol.md)",
     ["tests/test_protocol.py::test_spec_lists_every_vector_exactly_as_the_codec_writes_it",
      "tests/test_protocol.py::test_crc_is_ccitt_false",
      "tests/test_protocol.py::test_replayed_frames_are_dropped_and_counted",
      "tests/test_protocol.py::test_wrong_version_is_dropped_counted_and_nacked",
      "tests/test_adapter_board.py::"
      "test_watchdog_stops_a_moving_belt_and_latches_comms_until_reset"]),
    ("a pyserial\n  adapter that reconnects and counts what goes wrong",
     ["tests/test_hil.py::test_unplugging_and_replugging_the_port_recovers",
      "tests/test_lab_protocols.py::test_host_reconnects_after_a_serial_exception"]),
    ("Woodway and Trackmaster\n  profiles",
     ["tests/test_hil.py::test_the_trackmaster_client_library_drives_the_twin_through_the_emulator",
      "tests/test_hil.py::"
      "test_the_pywoodway_client_library_runs_the_belt_in_reverse_on_a_twin_that_can"]),
    ("`treadtwin emulate`, the twin behind a pseudo-terminal or serial\n  device",
     ["tests/test_hil.py::test_the_emulator_serves_a_given_serial_device_too",
      "tests/test_hil.py::test_a_killed_host_leaves_the_belt_stopped_within_the_watchdog_time",
      "tests/test_adapter_board.py::test_the_key_stops_the_belt_without_the_host"]),
    ("paced at the\n  wire time of its baud rate, in lockstep or on the wall clock",
     ["tests/test_hil.py::test_lockstep_twin_gets_the_commands_within_the_wire_quantum",
      "tests/test_hil.py::test_the_documented_wall_clock_example_passes_as_two_processes",
      "benchmarks/bench_hil_link.py"]),
    ("`treadtwin hil`, a scenario's controllers and supervisor against a real\n  or emulated"
     " treadmill, recording the same trace and summary",
     ["tests/test_hil.py::test_lockstep_host_sends_exactly_the_in_process_commands",
      "tests/test_hil.py::test_lockstep_verdicts_are_the_in_process_verdicts"]),
]


def _what_is_here() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("What is here today:\n", 1)[1].split("\nControl quality per preset", 1)[0]


def _sentences(section: str) -> list[str]:
    flat = " ".join(section.split())
    return [s for s in re.split(r"(?<=\.)\s+(?=[A-Z`(*])|\s+- (?=\*\*)", flat)
            if s.strip(" -")]


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_claimed_phrase_is_in_the_readme_list():
    section = " ".join(_what_is_here().split())
    missing = [phrase for phrase, _ in CLAIMS if " ".join(phrase.split()) not in section]
    assert missing == []


def test_every_sentence_of_the_list_carries_a_claim():
    phrases = [" ".join(phrase.split()) for phrase, _ in CLAIMS]
    bare = [s for s in _sentences(_what_is_here()) if not any(p in s for p in phrases)]
    assert bare == []


@pytest.mark.parametrize("phrase, evidence", CLAIMS,
                         ids=[" ".join(p.split())[:40] for p, _ in CLAIMS])
def test_the_evidence_for_each_claim_exists(phrase, evidence):
    assert evidence, phrase
    for item in evidence:
        file, _, name = item.partition("::")
        path = ROOT / file
        assert path.is_file(), item
        if name:
            assert name in _defined_tests(path), item
