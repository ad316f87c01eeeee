"""``python -m benchmarks``: run the whole suite (see ``runner.py`` and README.md)."""

import sys

from .runner import main

sys.exit(main())
