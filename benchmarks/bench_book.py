"""Order-book benchmarks (issue 3): hftcore L2Book against its peers on one identical stream.

Standard workload (generated here with a fixed seed): 1000 levels per side around mid 50000.00
(tick 0.01, sizes 1-1000 lots), then 1,000,000 updates, each on a random side at
``int(random.expovariate(0.1))`` ticks from that side's current best, 20% deletes and 80%
set-size; best bid and best ask are read after every update.

Run as pytest-benchmark (opt-in, not part of the test run)::

    PYTHONPATH=src python -m pytest benchmarks/bench_book.py --benchmark-only \
        --benchmark-disable-gc -s

or as a script that prints the table with ratios (``--quick`` for a shorter run, ``--repeat N``
for the best of N runs per case, default 3)::

    PYTHONPATH=src python benchmarks/bench_book.py --repeat 7

Peers are measured in the same run where installed (skipped cleanly otherwise): ``order-book``,
``sortedcontainers.SortedDict``, NautilusTrader ``OrderBook.apply_delta``. The slow peers and the
per-call loops run on the first ``PEER_N`` updates of the same stream.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

# OpenBLAS worker threads are of no use here and only compete for the (2) cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest

from hftcore import L2Book

SEED = 20240417
MID = 5_000_000  # 50000.00 at 2 decimals
N_UPDATES = int(os.environ.get("HFTCORE_BENCH_N", "1000000"))
PEER_N = min(N_UPDATES, int(os.environ.get("HFTCORE_BENCH_PEER_N", "200000")))

Stream = tuple[np.ndarray, np.ndarray, np.ndarray]
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
# Cases: each prep_* builds its book untimed and returns the timed loop (a zero-argument callable)
# ----------------------------------------------------------------------------------------------

Loop = Callable[[], object]


def timed(loop: Loop) -> float:
    """Seconds one prepared loop takes, with the cyclic GC off as timeit does (the 200k-tuple
    row list otherwise makes full collections land in some runs and not others)."""
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


def prep_sorteddict(rows: list[tuple[int, int, int]]) -> Loop:
    from sortedcontainers import SortedDict

    books = [SortedDict(), SortedDict()]
    s0, p0, q0 = initial_levels()
    for s, p, q in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        books[s][p] = q
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


def prep_order_book(rows: list[tuple[int, int, int]]) -> Loop:
    from order_book import OrderBook

    ob = OrderBook()
    books = [ob.bids, ob.asks]
    s0, p0, q0 = initial_levels()
    for s, p, q in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        books[s][p] = q
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


def _nautilus_maker() -> tuple[Any, Callable[[int, int, int], Any]]:
    from nautilus_trader.model.data import BookOrder, OrderBookDelta
    from nautilus_trader.model.enums import BookAction, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    iid = InstrumentId.from_str("BTCUSDT.BENCH")
    ps = 10**14  # raw scale: 16 fixed decimals, prices at 2
    qs = 10**16
    sides = (OrderSide.BUY, OrderSide.SELL)

    def make(s: int, p: int, q: int) -> Any:
        action = BookAction.UPDATE if q else BookAction.DELETE
        order = BookOrder(sides[s], Price.from_raw(p * ps, 2), Quantity.from_raw(q * qs, 0), 0)
        return OrderBookDelta(iid, action, order, 0, 0, 0, 0)

    return iid, make


def prep_nautilus(rows: list[tuple[int, int, int]], with_construction: bool = False) -> Loop:
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.enums import BookType

    iid, make = _nautilus_maker()
    book = OrderBook(iid, BookType.L2_MBP)
    s0, p0, q0 = initial_levels()
    for r in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        book.apply_delta(make(*r))
    apply = book.apply_delta
    bb = book.best_bid_price
    ba = book.best_ask_price
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
        lib.floor_run.restype = ctypes.c_int64
        i64p = ctypes.POINTER(ctypes.c_int64)
        i64 = ctypes.c_int64
        lib.floor_run.argtypes = [i64p, i64p, i64p, i64, i64p, i64p, i64p, i64]
        lib.floor_run.argtypes.append(ctypes.POINTER(ctypes.c_double))
    _cache["c_floor"] = lib
    return lib


def run_c_floor(stream: Stream, init: Stream | None = None) -> float:
    """Seconds the C loop takes (timed inside C, setup excluded)."""
    import ctypes

    lib = _c_floor()
    ptr = ctypes.POINTER(ctypes.c_int64)
    arrs = [np.ascontiguousarray(a, np.int64) for a in (*(init or initial_levels()), *stream)]
    secs = ctypes.c_double()
    args = [a.ctypes.data_as(ptr) for a in arrs]
    rc = lib.floor_run(*args[:3], len(arrs[0]), *args[3:], len(arrs[3]), ctypes.byref(secs))
    if rc == -1:
        raise MemoryError("C floor failed")
    return float(secs.value)


def prep_depth(book_levels: int, n: int = 20, reps: int = 100_000, keep: bool = False) -> Loop:
    """reps calls of depth(n); keep=True holds every result (nothing can be recycled)."""
    book = L2Book(2, 0)
    book.apply_batch(*initial_levels(book_levels // 2))
    depth = book.depth

    def loop() -> None:
        if keep:
            kept = []
            for _ in range(reps):
                kept.append(depth(n))
        else:
            for _ in range(reps):
                _bp, _bs, _ap, _az = depth(n)  # the usual unpacking, names rebound each call

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


def measure(repeat: int = 3) -> dict[str, float]:
    """ns per update (best of `repeat`, each on a freshly prepared book) for every case."""

    def best(prep: Callable[[], Loop], n: int) -> float:
        return min(timed(prep()) for _ in range(repeat)) / n * 1e9

    std = standard_stream()
    rows = rows_of(std, PEER_N)
    pn = len(rows)
    out: dict[str, float] = {}
    out["empty Python loop"] = best(lambda: prep_empty_loop(rows), pn)
    gross = best(lambda: prep_hftcore_calls(rows), pn)
    out["hftcore apply+best_bid+best_ask (gross)"] = gross
    out["hftcore apply+best_bid+best_ask (net)"] = gross - out["empty Python loop"]
    n = len(std[0])
    out["hftcore apply_batch nogil + BBO trail"] = best(lambda: prep_hftcore_batch(std), n)
    out["hftcore apply_batch nogil"] = best(lambda: prep_hftcore_batch(std, bbo=False), n)
    init5, uni5 = uniform_stream(2500)
    out["hftcore uniform 5000 levels batch"] = best(
        lambda: prep_hftcore_batch(uni5, init5, bbo=False), n
    )
    init10, uni10 = uniform_stream(5000)
    out["hftcore uniform 10000 levels batch"] = best(
        lambda: prep_hftcore_batch(uni10, init10, bbo=False), n
    )
    reps = 100_000
    out["hftcore depth(20), 2000-level book"] = best(lambda: prep_depth(2000, reps=reps), reps)
    out["hftcore depth(20), 200000-level book"] = best(lambda: prep_depth(200_000, reps=reps), reps)
    out["hftcore depth(20), results all kept (fresh arrays)"] = best(
        lambda: prep_depth(2000, reps=20_000, keep=True), 20_000
    )
    if _c_floor() is not None:
        out["plain C sorted array (best at end), same stream"] = (
            min(run_c_floor(std) for _ in range(repeat)) / n * 1e9
        )
        out["plain C sorted array, uniform 5000 levels"] = (
            min(run_c_floor(uni5, init5) for _ in range(repeat)) / n * 1e9
        )
    if _have("sortedcontainers"):
        out["sortedcontainers.SortedDict (gross)"] = best(lambda: prep_sorteddict(rows), pn)
    if _have("order_book"):
        out["order-book 0.6 (gross)"] = best(lambda: prep_order_book(rows), pn)
    if _have("nautilus_trader"):
        out["nautilus apply_delta+best (gross, prebuilt deltas)"] = best(
            lambda: prep_nautilus(rows), pn
        )
        out["nautilus incl. delta construction (gross)"] = best(
            lambda: prep_nautilus(rows, with_construction=True), pn
        )
    return out


def print_table(res: dict[str, float]) -> None:
    ref = res["hftcore apply+best_bid+best_ask (gross)"]
    batch = res["hftcore apply_batch nogil + BBO trail"]
    print(f"\nstandard workload: {N_UPDATES} updates (per-call loops and peers: first {PEER_N})")
    print(f"{'case':58s} {'ns/update':>10s} {'x hftcore call':>15s} {'x hftcore batch':>16s}")
    for name, ns in res.items():
        print(f"{name:58s} {ns:10.1f} {ns / ref:15.2f} {ns / batch:16.1f}")


# ----------------------------------------------------------------------------------------------
# pytest-benchmark entry points
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def std_rows() -> list[tuple[int, int, int]]:
    return rows_of(standard_stream(), PEER_N)


def _bench(benchmark: Any, prep: Callable[[], Loop], n: int) -> None:
    """Time only the loop: every round gets a freshly prepared book (setup untimed)."""
    benchmark.extra_info["updates"] = n
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


def test_hftcore_depth20(benchmark: Any) -> None:
    _bench(benchmark, lambda: prep_depth(2000, reps=10_000), 10_000)


def test_c_floor(benchmark: Any) -> None:
    if _c_floor() is None:
        pytest.skip("no C compiler for the plain-C floor")
    std = standard_stream()
    # timed inside C; pytest-benchmark's figure here includes the ctypes call and array setup
    benchmark.extra_info["updates"] = len(std[0])
    benchmark.pedantic(lambda: run_c_floor(std), rounds=3)


def test_sorteddict(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("sortedcontainers")
    _bench(benchmark, lambda: prep_sorteddict(std_rows), len(std_rows))


def test_order_book(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("order_book")
    _bench(benchmark, lambda: prep_order_book(std_rows), len(std_rows))


def test_nautilus(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("nautilus_trader")
    _bench(benchmark, lambda: prep_nautilus(std_rows), len(std_rows))


def test_print_ratios() -> None:
    """Prints the ratio table (run with -s)."""
    print_table(measure(repeat=1))


if __name__ == "__main__":
    if "--quick" in sys.argv:
        N_UPDATES = PEER_N = 100_000
    rep = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    print_table(measure(repeat=rep))
