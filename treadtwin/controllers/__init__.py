"""What runs on the rig: the treadmill interface, unit conversions and controllers.

Nothing here imports from :mod:`treadtwin.sim` or :mod:`treadtwin.scenarios`,
so this package installs and runs unchanged next to a real treadmill.
"""
