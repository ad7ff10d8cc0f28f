"""Order-book benchmarks: hftcore's L2Book and L3Book against their peers on identical streams.

Every row is timed the same way: ``time.perf_counter`` around one prepared loop (or one call
into C for the batches and the plain-C floor), cyclic GC off during the loop, best of
``--repeat`` runs, each on freshly prepared books; setup is never timed. Peers get the same
calling convention as hftcore: Python loops call one method per update and read the best bid
and ask as the library offers them. Each group prints the ratio of every row to its hftcore row.

Workloads (fixed seeds):

* L2 standard: 1000 levels per side around mid 50000.00 (tick 0.01, sizes 1-1000 lots), then
  1,000,000 updates, each on a random side at ``int(random.expovariate(0.1))`` ticks from that
  side's best, 20% deletes, 80% set-size; best bid and ask read after every update. Per-call
  loops and peers run its first ``PEER_N`` (200,000) updates.
* L2 uniform: updates spread evenly over 2 x 2500 (or 2 x 5000) levels.
* Reads: ``depth(20)`` and ``levels(side, 20)`` on the 2000-level book.
* L3: 20 levels per side of 10 orders, then 200,000 events: 45% adds (side at random, at
  ``expovariate(0.2)`` ticks from the best), 40% cancels of a random resting order, 15%
  executions of the front order at a best level (half of them partial).

Run as a script (``--quick`` for short streams, ``--repeat N``, ``--json PATH``)::

    cd benchmarks && PYTHONPATH=../src python bench_book.py --repeat 5

or as opt-in pytest-benchmark cases::

    PYTHONPATH=src python -m pytest benchmarks/bench_book.py --benchmark-only \
        --benchmark-disable-gc -s

Peers are measured where installed (skipped otherwise): NautilusTrader ``OrderBook`` (L2_MBP
and L3_MBO), ``order-book``, ``sortedcontainers.SortedDict``, and the plain-C floor
(``c_floor/sorted_book.c``) compiled with the system compiler.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

# OpenBLAS worker threads are of no use here and only compete for the (2) cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest

from hftcore import L2Book, L3Book
from hftcore._ext.l3 import L3_ACTION_ADD, L3_ACTION_CANCEL, L3_ACTION_EXECUTE, L3_EVENT_DTYPE

SEED = 20240417
MID = 5_000_000  # 50000.00 at 2 decimals
N_UPDATES = int(os.environ.get("HFTCORE_BENCH_N", "1000000"))
PEER_N = min(N_UPDATES, int(os.environ.get("HFTCORE_BENCH_PEER_N", "200000")))
N_L3 = int(os.environ.get("HFTCORE_BENCH_L3_N", "200000"))
READ_REPS = 20_000

Stream = tuple[np.ndarray, np.ndarray, np.ndarray]
Loop = Callable[[], object]
_cache: dict[str, Any] = {}


def initial_levels(per_side: int = 1000, seed: int = SEED) -> Stream:
    rng = random.Random(seed)
    sides, prices, sizes = [], [], []
    for i in range(per_side):
        sides += [0, 1]
        prices += [MID - 1 - i, MID + 1 + i]
        sizes += [rng.randint(1, 1000), rng.randint(1, 1000)]
    return (np.array(sides, np.int64), np.array(prices, np.int64), np.array(sizes, np.int64))


def standard_stream(n: int | None = None) -> Stream:
    """The standard update stream; the generator tracks the best with an L2Book (held equal to
    a reference book by the tests)."""
    n = N_UPDATES if n is None else n
    key = f"std{n}"
    if key in _cache:
        return _cache[key]  # type: ignore[no-any-return]
    rng = random.Random(SEED + 1)
    book = L2Book(2, 0)
    book.apply_batch(*initial_levels())
    sides = np.empty(n, np.int64)
    prices = np.empty(n, np.int64)
    sizes = np.empty(n, np.int64)
    for i in range(n):
        side = 0 if rng.random() < 0.5 else 1
        k = int(rng.expovariate(0.1))
        if side == 0:
            best = book.best_bid
            price = (MID - 1 if best is None else best) - k
        else:
            best = book.best_ask
            price = (MID + 1 if best is None else best) + k
        size = 0 if rng.random() < 0.2 else rng.randint(1, 1000)
        book.apply(side, price, size)
        sides[i], prices[i], sizes[i] = side, price, size
    _cache[key] = (sides, prices, sizes)
    return _cache[key]  # type: ignore[no-any-return]


def uniform_stream(per_side: int = 2500, n: int | None = None) -> tuple[Stream, Stream]:
    """A book of 2 * per_side levels and n updates spread uniformly over all its levels."""
    n = N_UPDATES if n is None else n
    rng = np.random.default_rng(SEED + 2)
    init = initial_levels(per_side)
    sides = rng.integers(0, 2, n, dtype=np.int64)
    dist = rng.integers(0, per_side, n, dtype=np.int64)
    prices = np.where(sides == 0, MID - 1 - dist, MID + 1 + dist)
    sizes = np.where(rng.random(n) < 0.2, 0, rng.integers(1, 1001, n)).astype(np.int64)
    return init, (sides, prices.astype(np.int64), sizes)


def rows_of(stream: Stream, n: int) -> list[tuple[int, int, int]]:
    s, p, q = stream
    return list(zip(s[:n].tolist(), p[:n].tolist(), q[:n].tolist(), strict=True))


# ----------------------------------------------------------------------------------------------
# L3 workload: (action, order_id, side, price, size) events, valid in order
# ----------------------------------------------------------------------------------------------

L3Row = tuple[int, int, int, int, int]


def l3_initial(per_side: int = 20, per_level: int = 10) -> list[L3Row]:
    rng = random.Random(SEED + 3)
    rows: list[L3Row] = []
    oid = 0
    for i in range(per_side):
        for side, price in ((0, MID - 1 - i), (1, MID + 1 + i)):
            for _ in range(per_level):
                rows.append((L3_ACTION_ADD, oid, side, price, rng.randint(1, 100)))
                oid += 1
    return rows


def l3_stream(n: int | None = None) -> list[L3Row]:
    """The L3 event stream, generated against an L3Book (held equal to a reference by the
    tests) so every cancel and execution names a resting order."""
    n = N_L3 if n is None else n
    key = f"l3{n}"
    if key in _cache:
        return _cache[key]  # type: ignore[no-any-return]
    rng = random.Random(SEED + 4)
    book = L3Book(2, 0)
    live: list[int] = []
    for _, oid, side, price, size in l3_initial():
        book.add(oid, side, price, size)
        live.append(oid)
    next_id = len(live)
    rows: list[L3Row] = []
    while len(rows) < n:
        r = rng.random()
        if r < 0.45 or len(live) < 10:
            side = rng.randint(0, 1)
            k = int(rng.expovariate(0.2))
            best = book.best_bid if side == 0 else book.best_ask
            if best is None:
                best = MID - 1 if side == 0 else MID + 1
            price = best - k if side == 0 else best + k
            if book.best_ask is not None and side == 0 and price >= book.best_ask:
                price = book.best_ask - 1
            if book.best_bid is not None and side == 1 and price <= book.best_bid:
                price = book.best_bid + 1
            row: L3Row = (L3_ACTION_ADD, next_id, side, price, rng.randint(1, 100))
            book.add(next_id, side, price, row[4])
            live.append(next_id)
            next_id += 1
        elif r < 0.85:
            oid = live.pop(rng.randrange(len(live)))
            side, price, size = book.order(oid)
            row = (L3_ACTION_CANCEL, oid, side, price, size)
            book.cancel(oid)
        else:
            side = rng.randint(0, 1)
            best = book.best_bid if side == 0 else book.best_ask
            if best is None:
                continue
            oid, remaining = book.orders_at(side, best)[0]
            size = remaining if rng.random() < 0.5 else rng.randint(1, remaining)
            row = (L3_ACTION_EXECUTE, oid, side, best, size)
            book.execute(oid, size)
            if size == remaining:
                live.remove(oid)
        rows.append(row)
    _cache[key] = rows
    return rows


def l3_events(rows: list[L3Row]) -> np.ndarray:
    ev = np.zeros(len(rows), dtype=L3_EVENT_DTYPE)
    if rows:
        a = np.array(rows, dtype=np.int64)
        ev["action"], ev["order_id"], ev["side"] = a[:, 0], a[:, 1], a[:, 2]
        ev["price"], ev["size"] = a[:, 3], a[:, 4]
        ev["sequence"] = np.arange(len(rows))
    return ev


# ----------------------------------------------------------------------------------------------
# Cases: each prep_* builds its state untimed and returns the timed loop
# ----------------------------------------------------------------------------------------------


def timed(loop: Loop) -> float:
    """Seconds one prepared loop takes, with the cyclic GC off as timeit does."""
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter()
        loop()
        return time.perf_counter() - t
    finally:
        gc.enable()


def prep_empty_loop(rows: list[tuple[int, int, int]]) -> Loop:
    def loop() -> None:
        for _s, _p, _q in rows:
            pass

    return loop


def prep_hftcore_calls(rows: list[tuple[int, int, int]]) -> Loop:
    book = L2Book(2, 0)
    book.apply_batch(*initial_levels())
    apply = book.apply

    def loop() -> None:
        for s, p, q in rows:
            apply(s, p, q)
            book.best_bid  # noqa: B018
            book.best_ask  # noqa: B018

    return loop


def prep_hftcore_batch(stream: Stream, init: Stream | None = None, bbo: bool = True) -> Loop:
    book = L2Book(2, 0)
    book.apply_batch(*(init or initial_levels()))
    out = np.empty((len(stream[0]), 2), np.int64) if bbo else None
    if out is not None:
        out.fill(0)  # fault the pages in before timing: a caller reuses its buffer
    return lambda: book.apply_batch(*stream, bbo=out)


def _sorteddict_book(init: Stream) -> list[Any]:
    from sortedcontainers import SortedDict

    books = [SortedDict(), SortedDict()]
    for s, p, q in zip(*(a.tolist() for a in init), strict=True):
        books[s][p] = q
    return books


def prep_sorteddict(rows: list[tuple[int, int, int]]) -> Loop:
    books = _sorteddict_book(initial_levels())
    bids, asks = books

    def loop() -> None:
        for s, p, q in rows:
            d = books[s]
            if q:
                d[p] = q
            else:
                d.pop(p, None)
            if bids:
                bids.peekitem(-1)
            if asks:
                asks.peekitem(0)

    return loop


def _order_book(init: Stream) -> Any:
    from order_book import OrderBook

    ob = OrderBook()
    books = [ob.bids, ob.asks]
    for s, p, q in zip(*(a.tolist() for a in init), strict=True):
        books[s][p] = q
    return ob


def prep_order_book(rows: list[tuple[int, int, int]]) -> Loop:
    ob = _order_book(initial_levels())
    books = [ob.bids, ob.asks]
    bids, asks = books

    def loop() -> None:
        for s, p, q in rows:
            d = books[s]
            if q:
                d[p] = q
            else:
                try:  # noqa: SIM105 - contextlib.suppress costs more in this hot loop
                    del d[p]
                except KeyError:
                    pass
            if len(bids):
                bids.index(0)
            if len(asks):
                asks.index(0)

    return loop


def _nautilus() -> dict[str, Any]:
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder, OrderBookDelta
    from nautilus_trader.model.enums import BookAction, BookType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    iid = InstrumentId.from_str("BTCUSDT.BENCH")
    ps = 10**14  # raw scale: 16 fixed decimals, prices at 2
    qs = 10**16
    sides = (OrderSide.BUY, OrderSide.SELL)

    def order(s: int, p: int, q: int, oid: int = 0) -> Any:
        return BookOrder(sides[s], Price.from_raw(p * ps, 2), Quantity.from_raw(q * qs, 0), oid)

    def delta(s: int, p: int, q: int) -> Any:
        action = BookAction.UPDATE if q else BookAction.DELETE
        return OrderBookDelta(iid, action, order(s, p, q), 0, 0, 0, 0)

    def book(kind: str) -> Any:
        return OrderBook(iid, BookType.L2_MBP if kind == "L2" else BookType.L3_MBO)

    return {"order": order, "delta": delta, "book": book}


def _nautilus_l2(init: Stream) -> Any:
    nt = _nautilus()
    book = nt["book"]("L2")
    for r in zip(*(a.tolist() for a in init), strict=True):
        book.apply_delta(nt["delta"](*r))
    return book


def prep_nautilus(rows: list[tuple[int, int, int]], with_construction: bool = False) -> Loop:
    nt = _nautilus()
    book = _nautilus_l2(initial_levels())
    apply = book.apply_delta
    bb = book.best_bid_price
    ba = book.best_ask_price
    make = nt["delta"]
    if with_construction:

        def loop() -> None:
            for s, p, q in rows:
                apply(make(s, p, q))
                bb()
                ba()

        return loop
    deltas = [make(*r) for r in rows]

    def loop_prebuilt() -> None:
        for d in deltas:
            apply(d)
            bb()
            ba()

    return loop_prebuilt


def _c_floor() -> Any:
    """benchmarks/c_floor/sorted_book.c compiled and loaded; None if impossible."""
    if "c_floor" in _cache:
        return _cache["c_floor"]
    import ctypes

    from conftest import compile_c_floor

    lib = compile_c_floor("sorted_book")
    if lib is not None:
        i64p = ctypes.POINTER(ctypes.c_int64)
        lib.floor_new.restype = ctypes.c_void_p
        lib.floor_new.argtypes = [i64p, i64p, i64p, ctypes.c_int64]
        lib.floor_apply.restype = ctypes.c_int64
        lib.floor_apply.argtypes = [ctypes.c_void_p, i64p, i64p, i64p, ctypes.c_int64]
        lib.floor_free.restype = None
        lib.floor_free.argtypes = [ctypes.c_void_p]
    _cache["c_floor"] = lib
    return lib


def prep_c_floor(stream: Stream, init: Stream | None = None) -> Loop:
    """The C book prepared with the initial levels; the loop is one call applying the stream."""
    import ctypes

    lib = _c_floor()
    ptr = ctypes.POINTER(ctypes.c_int64)
    keep = [np.ascontiguousarray(a, np.int64) for a in (*(init or initial_levels()), *stream)]
    args = [a.ctypes.data_as(ptr) for a in keep]
    handle = lib.floor_new(*args[:3], len(keep[0]))
    if not handle:
        raise MemoryError("C floor failed")
    n = len(keep[3])

    def loop() -> None:
        try:
            if lib.floor_apply(handle, *args[3:], n) == -1:
                raise MemoryError("C floor failed")
        finally:
            lib.floor_free(handle)
            keep.clear()

    return loop


# -- reads --------------------------------------------------------------------------------------


def _read_book(levels: int = 2000) -> L2Book:
    book = L2Book(2, 0)
    book.apply_batch(*initial_levels(levels // 2))
    return book


def prep_depth(book_levels: int = 2000, reps: int = READ_REPS, keep: bool = True) -> Loop:
    """reps calls of depth(20); keep=True holds every result, as a caller storing snapshots."""
    depth = _read_book(book_levels).depth

    def loop() -> None:
        if keep:
            kept = []
            for _ in range(reps):
                kept.append(depth(20))
        else:
            for _ in range(reps):
                _bp, _bs, _ap, _az = depth(20)  # names rebound each call, results dropped

    return loop


def prep_depth_into(reps: int = READ_REPS) -> Loop:
    """reps x both sides of depth 20 into the caller's arrays (one depth(20)'s worth)."""
    depth_into = _read_book().depth_into
    bp, bs, ap, az = (np.empty(20, np.int64) for _ in range(4))

    def loop() -> None:
        for _ in range(reps):
            depth_into(0, bp, bs)
            depth_into(1, ap, az)

    return loop


def prep_levels_hftcore(reps: int = READ_REPS) -> Loop:
    levels = _read_book().levels

    def loop() -> None:
        for _ in range(reps):
            levels(0, 20)

    return loop


def prep_levels_sorteddict(reps: int = READ_REPS) -> Loop:
    bids = _sorteddict_book(initial_levels())[0]
    items = bids.items()

    def loop() -> None:
        for _ in range(reps):
            list(islice(reversed(items), 20))

    return loop


def prep_levels_order_book(reps: int = READ_REPS) -> Loop:
    bids = _order_book(initial_levels()).bids
    index = bids.index

    def loop() -> None:
        for _ in range(reps):
            [index(i) for i in range(20)]

    return loop


def prep_levels_nautilus(reps: int = READ_REPS) -> Loop:
    bids = _nautilus_l2(initial_levels()).bids

    def loop() -> None:
        for _ in range(reps):
            bids()[:20]

    return loop


# -- L3 -----------------------------------------------------------------------------------------


def prep_l3_hftcore_calls(rows: list[L3Row]) -> Loop:
    book = L3Book(2, 0)
    for _, oid, side, price, size in l3_initial():
        book.add(oid, side, price, size)
    add, cancel, execute = book.add, book.cancel, book.execute

    def loop() -> None:
        for action, oid, side, price, size in rows:
            if action == L3_ACTION_ADD:
                add(oid, side, price, size)
            elif action == L3_ACTION_CANCEL:
                cancel(oid)
            else:
                execute(oid, size)

    return loop


def prep_l3_hftcore_events(rows: list[L3Row]) -> Loop:
    book = L3Book(2, 0)
    book.apply_events(l3_events(l3_initial()))
    events = l3_events(rows)
    return lambda: book.apply_events(events)


def prep_l3_nautilus(rows: list[L3Row]) -> Loop:
    nt = _nautilus()
    book = nt["book"]("L3")
    order = nt["order"]
    for _, oid, side, price, size in l3_initial():
        book.add(order(side, price, size, oid), 0)
    sizes: dict[int, int] = {oid: size for _, oid, _, _, size in l3_initial()}
    prebuilt = []  # (method, BookOrder) with the order as the venue event describes it
    for action, oid, side, price, size in rows:
        if action == L3_ACTION_ADD:
            sizes[oid] = size
            prebuilt.append((0, order(side, price, size, oid)))
        elif action == L3_ACTION_CANCEL:
            prebuilt.append((1, order(side, price, sizes.pop(oid), oid)))
        else:
            left = sizes[oid] - size
            if left:
                sizes[oid] = left
                prebuilt.append((2, order(side, price, left, oid)))
            else:
                del sizes[oid]
                prebuilt.append((1, order(side, price, size, oid)))
    add, delete, update = book.add, book.delete, book.update

    def loop() -> None:
        for kind, o in prebuilt:
            if kind == 0:
                add(o, 0)
            elif kind == 1:
                delete(o, 0)
            else:
                update(o, 0)

    return loop


def prep_l3_empty(rows: list[L3Row]) -> Loop:
    def loop() -> None:
        for action, _oid, _side, _price, _size in rows:
            # the same two comparisons as the hftcore loop's dispatch
            if action == L3_ACTION_ADD:
                continue
            if action == L3_ACTION_CANCEL:
                continue

    return loop


def _have(mod: str) -> bool:
    try:
        __import__(mod)
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Table with ratios (script mode)
# ----------------------------------------------------------------------------------------------

# group -> (reference row name, {row name: ns per item})
Results = dict[str, dict[str, float]]


def measure(repeat: int = 3) -> Results:
    """ns per item (best of `repeat`, each on freshly prepared state) for every case."""

    def best(prep: Callable[[], Loop], n: int) -> float:
        return min(timed(prep()) for _ in range(repeat)) / n * 1e9

    res: Results = {}
    std = standard_stream()
    rows = rows_of(std, PEER_N)
    pn = len(rows)
    g = res["per update from Python: apply + best bid + best ask"] = {}
    empty = best(lambda: prep_empty_loop(rows), pn)
    g["hftcore L2Book.apply + best_bid + best_ask"] = best(lambda: prep_hftcore_calls(rows), pn)
    if _have("nautilus_trader"):
        g["NautilusTrader apply_delta + best_*_price(), deltas prebuilt"] = best(
            lambda: prep_nautilus(rows), pn
        )
        g["NautilusTrader, building each OrderBookDelta in the loop"] = best(
            lambda: prep_nautilus(rows, with_construction=True), pn
        )
    if _have("sortedcontainers"):
        g["sortedcontainers.SortedDict x2, peekitem"] = best(lambda: prep_sorteddict(rows), pn)
    if _have("order_book"):
        g["order-book 0.6 (C extension)"] = best(lambda: prep_order_book(rows), pn)
    g["(empty Python loop over the rows)"] = empty
    g["hftcore, net of the empty loop"] = g["hftcore L2Book.apply + best_bid + best_ask"] - empty

    n = len(std[0])
    g = res["batch without the GIL, per update"] = {}
    g["hftcore apply_batch + BBO trail"] = best(lambda: prep_hftcore_batch(std), n)
    g["hftcore apply_batch"] = best(lambda: prep_hftcore_batch(std, bbo=False), n)
    if _c_floor() is not None:
        g["plain C sorted arrays, best at the end"] = best(lambda: prep_c_floor(std), n)
    for per_side in (2500, 5000):
        init, uni = uniform_stream(per_side)
        g = res[f"batch, updates uniform over {2 * per_side} levels"] = {}
        g["hftcore apply_batch"] = best(
            lambda u=uni, i=init: prep_hftcore_batch(u, i, bbo=False),
            n,  # type: ignore[misc]
        )
        if _c_floor() is not None and per_side == 2500:
            g["plain C sorted arrays"] = best(
                lambda u=uni, i=init: prep_c_floor(u, i),
                n,  # type: ignore[misc]
            )

    reps = READ_REPS
    g = res["depth(20), 2000-level book, per call"] = {}
    g["hftcore depth(20), every result kept"] = best(lambda: prep_depth(keep=True), reps)
    g["hftcore depth(20), results dropped"] = best(lambda: prep_depth(keep=False), reps)
    g["hftcore depth(20), 200000-level book, dropped"] = best(
        lambda: prep_depth(200_000, keep=False), reps
    )
    g["hftcore depth_into both sides (caller's arrays)"] = best(prep_depth_into, reps)

    g = res["top 20 levels of one side as (price, size) ints, per call"] = {}
    g["hftcore levels(0, 20)"] = best(prep_levels_hftcore, reps)
    if _have("sortedcontainers"):
        g["SortedDict list(islice(reversed(items), 20))"] = best(prep_levels_sorteddict, reps)
    if _have("order_book"):
        g["order-book [bids.index(i) for i in range(20)]"] = best(prep_levels_order_book, reps)
    if _have("nautilus_trader"):
        # bids() builds every level (1000) as objects: 1/100 of the calls keep the run short
        g["NautilusTrader bids()[:20] (BookLevel objects, all levels built)"] = best(
            lambda: prep_levels_nautilus(reps // 100), reps // 100
        )

    l3 = l3_stream()
    g = res["L3 add / cancel / execute, per event"] = {}
    g["hftcore L3Book methods from Python"] = best(lambda: prep_l3_hftcore_calls(l3), len(l3))
    g["hftcore L3Book.apply_events (nogil batch)"] = best(
        lambda: prep_l3_hftcore_events(l3), len(l3)
    )
    if _have("nautilus_trader"):
        g["NautilusTrader L3_MBO add/delete/update, orders prebuilt"] = best(
            lambda: prep_l3_nautilus(l3), len(l3)
        )
    g["(empty Python loop with the same dispatch)"] = best(lambda: prep_l3_empty(l3), len(l3))
    return res


def print_table(res: Results) -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"\nL2 stream {N_UPDATES} updates (per-call rows and peers: first {PEER_N}); "
        f"L3 stream {N_L3} events; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    for group, rows in res.items():
        ref = next(iter(rows.values()))
        print(f"\n{group}")
        print(f"  {'case':66s} {'ns':>9s} {'x first row':>12s}")
        for name, ns in rows.items():
            print(f"  {name:66s} {ns:9.1f} {ns / ref:12.2f}")


# ----------------------------------------------------------------------------------------------
# pytest-benchmark entry points (opt-in)
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def std_rows() -> list[tuple[int, int, int]]:
    return rows_of(standard_stream(), PEER_N)


def _bench(benchmark: Any, prep: Callable[[], Loop], n: int) -> None:
    """Time only the loop: every round gets freshly prepared state (setup untimed)."""
    benchmark.extra_info["items"] = n
    benchmark.pedantic(lambda loop: loop(), setup=lambda: ((prep(),), {}), rounds=3)


def test_empty_loop(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    _bench(benchmark, lambda: prep_empty_loop(std_rows), len(std_rows))


def test_hftcore_calls(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    _bench(benchmark, lambda: prep_hftcore_calls(std_rows), len(std_rows))


def test_hftcore_batch(benchmark: Any) -> None:
    std = standard_stream()
    _bench(benchmark, lambda: prep_hftcore_batch(std), len(std[0]))


def test_hftcore_uniform_5000(benchmark: Any) -> None:
    init, uni = uniform_stream(2500)
    _bench(benchmark, lambda: prep_hftcore_batch(uni, init, bbo=False), len(uni[0]))


def test_hftcore_depth20_kept(benchmark: Any) -> None:
    _bench(benchmark, lambda: prep_depth(keep=True), READ_REPS)


def test_hftcore_depth_into(benchmark: Any) -> None:
    _bench(benchmark, prep_depth_into, READ_REPS)


def test_hftcore_levels20(benchmark: Any) -> None:
    _bench(benchmark, prep_levels_hftcore, READ_REPS)


def test_hftcore_l3_calls(benchmark: Any) -> None:
    rows = l3_stream()
    _bench(benchmark, lambda: prep_l3_hftcore_calls(rows), len(rows))


def test_hftcore_l3_events(benchmark: Any) -> None:
    rows = l3_stream()
    _bench(benchmark, lambda: prep_l3_hftcore_events(rows), len(rows))


def test_c_floor(benchmark: Any) -> None:
    if _c_floor() is None:
        pytest.skip("no C compiler for the plain-C floor")
    std = standard_stream()
    _bench(benchmark, lambda: prep_c_floor(std), len(std[0]))


def test_sorteddict(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("sortedcontainers")
    _bench(benchmark, lambda: prep_sorteddict(std_rows), len(std_rows))


def test_order_book(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("order_book")
    _bench(benchmark, lambda: prep_order_book(std_rows), len(std_rows))


def test_nautilus(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("nautilus_trader")
    _bench(benchmark, lambda: prep_nautilus(std_rows), len(std_rows))


def test_nautilus_l3(benchmark: Any) -> None:
    pytest.importorskip("nautilus_trader")
    rows = l3_stream()
    _bench(benchmark, lambda: prep_l3_nautilus(rows), len(rows))


def test_print_ratios() -> None:
    """Prints the ratio table (run with -s)."""
    print_table(measure(repeat=1))


if __name__ == "__main__":
    if "--quick" in sys.argv:
        N_UPDATES = PEER_N = 100_000
        N_L3 = 50_000
    rep = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    results = measure(repeat=rep)
    print_table(results)
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump({"load": os.getloadavg(), "repeat": rep, "results": results}, f, indent=1)
