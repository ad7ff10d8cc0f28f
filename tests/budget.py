"""The budget of tests marked ``slow`` (long fuzzing, long random walks): bounded in every run,
so CI runs them; in full with ``HFTCORE_SLOW=1``."""

from __future__ import annotations

import os

#: HFTCORE_SLOW=1: the tests marked slow run in full
SLOW = os.environ.get("HFTCORE_SLOW", "") not in ("", "0")


def budget(full: int, bounded: int) -> int:
    """Examples or steps for a slow test: ``full`` with HFTCORE_SLOW=1, else ``bounded``."""
    return full if SLOW else bounded
