"""``python -m monitor`` is ``sla-monitor``."""

import sys

from monitor.cli import main

sys.exit(main())
