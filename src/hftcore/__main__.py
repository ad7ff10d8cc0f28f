"""``python -m hftcore``."""

import sys

from hftcore.cli import main

if __name__ == "__main__":
    sys.exit(main())
