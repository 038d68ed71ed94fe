"""``python -m treadtwin``: the same command line as ``treadtwin``."""

import sys

from treadtwin.scenarios.cli import main

sys.exit(main())
