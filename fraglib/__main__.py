"""``python -m fraglib``: the same command line as the ``fraglib`` script."""

import sys

from .cli import main

sys.exit(main())
