"""``python -m thermochip``: the same as the ``thermochip`` command."""

import sys

from thermochip.cli import main

sys.exit(main())
