"""``python -m boostfocal``: the same command line as the ``boostfocal`` console script."""

import sys

from .cli import main

sys.exit(main())
