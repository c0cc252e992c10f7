"""``python -m riskwatch ...``: the same as the ``riskwatch`` command."""

import sys

from riskwatch.cli import main

sys.exit(main())
