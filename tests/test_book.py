"""L2Book against a small pure-Python reference book (Hypothesis) and edge cases (L3Book:
test_book_l3.py; input checks: test_book_inputs.py)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hftcore
from hftcore import L2Book, L3Book, fixed
from hftcore._ext.book import (
    BOOK_DELTA_DTYPE,
    DELTA_FLAG_CLEAR,
    DELTA_FLAG_CLEAR_SIDE,
    DELTA_FLAG_SNAPSHOT,
    CrossedBookError,
)

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


class RefL2:
    """Dict-based reference: side -> {price: size}."""

    def __init__(self, policy: str = "pass", max_depth: int = 0) -> None:
        self.sides: list[dict[int, int]] = [{}, {}]
        self.policy = policy
        self.max_depth = max_depth
        self.missing = 0
        self.crosses = 0

    def best(self, side: int) -> int | None:
        d = self.sides[side]
        if not d:
            return None
        return max(d) if side == 0 else min(d)

    def top(self) -> tuple[object, ...]:
        out: list[object] = []
        for side in (0, 1):
            b = self.best(side)
            out += [b, None if b is None else self.sides[side][b]]
        return tuple(out)

    def levels(self, side: int) -> list[tuple[int, int]]:
        return sorted(self.sides[side].items(), reverse=(side == 0))

    def crossed(self) -> bool:
        b, a = self.best(0), self.best(1)
        return b is not None and a is not None and b > a

    def apply(self, side: int, price: int, size: int) -> bool:
        before = self.top()
        d = self.sides[side]
        if self.policy == "raise" and size > 0:
            o = self.best(1 - side)
            if o is not None and (price > o if side == 0 else price < o):
                raise CrossedBookError
        if size == 0:
            if price in d:
                del d[price]
            else:
                self.missing += 1
        else:
            new = price not in d
            d[price] = size
            if new and self.max_depth and len(d) > self.max_depth:
                worst = min(d) if side == 0 else max(d)
                del d[worst]
        if size > 0 and self.top() != before and self.crossed():
            if self.policy == "drop":
                other = self.sides[1 - side]
                while self.crossed():
                    del other[self.best(1 - side)]
            else:
                self.crosses += 1
        return self.top() != before


def assert_same(book: L2Book, ref: RefL2) -> None:
    assert book.best_bid == ref.best(0)
    assert book.best_ask == ref.best(1)
    assert (book.best_bid, book.best_bid_size, book.best_ask, book.best_ask_size) == ref.top()
    assert len(book) == len(ref.sides[0]) + len(ref.sides[1])
    for side in (0, 1):
        assert book.levels(side) == ref.levels(side)
    bp, bs, ap, az = book.depth(5)
    assert list(zip(bp.tolist(), bs.tolist(), strict=True)) == ref.levels(0)[:5]
    assert list(zip(ap.tolist(), az.tolist(), strict=True)) == ref.levels(1)[:5]
    assert book.is_crossed == ref.crossed()


# prices from a small range (collisions, a 64-slot ladder overflowing and recentring) plus
# a few far ones, including the int64 limits
price_st = st.one_of(
    st.integers(-200, 200),
    st.integers(-200, 200).map(lambda x: x * 37),
    st.sampled_from([I64_MIN, I64_MIN + 1, I64_MAX - 1, I64_MAX, 0, 10**15]),
)
op_st = st.tuples(
    st.integers(0, 1), price_st, st.one_of(st.just(0), st.integers(1, 1000), st.just(I64_MAX))
)


@given(ops=st.lists(op_st, max_size=120), window=st.sampled_from([64, 128, 8192]))
def test_l2_matches_reference(ops: list[tuple[int, int, int]], window: int) -> None:
    book = L2Book(window=window)
    ref = RefL2()
    for side, price, size in ops:
        changed = book.apply(side, price, size)
        assert changed == ref.apply(side, price, size)
        assert_same(book, ref)
    assert book.missing_deletes == ref.missing
    assert book.crosses == ref.crosses
    assert book.updates == len(ops)


@given(ops=st.lists(op_st, max_size=80), policy=st.sampled_from(["drop", "raise"]))
def test_l2_cross_policies(ops: list[tuple[int, int, int]], policy: str) -> None:
    book = L2Book(window=64, cross_policy=policy)  # type: ignore[arg-type]
    ref = RefL2(policy)
    for side, price, size in ops:
        try:
            expected: bool | None = ref.apply(side, price, size)
        except CrossedBookError:
            expected = None
        if expected is None:
            with pytest.raises(CrossedBookError):
                book.apply(side, price, size)
        else:
            assert book.apply(side, price, size) == expected
        assert_same(book, ref)
        assert not book.is_crossed


@given(ops=st.lists(op_st, max_size=120), depth=st.integers(1, 6))
def test_l2_max_depth(ops: list[tuple[int, int, int]], depth: int) -> None:
    book = L2Book(window=64, max_depth=depth)
    ref = RefL2(max_depth=depth)
    for side, price, size in ops:
        book.apply(side, price, size)
        ref.apply(side, price, size)
        assert_same(book, ref)


@given(ops=st.lists(op_st, max_size=150), window=st.sampled_from([64, 4096]))
def test_apply_batch_equals_apply(ops: list[tuple[int, int, int]], window: int) -> None:
    one = L2Book(window=window)
    for op in ops:
        one.apply(*op)
    batch = L2Book(window=window)
    arr = np.array(ops, dtype=np.int64).reshape(-1, 3)
    bbo = np.zeros((len(ops), 2), dtype=np.int64)
    assert batch.apply_batch(arr[:, 0], arr[:, 1], arr[:, 2], bbo=bbo) == len(ops)
    assert list(batch) == list(one)
    assert batch.missing_deletes == one.missing_deletes
    rec = np.zeros(len(ops), dtype=[("side", "u1"), ("price", "<i8"), ("size", "<i8")])
    if ops:
        rec["side"], rec["price"], rec["size"] = arr[:, 0], arr[:, 1], arr[:, 2]
    structured = L2Book(window=window)
    structured.apply_batch(rec)  # one structured array with side/price/size fields
    assert list(structured) == list(one)
    # the BBO trail equals reading best bid/ask after each single apply
    trail = L2Book(window=window)
    for i, op in enumerate(ops):
        trail.apply(*op)
        bb, ba = trail.best_bid, trail.best_ask
        assert bbo[i, 0] == (I64_MIN if bb is None else bb)
        assert bbo[i, 1] == (I64_MIN if ba is None else ba)


@given(
    ops=st.lists(st.tuples(op_st, st.sampled_from([0, 0, 0, 1, 2, 8])), max_size=100),
)
def test_apply_deltas_flags(ops: list[tuple[tuple[int, int, int], int]]) -> None:
    recs = np.zeros(len(ops), dtype=BOOK_DELTA_DTYPE)
    ref = RefL2()
    for i, ((side, price, size), flags) in enumerate(ops):
        recs[i] = (1000 + i, 2000 + i, 7 * i, price, size, 3, side, flags, 0)
        if flags & DELTA_FLAG_CLEAR:
            ref.sides = [{}, {}]
        if flags & DELTA_FLAG_CLEAR_SIDE:
            ref.sides[side] = {}
        if not (flags & (DELTA_FLAG_CLEAR | DELTA_FLAG_CLEAR_SIDE) and size == 0):
            ref.apply(side, price, size)
    book = L2Book(window=64)
    assert book.apply_deltas(recs) == len(ops)
    assert_same(book, ref)
    if ops:
        assert (book.sequence, book.exchange_ts, book.local_ts) == (
            7 * (len(ops) - 1),
            1000 + len(ops) - 1,
            2000 + len(ops) - 1,
        )
    via_batch = L2Book(window=64)
    via_batch.apply_batch(recs)  # apply_batch over BookDelta records is apply_deltas
    assert list(via_batch) == list(book) and via_batch.sequence == book.sequence
    again = L2Book(window=64)
    again.apply_deltas(recs.tobytes())  # a raw buffer of records works the same
    assert list(again) == list(book)
    # a mirror without the padding field (as a decoder may define it) is the same layout
    names = [n for n in BOOK_DELTA_DTYPE.names if n != "_pad"]
    mirror = np.dtype(
        {
            "names": names,
            "formats": [BOOK_DELTA_DTYPE.fields[n][0] for n in names],
            "offsets": [BOOK_DELTA_DTYPE.fields[n][1] for n in names],
            "itemsize": 48,
        }
    )
    third = L2Book(window=64)
    third.apply_deltas(recs.view(mirror))
    assert list(third) == list(book)
    wrong = np.dtype([(n, "<i8") for n in ("a", "b", "c", "d", "e", "f")])
    with pytest.raises(ValueError):
        third.apply_deltas(np.zeros(2, dtype=wrong))


def ref_kraken(ref: RefL2, pd: int, sd: int) -> int:
    text = ""
    for side in (1, 0):
        for px, sz in ref.levels(side)[:10]:
            text += fixed.format_digits(px, pd) + fixed.format_digits(sz, sd)
    return zlib.crc32(text.encode())


def ref_interleaved(ref: RefL2, pd: int, sd: int, depth: int) -> int:
    bids, asks = ref.levels(0)[:depth], ref.levels(1)[:depth]
    parts: list[str] = []
    for i in range(depth):
        for lv in (bids, asks):
            if i < len(lv):
                parts += [
                    fixed.format(lv[i][0], pd, trim=True),
                    fixed.format(lv[i][1], sd, trim=True),
                ]
    return zlib.crc32(":".join(parts).encode())


def ref_okx(ref: RefL2, pd: int, sd: int) -> int:
    crc = ref_interleaved(ref, pd, sd, 25)
    return crc - 2**32 if crc >= 2**31 else crc


@given(
    ops=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 10**9), st.integers(0, 10**12))),
    pd=st.integers(0, 12),
    sd=st.integers(0, 12),
)
def test_checksums_match_reference(ops: list[tuple[int, int, int]], pd: int, sd: int) -> None:
    book = L2Book(pd, sd, window=64)
    ref = RefL2()
    for op in ops:
        book.apply(*op)
        ref.apply(*op)
    assert book.checksum("kraken") == ref_kraken(ref, pd, sd)
    assert book.checksum("okx") == ref_okx(ref, pd, sd)
    assert book.checksum("aevo") == ref_interleaved(ref, pd, sd, 100)


def test_aevo_documented_example() -> None:
    # the venue's documented example: bids [["9", "2"]], asks [["10", "1"]] -> 1226559413
    b = L2Book()
    b.apply(0, 9, 2)
    b.apply(1, 10, 1)
    assert b.checksum("aevo") == 1226559413


def test_empty_book_reads() -> None:
    b = L2Book()
    assert b.best_bid is None and b.best_ask is None
    assert b.best_bid_size is None and b.best_ask_size is None
    assert b.spread is None and b.mid is None and b.mid_x2 is None
    assert b.microprice() is None and b.imbalance() is None
    assert not b.is_crossed and not b.is_locked
    assert len(b) == 0 and list(b) == []
    for arr in b.depth(10):
        assert arr.dtype == np.int64 and arr.shape == (0,)
    with pytest.raises(IndexError):
        b.level(0, 0)
    assert b.vwap(0, 5) is None and b.price_for_size(1, 5) is None
    assert b.apply(0, 100, 0) is False and b.missing_deletes == 1
    assert isinstance(b.checksum("kraken"), int) and b.checksum("okx") == 0


def test_one_sided_book_and_last_level() -> None:
    b = L2Book(2, 0)
    assert b.apply(hftcore.Side.BUY, 100, 5)
    assert b.best_bid == 100 and b.best_ask is None and b.spread is None
    assert b.apply(0, 100, 0)  # deleting the last level changes the top
    assert b.best_bid is None and len(b) == 0
    assert b.apply(1, 7, 1) and b.best_ask == 7


def test_reads() -> None:
    b = L2Book(2, 3)
    for side, px, sz in [(0, 100, 5), (0, 99, 10), (1, 102, 3), (1, 104, 7)]:
        b.apply(side, px, sz)
    assert b.spread == 2 and b.mid_x2 == 202 and b.mid == 1010
    b.apply(1, 101, 4)
    assert b.mid_x2 == 201 and b.mid == 1005  # half a tick, exact at price_decimals + 1
    assert b.microprice() == round((100 * 4 + 101 * 5) / 9)
    assert b.microprice(4) == round((100 * 4 + 101 * 5) * 10**4 / 9)
    assert b.volume_within(0, 99) == 15 and b.volume_within(0, 100) == 5
    assert b.volume_within(1, 102) == 7
    assert b.cost(1, 10) == (10, 101 * 4 + 102 * 3 + 104 * 3, 104)
    assert b.price_for_size(1, 10) == 104 and b.price_for_size(1, 100) is None
    assert b.vwap(1, 10) == round((101 * 4 + 102 * 3 + 104 * 3) / 10)
    assert b.level(1, 0) == (101, 4) and b.level(1, -1) == (104, 7)
    assert b.size_at(0, 99) == 10 and b.size_at(0, 98) == 0
    assert b.imbalance(1) == (5 - 4) / 9
    b.apply(0, 101, 1)
    assert b.is_locked and not b.is_crossed
    out_p = np.zeros(8, dtype=np.int64)
    out_s = np.zeros(8, dtype=np.int64)
    assert b.depth_into(0, out_p, out_s) == 3
    assert out_p[:3].tolist() == [101, 100, 99]


def test_bad_input_raises_and_keeps_book() -> None:
    b = L2Book(tick=5)
    b.apply(0, 100, 1)
    with pytest.raises(ValueError):
        b.apply(2, 100, 1)
    with pytest.raises(ValueError):
        b.apply(0, 100, -1)
    with pytest.raises(ValueError):
        b.apply(0, 101, 1)  # off the tick grid
    with pytest.raises(OverflowError):
        b.apply(0, 2**63, 1)
    assert list(b) == [(0, 100, 1)]
    with pytest.raises(ValueError, match="row 1"):
        b.apply_batch([0, 0, 1], [105, 7, 200], [1, 1, 1])
    assert list(b) == [(0, 105, 1), (0, 100, 1)]
    with pytest.raises(ValueError):
        b.checksum("nowhere")
    with pytest.raises(ValueError):
        L2Book(cross_policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        b.apply_deltas(b"\x00" * 47)


def test_tick_and_snapshot() -> None:
    b = L2Book(2, 0, tick=5, window=64)
    b.apply_snapshot([0, 0, 1], [1000, 995, 1005], [1, 2, 3])
    assert (b.best_bid, b.best_ask) == (1000, 1005)
    b.apply_snapshot([1], [2000], [9], side=1)
    assert b.levels(1) == [(2000, 9)] and b.levels(0) == [(1000, 1), (995, 2)]
    with pytest.raises(ValueError):
        b.apply_snapshot([0], [10], [1], side=1)
    b.clear(0)
    assert b.best_bid is None and b.best_ask == 2000
    b.clear()
    assert len(b) == 0


def test_size_only_update_keeps_levels() -> None:
    b = L2Book(window=64)
    for i in range(300):
        b.apply(0, 10_000 - i, i + 1)
    before = b.levels(0)
    assert b.apply(0, 10_000 - 150, 77) is False
    after = b.levels(0)
    assert [p for p, _ in after] == [p for p, _ in before]
    assert after[150] == (10_000 - 150, 77)


def test_100k_levels_one_side() -> None:
    b = L2Book()
    n = 100_000
    prices = np.arange(n, dtype=np.int64) * 3 + 1_000_000
    b.apply_batch(np.ones(n, dtype=np.int64), prices, np.arange(1, n + 1, dtype=np.int64))
    assert len(b) == n and b.best_ask == 1_000_000
    ap, az = b.depth(n)[2:]
    assert np.array_equal(ap, prices) and az[-1] == n
    # delete from the best: the book walks through every level
    b.apply_batch(np.ones(n // 2, dtype=np.int64), prices[: n // 2], np.zeros(n // 2, np.int64))
    assert b.best_ask == int(prices[n // 2]) and len(b) == n - n // 2
    b.truncate(10)
    assert b.levels(1) == [
        (int(p), int(p - 1_000_000) // 3 + 1) for p in prices[n // 2 : n // 2 + 10]
    ]


def test_prices_near_int64_limits() -> None:
    b = L2Book(window=64)
    b.apply(0, I64_MIN, 1)
    b.apply(0, I64_MIN + 1, 2)
    b.apply(1, I64_MAX, 3)
    b.apply(1, I64_MAX - 1, 4)
    assert b.best_bid == I64_MIN + 1 and b.best_ask == I64_MAX - 1
    assert b.spread == I64_MAX - 1 - (I64_MIN + 1)
    b.apply(0, I64_MAX, 5)  # crosses, policy pass
    assert b.is_crossed and b.crosses == 1
    b.apply(0, I64_MAX, 0)
    assert b.levels(0) == [(I64_MIN + 1, 2), (I64_MIN, 1)]


def test_book_delta_dtype_layout() -> None:
    assert BOOK_DELTA_DTYPE.itemsize == 48
    assert BOOK_DELTA_DTYPE.names == (
        "exchange_ts",
        "local_ts",
        "sequence",
        "price",
        "size",
        "instrument_id",
        "side",
        "flags",
        "_pad",
    )
    assert DELTA_FLAG_SNAPSHOT == 1


def test_depth_results_are_never_overwritten_while_held() -> None:
    b = L2Book()
    for i in range(30):
        b.apply(0, 1000 - i, i + 1)
        b.apply(1, 2000 + i, i + 1)
    held = [b.depth(5) for _ in range(4)]
    snapshot = [[a.copy() for a in t] for t in held]
    b.depth(20)
    for _ in range(50):  # results dropped or rebound: the book may recycle them
        b.apply(0, 1000, 77)
        bp, bs, _ap, _az = b.depth(20)
        assert bs[0] == 77 and len(bp) == 20
        b.depth(3)
        b.apply(0, 1000, 1)
    view = b.depth(10)[0][:2]
    b.apply(0, 1001, 5)
    for _ in range(3):
        b.depth(10)
    assert view.tolist() == [1000, 999]
    for t, s in zip(held, snapshot, strict=True):
        for a, c in zip(t, s, strict=True):
            assert np.array_equal(a, c)
    assert b.depth(3)[0].tolist() == [1001, 1000, 999]
    assert b.depth(0)[0].shape == (0,)


@given(
    ops=st.lists(
        st.tuples(st.integers(0, 1), st.integers(-300, 300), st.sampled_from([0, 0, 1, 7, 99])),
        max_size=120,
    ),
    tick=st.sampled_from([1, 5, 25]),
)
def test_l2_with_tick_matches_reference(ops: list[tuple[int, int, int]], tick: int) -> None:
    book = L2Book(tick=tick, window=64)
    ref = RefL2()
    for side, steps, size in ops:
        price = steps * tick
        assert book.apply(side, price, size) == ref.apply(side, price, size)
        assert_same(book, ref)
    assert book.checksum("okx") == ref_okx(ref, 0, 0)


def test_walk_sums_are_exact_beyond_int64() -> None:
    b = L2Book(window=64)
    for i in range(3):
        b.apply(1, I64_MAX - i, I64_MAX // 2)
        b.apply(0, I64_MIN + i, I64_MAX // 2)
    assert b.volume_within(1, I64_MAX) == 3 * (I64_MAX // 2)
    assert b.volume_within(0, I64_MIN) == 3 * (I64_MAX // 2)
    filled, notional, worst = b.cost(1, I64_MAX)
    half = I64_MAX // 2
    assert filled == I64_MAX and worst == I64_MAX  # best ask is I64_MAX - 2
    assert notional == (I64_MAX - 2) * half + (I64_MAX - 1) * half + I64_MAX * 1
    filled, notional, worst = b.cost(0, 5)
    assert (filled, notional, worst) == (5, (I64_MIN + 2) * 5, I64_MIN + 2)


def test_no_leak_over_many_books_and_calls() -> None:
    import gc
    import tracemalloc

    from hftcore._ext.l3 import L3_ACTION_ADD, L3_EVENT_DTYPE

    events = np.zeros(100, dtype=L3_EVENT_DTYPE)
    events["order_id"] = np.arange(1000, 1100)
    events["action"] = L3_ACTION_ADD
    events["price"] = 2000 + np.arange(100) % 9
    events["side"] = 1
    events["size"] = 3

    def churn() -> None:
        for _ in range(200):
            b = L2Book(window=256)
            for i in range(300):  # ladder, overflow and window moves
                b.apply(i & 1, (i * 7919) % 5000 - 2500, i % 3)
            b.depth(10)
            b.apply_deltas(np.zeros(4, dtype=BOOK_DELTA_DTYPE))
            l3 = L3Book()
            for i in range(50):
                l3.add(i, i & 1, 1000 + (i % 7) * (1 if i & 1 else -1), 5)
            for i in range(0, 50, 2):
                l3.cancel(i)
            l3.modify(1, 9, 1010)
            l3.execute(3, 2)
            l3.apply_events(events)
            l3.depth(5)

    churn()  # warm caches (interned objects, numpy internals)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    churn()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 64 * 1024


@pytest.mark.slow
def test_long_random_walk_against_reference() -> None:
    """300,000 updates of a drifting, expovariate-distance stream (the benchmark's shape)
    against the reference with ``HFTCORE_SLOW=1 python -m pytest -m slow``; 60,000 otherwise."""
    import random

    from budget import budget

    rng = random.Random(7)
    book = L2Book(window=64)
    ref = RefL2()
    best = [1_000_000, 1_000_002]
    for step in range(budget(300_000, 60_000)):
        side = rng.randint(0, 1)
        b = ref.best(side)
        base = best[side] if b is None else b
        k = int(rng.expovariate(0.05))
        price = base - k if side == 0 else base + k
        size = 0 if rng.random() < 0.25 else rng.randint(1, 1000)
        assert book.apply(side, price, size) == ref.apply(side, price, size)
        assert (book.best_bid, book.best_bid_size, book.best_ask, book.best_ask_size) == ref.top()
        if step % 5000 == 0:
            assert_same(book, ref)
    assert_same(book, ref)
