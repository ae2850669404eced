"""``python -m dasha.cli``."""

import sys

from dasha.cli import main

sys.exit(main())
