"""treadtwin: a digital twin and hardware-in-the-loop testbed for treadmills.

Subpackages, with imports pointing one way only
(``scenarios -> sim -> controllers``):

- :mod:`treadtwin.controllers`: what runs next to a real treadmill (the
  treadmill interface, units, controllers).
- :mod:`treadtwin.sim`: what stands in for the treadmill (plant, presets,
  engine).
- :mod:`treadtwin.scenarios`: scenario files, runner, criteria, reports and
  the command line.
"""

__version__ = "0.1.0"
