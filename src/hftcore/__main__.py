"""``python -m hftcore``."""

import sys

from hftcore.cli import main

sys.exit(main())
