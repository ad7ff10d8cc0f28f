"""Engine events (``EVENT_DTYPE``): what recordings decode into and what the engine consumes.

One 48-byte record per fact: a book level (``EV_DELTA``), a public trade (``EV_TRADE``), a book
status change (``EV_STATUS``: size 1 valid, 0 invalid) or a checksum to verify
(``EV_CHECKSUM``).  ``flags`` carry the ``DELTA_*`` flags; ``EVENT_LAST`` marks the last event
of one venue message (strategies are called after it).

The builders here make small event streams by hand (tests, examples, synthetic data)::

    >>> from hftcore.data.events import delta, trade, make_events
    >>> ev = make_events([delta(1, 0, 0, 100, 5, snapshot=True), trade(2, 0, 1, 100, 2)])
    >>> len(ev), int(ev["kind"][1])
    (3, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hftcore._ext.feed import EV_CHECKSUM, EV_DELTA, EV_STATUS, EV_TRADE, EVENT_DTYPE, EVENT_LAST

__all__ = [
    "DELTA_CLEAR",
    "DELTA_CLEAR_SIDE",
    "DELTA_SNAPSHOT",
    "EVENT_DTYPE",
    "EVENT_LAST",
    "EV_CHECKSUM",
    "EV_DELTA",
    "EV_STATUS",
    "EV_TRADE",
    "delta",
    "make_events",
    "status",
    "trade",
]

DELTA_SNAPSHOT = 1
DELTA_CLEAR = 2
DELTA_CLEAR_SIDE = 8

Row = tuple[Any, ...]


def _int(x: object, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{what} must be an int, got {type(x).__name__} {x!r}")
    return x


def delta(ts: int, instrument: int, side: int, price: int, size: int, *, last: bool = True,
          snapshot: bool = False, clear: bool = False, exchange_ts: int = 0) -> list[Row]:
    """One book level (size 0 deletes).  ``snapshot=True`` also clears the book first and marks
    it valid (the status event a snapshot brings); ``last=False`` continues the message."""
    for v, w in ((ts, "ts"), (instrument, "instrument"), (side, "side"), (price, "price"),
                 (size, "size"), (exchange_ts, "exchange_ts")):
        _int(v, w)
    if side not in (0, 1):
        raise ValueError(f"side must be 0 (bid) or 1 (ask), got {side}")
    flags = (DELTA_SNAPSHOT | DELTA_CLEAR) if snapshot else (DELTA_CLEAR if clear else 0)
    rows: list[Row] = [(ts, exchange_ts, price, size, 0, instrument, EV_DELTA, side,
                        flags | (EVENT_LAST if last and not snapshot else 0), 0)]
    if snapshot:
        rows.append((ts, exchange_ts, 0, 1, 0, instrument, EV_STATUS, 0,
                     EVENT_LAST if last else 0, 0))
    return rows


def trade(ts: int, instrument: int, side: int | None, price: int, size: int, trade_id: int = -1,
          *, exchange_ts: int = 0) -> list[Row]:
    """A public trade; ``side`` is the aggressor (0 buy, 1 sell, None unknown)."""
    for v, w in ((ts, "ts"), (instrument, "instrument"), (price, "price"), (size, "size"),
                 (trade_id, "trade_id")):
        _int(v, w)
    s = 2 if side is None else side
    if s not in (0, 1, 2):
        raise ValueError(f"side must be 0, 1 or None, got {side}")
    return [(ts, exchange_ts, price, size, trade_id, instrument, EV_TRADE, s, EVENT_LAST, 0)]


def status(ts: int, instrument: int, valid: bool) -> list[Row]:
    """The book of ``instrument`` became valid (in sync) or invalid."""
    return [(_int(ts, "ts"), 0, 0, 1 if valid else 0, 0, _int(instrument, "instrument"),
             EV_STATUS, 0, EVENT_LAST, 0)]


def make_events(parts: Iterable[Sequence[Row]]) -> np.ndarray[Any, Any]:
    """Concatenate builder results into one ``EVENT_DTYPE`` array."""
    rows = [r for part in parts for r in part]
    return np.array(rows, dtype=EVENT_DTYPE)


EV_KINDS = {EV_DELTA: "delta", EV_TRADE: "trade", EV_STATUS: "status", EV_CHECKSUM: "checksum"}
