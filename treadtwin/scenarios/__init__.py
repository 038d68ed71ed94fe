"""Scenario files, the runner, criteria, reports and the command line."""
