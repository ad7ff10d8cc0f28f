"""A synthetic L2 event stream for benchmarks and tests: reproducible from a seed, shaped like a
liquid market (most updates near the top, a mid that moves a tick at a time, trades at the
touch), with a consistent book (never crossed).

>>> from hftcore.data.synthetic import l2_stream
>>> ev = l2_stream(10_000, seed=1)
>>> len(ev) >= 10_000
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hftcore._ext.feed import EV_DELTA, EV_STATUS, EV_TRADE, EVENT_DTYPE, EVENT_LAST

__all__ = ["l2_stream"]


def l2_stream(rows: int, *, seed: int = 0, depth: int = 20, start_price: int = 1_000_000,
              start_ts: int = 1_700_000_000_000_000_000, step_ns: int = 100_000,
              move_prob: float = 0.05, trade_prob: float = 0.1, instrument: int = 0,
              max_size: int = 1_000) -> np.ndarray[Any, Any]:
    """About ``rows`` events (``EVENT_DTYPE``) of one instrument, in messages of 1-4 events.

    The first message is a snapshot of ``depth`` levels a side around ``start_price`` (raw
    ticks); then each message either moves the mid one tick (delete the old best on one side,
    add a level on the other), or changes 1-4 level sizes (level ``k`` from the top with
    probability ~0.7**k), or reports a trade at the touch followed by the level's new size.
    ``move_prob`` and ``trade_prob`` are the chances of the first and last kind (probabilities
    of the generator, not prices: floats are fine here).
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    rng = np.random.default_rng(seed)
    mid = start_price                  # bids at mid - 1 - j, asks at mid + 1 + j
    bids = {mid - 1 - j: int(rng.integers(1, max_size)) for j in range(depth)}
    asks = {mid + 1 + j: int(rng.integers(1, max_size)) for j in range(depth)}
    out: list[tuple[int, ...]] = []
    append = out.append
    ts = start_ts

    def put(kind: int, side: int, price: int, size: int, last: bool, flags: int = 0) -> None:
        append((ts, ts - 1_000_000, price, size, 0, instrument, kind, side,
                flags | (EVENT_LAST if last else 0), 0))

    first = True
    for p, q in sorted(bids.items(), reverse=True):
        put(EV_DELTA, 0, p, q, False, 3 if first else 1)
        first = False
    for p, q in sorted(asks.items()):
        put(EV_DELTA, 1, p, q, False, 1)
    put(EV_STATUS, 0, 0, 1, True)
    # pre-draw the random numbers: a Python loop over numpy scalars would dominate
    m = rows + 16
    kind_u = rng.random(m)
    ups = rng.random(m) < 0.5
    nupd = rng.integers(1, 5, m)
    sizes = rng.integers(1, max_size, 4 * m)
    sides = rng.integers(0, 2, 4 * m)
    levels = np.minimum(rng.geometric(0.3, 4 * m) - 1, depth - 1)
    tsz = rng.integers(1, max_size // 4 + 2, m)
    k = 0
    r = 0
    while len(out) < rows:
        ts += step_ns
        u = kind_u[k]
        if u < move_prob:
            if ups[k]:      # mid up: the best ask is taken away, a new best bid appears
                put(EV_DELTA, 1, mid + 1, 0, False)
                asks.pop(mid + 1, None)
                mid += 1
                q = int(sizes[r])
                bids[mid - 1] = q
                put(EV_DELTA, 0, mid - 1, q, False)
                far = mid + depth
                q = int(sizes[r + 1])
                asks[far] = q
                put(EV_DELTA, 1, far, q, False)
                old = min(bids)
                put(EV_DELTA, 0, old, 0, True)
                del bids[old]
            else:           # mid down
                put(EV_DELTA, 0, mid - 1, 0, False)
                bids.pop(mid - 1, None)
                mid -= 1
                q = int(sizes[r])
                asks[mid + 1] = q
                put(EV_DELTA, 1, mid + 1, q, False)
                far = mid - depth
                q = int(sizes[r + 1])
                bids[far] = q
                put(EV_DELTA, 0, far, q, False)
                old = max(asks)
                put(EV_DELTA, 1, old, 0, True)
                del asks[old]
            r += 2
        elif u < move_prob + trade_prob:
            side = int(sides[r])       # aggressor: 0 buy hits the ask, 1 sell hits the bid
            book = asks if side == 0 else bids
            px = mid + 1 if side == 0 else mid - 1
            have = book[px]
            q = min(int(tsz[k]), have - 1) if have > 1 else 0
            if q > 0:
                put(EV_TRADE, side, px, q, False)
                book[px] = have - q
                put(EV_DELTA, 1 - side, px, have - q, True)
            r += 1
        else:
            cnt = int(nupd[k])
            for j in range(cnt):
                side = int(sides[r])
                lvl = int(levels[r])
                px = (mid - 1 - lvl) if side == 0 else (mid + 1 + lvl)
                q = int(sizes[r])
                (bids if side == 0 else asks)[px] = q
                put(EV_DELTA, side, px, q, j == cnt - 1)
                r += 1
        k += 1
        if k >= m - 1 or r >= 4 * m - 8:
            k = 0
            r = 0
    return np.array(out, dtype=EVENT_DTYPE)
