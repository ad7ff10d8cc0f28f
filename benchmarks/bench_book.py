"""Order-book benchmarks (issue 3): hftcore L2Book against its peers on one identical stream.

Standard workload (generated here with a fixed seed): 1000 levels per side around mid 50000.00
(tick 0.01, sizes 1-1000 lots), then 1,000,000 updates, each on a random side at
``int(random.expovariate(0.1))`` ticks from that side's current best, 20% deletes and 80%
set-size; best bid and best ask are read after every update.

Run as pytest-benchmark (opt-in, not part of the test run)::

    PYTHONPATH=src python -m pytest benchmarks/bench_book.py --benchmark-only -s

or as a script that prints the table with ratios (``--quick`` for a shorter run)::

    PYTHONPATH=src python benchmarks/bench_book.py

Peers are measured in the same run where installed (skipped cleanly otherwise): ``order-book``,
``sortedcontainers.SortedDict``, NautilusTrader ``OrderBook.apply_delta``. The slow peers and the
per-call loops run on the first ``PEER_N`` updates of the same stream.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

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
# Runners: each returns seconds for the whole stream (setup excluded)
# ----------------------------------------------------------------------------------------------


def run_empty_loop(rows: list[tuple[int, int, int]]) -> float:
    t = time.perf_counter()
    for _s, _p, _q in rows:
        pass
    return time.perf_counter() - t


def run_hftcore_calls(rows: list[tuple[int, int, int]]) -> float:
    book = L2Book(2, 0)
    book.apply_batch(*initial_levels())
    apply = book.apply
    t = time.perf_counter()
    for s, p, q in rows:
        apply(s, p, q)
        book.best_bid  # noqa: B018
        book.best_ask  # noqa: B018
    return time.perf_counter() - t


def run_hftcore_batch(stream: Stream, init: Stream | None = None, bbo: bool = True) -> float:
    book = L2Book(2, 0)
    book.apply_batch(*(init or initial_levels()))
    out = np.empty((len(stream[0]), 2), np.int64) if bbo else None
    if out is not None:
        out.fill(0)  # fault the pages in before timing: a caller reuses its buffer
    t = time.perf_counter()
    book.apply_batch(*stream, bbo=out)
    return time.perf_counter() - t


def run_sorteddict(rows: list[tuple[int, int, int]]) -> float:
    from sortedcontainers import SortedDict

    books = [SortedDict(), SortedDict()]
    s0, p0, q0 = initial_levels()
    for s, p, q in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        books[s][p] = q
    bids, asks = books
    t = time.perf_counter()
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
    return time.perf_counter() - t


def run_order_book(rows: list[tuple[int, int, int]]) -> float:
    from order_book import OrderBook

    ob = OrderBook()
    books = [ob.bids, ob.asks]
    s0, p0, q0 = initial_levels()
    for s, p, q in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        books[s][p] = q
    bids, asks = books
    t = time.perf_counter()
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
    return time.perf_counter() - t


def _nautilus_deltas(rows: list[tuple[int, int, int]]) -> tuple[Any, list[Any], Any]:
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

    return iid, [make(*r) for r in rows], make


def run_nautilus(rows: list[tuple[int, int, int]], with_construction: bool = False) -> float:
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.enums import BookType

    iid, deltas, make = _nautilus_deltas(rows)
    book = OrderBook(iid, BookType.L2_MBP)
    s0, p0, q0 = initial_levels()
    for r in zip(s0.tolist(), p0.tolist(), q0.tolist(), strict=True):
        book.apply_delta(make(*r))
    apply = book.apply_delta
    bb = book.best_bid_price
    ba = book.best_ask_price
    t = time.perf_counter()
    if with_construction:
        for s, p, q in rows:
            apply(make(s, p, q))
            bb()
            ba()
    else:
        for d in deltas:
            apply(d)
            bb()
            ba()
    return time.perf_counter() - t


def _c_floor() -> Any:
    """Compile benchmarks/c_floor/sorted_book.c with the system compiler; None if impossible."""
    if "c_floor" in _cache:
        return _cache["c_floor"]
    import ctypes
    import shutil
    import subprocess
    import sysconfig
    import tempfile
    from pathlib import Path

    lib = None
    src = Path(__file__).parent / "c_floor" / "sorted_book.c"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) and src.exists():
        out = Path(tempfile.mkdtemp(prefix="hftcore-bench-")) / "sorted_book.so"
        cmd = [cc, "-O3", "-shared", "-fPIC", "-o", str(out), str(src)]
        if subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0:
            lib = ctypes.CDLL(str(out))
            lib.floor_run.restype = ctypes.c_int64
            i64p = ctypes.POINTER(ctypes.c_int64)
            i64 = ctypes.c_int64
            lib.floor_run.argtypes = [i64p, i64p, i64p, i64, i64p, i64p, i64p, i64]
            lib.floor_run.argtypes.append(ctypes.POINTER(ctypes.c_double))
    _cache["c_floor"] = lib
    return lib


def run_c_floor(stream: Stream, init: Stream | None = None) -> float:
    import ctypes

    lib = _c_floor()
    ptr = ctypes.POINTER(ctypes.c_int64)
    arrs = [np.ascontiguousarray(a, np.int64) for a in (*(init or initial_levels()), *stream)]
    secs = ctypes.c_double()
    args = [a.ctypes.data_as(ptr) for a in arrs]
    rc = lib.floor_run(*args[:3], len(arrs[0]), *args[3:], len(arrs[3]), ctypes.byref(secs))
    if rc == -1:
        raise MemoryError("C floor failed")
    return secs.value


def run_depth(book_levels: int, n: int = 20, reps: int = 100_000, keep: bool = False) -> float:
    """depth(n) per call; keep=True holds every result (nothing can be recycled)."""
    book = L2Book(2, 0)
    s, p, q = initial_levels(book_levels // 2)
    book.apply_batch(s, p, q)
    depth = book.depth
    kept = []
    t = time.perf_counter()
    if keep:
        for _ in range(reps):
            kept.append(depth(n))
    else:
        for _ in range(reps):
            _bp, _bs, _ap, _az = depth(n)  # the usual unpacking, names rebound each call
    return (time.perf_counter() - t) / reps


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
    """ns per update (best of `repeat`) for every case."""

    def best(fn: Callable[[], float], n: int) -> float:
        return min(fn() for _ in range(repeat)) / n * 1e9

    std = standard_stream()
    rows = rows_of(std, PEER_N)
    pn = len(rows)
    out: dict[str, float] = {}
    out["empty Python loop"] = best(lambda: run_empty_loop(rows), pn)
    out["hftcore apply+best_bid+best_ask (gross)"] = best(lambda: run_hftcore_calls(rows), pn)
    out["hftcore apply+best_bid+best_ask (net)"] = (
        out["hftcore apply+best_bid+best_ask (gross)"] - out["empty Python loop"]
    )
    out["hftcore apply_batch nogil + BBO trail"] = best(lambda: run_hftcore_batch(std), len(std[0]))
    out["hftcore apply_batch nogil"] = best(lambda: run_hftcore_batch(std, bbo=False), len(std[0]))
    init, uni = uniform_stream(2500)
    out["hftcore uniform 5000 levels batch"] = best(
        lambda: run_hftcore_batch(uni, init, bbo=False), len(uni[0])
    )
    init, uni = uniform_stream(5000)
    out["hftcore uniform 10000 levels batch"] = best(
        lambda: run_hftcore_batch(uni, init, bbo=False), len(uni[0])
    )
    out["hftcore depth(20), 2000-level book"] = run_depth(2000) * 1e9
    out["hftcore depth(20), 200000-level book"] = run_depth(200_000) * 1e9
    out["hftcore depth(20), results all kept (fresh arrays)"] = (
        run_depth(2000, reps=20_000, keep=True) * 1e9
    )
    if _c_floor() is not None:
        out["plain C sorted array (best at end), same stream"] = best(
            lambda: run_c_floor(std), len(std[0])
        )
        init, uni = uniform_stream(2500)
        out["plain C sorted array, uniform 5000 levels"] = best(
            lambda: run_c_floor(uni, init), len(uni[0])
        )
    if _have("sortedcontainers"):
        out["sortedcontainers.SortedDict (gross)"] = best(lambda: run_sorteddict(rows), pn)
    if _have("order_book"):
        out["order-book 0.6 (gross)"] = best(lambda: run_order_book(rows), pn)
    if _have("nautilus_trader"):
        out["nautilus apply_delta+best (gross, prebuilt deltas)"] = best(
            lambda: run_nautilus(rows), pn
        )
        out["nautilus incl. delta construction (gross)"] = best(
            lambda: run_nautilus(rows, with_construction=True), pn
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


def _per_update(benchmark: Any, fn: Callable[[], float], n: int) -> None:
    benchmark.extra_info["updates"] = n
    secs = benchmark.pedantic(fn, rounds=3, iterations=1)
    benchmark.extra_info["ns_per_update_last"] = secs / n * 1e9


def test_empty_loop(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    _per_update(benchmark, lambda: run_empty_loop(std_rows), len(std_rows))


def test_hftcore_calls(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    _per_update(benchmark, lambda: run_hftcore_calls(std_rows), len(std_rows))


def test_hftcore_batch(benchmark: Any) -> None:
    std = standard_stream()
    _per_update(benchmark, lambda: run_hftcore_batch(std), len(std[0]))


def test_hftcore_uniform_5000(benchmark: Any) -> None:
    init, uni = uniform_stream(2500)
    _per_update(benchmark, lambda: run_hftcore_batch(uni, init, bbo=False), len(uni[0]))


def test_hftcore_depth20(benchmark: Any) -> None:
    benchmark.pedantic(lambda: run_depth(2000, reps=10_000), rounds=3, iterations=1)


def test_c_floor(benchmark: Any) -> None:
    if _c_floor() is None:
        pytest.skip("no C compiler for the plain-C floor")
    std = standard_stream()
    _per_update(benchmark, lambda: run_c_floor(std), len(std[0]))


def test_sorteddict(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("sortedcontainers")
    _per_update(benchmark, lambda: run_sorteddict(std_rows), len(std_rows))


def test_order_book(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("order_book")
    _per_update(benchmark, lambda: run_order_book(std_rows), len(std_rows))


def test_nautilus(benchmark: Any, std_rows: list[tuple[int, int, int]]) -> None:
    pytest.importorskip("nautilus_trader")
    _per_update(benchmark, lambda: run_nautilus(std_rows), len(std_rows))


def test_print_ratios() -> None:
    """Prints the ratio table (run with -s)."""
    print_table(measure(repeat=1))


if __name__ == "__main__":
    if "--quick" in sys.argv:
        N_UPDATES = PEER_N = 100_000
    print_table(measure())
