"""What stands in for the treadmill: plant models, machine presets, the engine.

Imports :mod:`treadtwin.controllers` (to implement the treadmill interface)
and nothing from :mod:`treadtwin.scenarios`.
"""
