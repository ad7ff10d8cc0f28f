"""L3Book (order-level book) against a pure-Python reference: FIFO queues, queue positions, the
C hash index under many adds and cancels (probe-chain repair included), the nogil batch of
L3Event records, 128-bit order ids, refusals that change nothing, and threads."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hftcore
from hftcore import L3Book
from hftcore._ext.l3 import (
    L3_ACTION_ADD,
    L3_ACTION_CANCEL,
    L3_ACTION_CLEAR,
    L3_ACTION_EXECUTE,
    L3_ACTION_MODIFY,
    L3_EVENT_DTYPE,
    L3_FLAG_KEEP_PRICE,
)

I64_MAX = 2**63 - 1
MASK64 = 2**64 - 1


class RefL3:
    """Dict-and-list reference: id -> [side, price, size]; (side, price) -> ids front first."""

    def __init__(self, tick: int = 1) -> None:
        self.orders: dict[int, list[int]] = {}
        self.queues: dict[tuple[int, int], list[int]] = {}
        self.tick = tick
        self.unknown = 0

    def level_total(self, side: int, price: int) -> int:
        return sum(self.orders[o][2] for o in self.queues.get((side, price), []))

    def _link(self, oid: int, side: int, price: int, size: int) -> None:
        self.orders[oid] = [side, price, size]
        self.queues.setdefault((side, price), []).append(oid)

    def _unlink(self, oid: int) -> None:
        side, price, _ = self.orders.pop(oid)
        q = self.queues[(side, price)]
        q.remove(oid)
        if not q:
            del self.queues[(side, price)]

    def check_add(self, oid: int, side: int, price: int, size: int) -> str | None:
        """The error add would raise (as text), or None."""
        if side not in (0, 1):
            return "side"
        if size <= 0:
            return "size"
        if price % self.tick:
            return "tick"
        if oid in self.orders:
            return "already"
        if self.level_total(side, price) + size > I64_MAX:
            return "int64"
        return None

    def add(self, oid: int, side: int, price: int, size: int) -> None:
        self._link(oid, side, price, size)

    def cancel(self, oid: int) -> bool:
        if oid not in self.orders:
            self.unknown += 1
            return False
        self._unlink(oid)
        return True

    def check_execute(self, oid: int, size: int) -> str | None:
        if oid in self.orders and not 1 <= size <= self.orders[oid][2]:
            return "execute size"
        return None

    def execute(self, oid: int, size: int) -> bool:
        if oid not in self.orders:
            self.unknown += 1
            return False
        self.orders[oid][2] -= size
        if self.orders[oid][2] == 0:
            self._unlink(oid)
        return True

    def check_modify(self, oid: int, size: int, price: int | None) -> str | None:
        if oid not in self.orders:
            return None
        side, old_px, old_sz = self.orders[oid]
        new_px = old_px if price is None else price
        if size < 0:
            return "size"
        if new_px % self.tick:
            return "tick"
        if size == 0:
            return None
        total = self.level_total(side, new_px) - (old_sz if new_px == old_px else 0)
        if total + size > I64_MAX:
            return "int64"
        return None

    def modify(self, oid: int, size: int, price: int | None) -> bool:
        if oid not in self.orders:
            self.unknown += 1
            return False
        side, old_px, old_sz = self.orders[oid]
        new_px = old_px if price is None else price
        if size == 0:
            self._unlink(oid)
        elif new_px == old_px and size <= old_sz:
            self.orders[oid][2] = size
        elif new_px == old_px:
            q = self.queues[(side, old_px)]
            q.remove(oid)
            q.append(oid)
            self.orders[oid][2] = size
        else:
            self._unlink(oid)
            self._link(oid, side, new_px, size)
        return True

    def levels(self, side: int) -> list[tuple[int, int]]:
        agg: dict[int, int] = {}
        for s, p, z in self.orders.values():
            if s == side:
                agg[p] = agg.get(p, 0) + z
        return sorted(agg.items(), reverse=(side == 0))


def assert_same(book: L3Book, ref: RefL3) -> None:
    assert len(book) == len(ref.orders)
    assert book.unknown_orders == ref.unknown
    for s in (0, 1):
        assert book.levels(s) == ref.levels(s)
    for (s, p), q in ref.queues.items():
        assert book.orders_at(s, p) == [(o, ref.orders[o][2]) for o in q]
        ahead = 0
        for k, o in enumerate(q):
            assert book.queue_position(o) == ahead
            assert book.orders_ahead(o) == k
            assert book.order(o) == tuple(ref.orders[o])
            assert o in book
            ahead += ref.orders[o][2]


# order ids: a small range (reuse after cancels, collisions in a 64-bucket index) plus ids that
# differ only in their high 64 bits
id_st = st.one_of(
    st.integers(0, 40),
    st.sampled_from([2**64, 2**64 + 1, 2**127, 2**128 - 1, MASK64]),
)
l3_op = st.tuples(
    st.sampled_from(["add", "add", "add", "cancel", "modify", "execute"]),
    id_st,
    st.integers(0, 1),
    st.integers(-40, 40).map(lambda x: x * 3),
    st.one_of(st.integers(0, 50), st.just(I64_MAX)),
    st.booleans(),
)


def apply_op(book: L3Book, ref: RefL3, op: tuple[str, int, int, int, int, bool]) -> None:
    kind, oid, side, price, size, flag = op
    if kind == "add":
        err = ref.check_add(oid, side, price, size)
        if err:
            before = (list(book.l2), len(book))
            with pytest.raises((ValueError, OverflowError), match=err):
                book.add(oid, side, price, size)
            assert (list(book.l2), len(book)) == before
        else:
            book.add(oid, side, price, size)
            ref.add(oid, side, price, size)
    elif kind == "cancel":
        assert book.cancel(oid) == ref.cancel(oid)
    elif kind == "modify":
        new_px = price if flag else None
        err = ref.check_modify(oid, size, new_px)
        if err:
            with pytest.raises((ValueError, OverflowError), match=err):
                book.modify(oid, size, new_px)
        else:
            assert book.modify(oid, size, new_px) == ref.modify(oid, size, new_px)
    else:
        err = ref.check_execute(oid, size)
        if err:
            with pytest.raises(ValueError, match=err):
                book.execute(oid, size)
        else:
            assert book.execute(oid, size) == ref.execute(oid, size)


@given(ops=st.lists(l3_op, max_size=150))
def test_l3_matches_reference(ops: list[tuple[str, int, int, int, int, bool]]) -> None:
    book = L3Book(window=64)
    ref = RefL3()
    for op in ops:
        apply_op(book, ref, op)
        assert_same(book, ref)


def events_of(ops: list[tuple[str, int, int, int, int, bool]], ref: RefL3) -> np.ndarray:
    """The valid operations as L3Event records (the reference applies them as it goes)."""
    codes = {
        "add": L3_ACTION_ADD,
        "cancel": L3_ACTION_CANCEL,
        "modify": L3_ACTION_MODIFY,
        "execute": L3_ACTION_EXECUTE,
    }
    rows = []
    for kind, oid, side, price, size, flag in ops:
        if kind == "add":
            if ref.check_add(oid, side, price, size):
                continue
            ref.add(oid, side, price, size)
        elif kind == "cancel":
            ref.cancel(oid)
        elif kind == "modify":
            if ref.check_modify(oid, size, price if flag else None):
                continue
            ref.modify(oid, size, price if flag else None)
        elif ref.check_execute(oid, size):
            continue
        else:
            ref.execute(oid, size)
        flags = L3_FLAG_KEEP_PRICE if kind == "modify" and not flag else 0
        n = len(rows)
        rows.append(
            (
                100 + n,
                200 + n,
                n,
                oid & MASK64,
                oid >> 64,
                price,
                size,
                7,
                codes[kind],
                side,
                flags,
                0,
            )
        )
    return np.array(rows, dtype=L3_EVENT_DTYPE)


@given(ops=st.lists(l3_op, max_size=200), chunk=st.sampled_from([1, 7, 1000]))
def test_l3_event_batches_match_reference(
    ops: list[tuple[str, int, int, int, int, bool]], chunk: int
) -> None:
    ref = RefL3()
    events = events_of(ops, ref)
    book = L3Book(window=64)
    applied = 0
    for i in range(0, len(events), chunk):
        applied += book.apply_events(events[i : i + chunk])
    assert applied == len(events)
    assert_same(book, ref)
    if len(events):
        assert (book.sequence, book.exchange_ts, book.local_ts) == (
            len(events) - 1,
            100 + len(events) - 1,
            200 + len(events) - 1,
        )


def id_hash(low: int, high: int) -> int:
    """The order index's hash (l3.pyx), to pick ids that share a bucket."""
    x = low ^ ((high * 0x9E3779B97F4A7C15) & MASK64)
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def colliding_ids(home: int, count: int, buckets: int = 64) -> list[int]:
    out: list[int] = []
    i = 0
    while len(out) < count:
        if id_hash(i, 0) % buckets == home:
            out.append(i)
        i += 1
    return out


@pytest.mark.parametrize("home", [5, 62])  # 62: the probe chain wraps past the last bucket
@given(order=st.permutations(list(range(24))), readd=st.lists(st.integers(0, 23), max_size=10))
def test_index_repairs_probe_chains(home: int, order: list[int], readd: list[int]) -> None:
    """24 ids with one home bucket (one cluster in the 64-bucket index): delete them in any
    order, each delete shifting the cluster back, and every remaining id is still found."""
    ids = colliding_ids(home, 24)
    neighbours = colliding_ids((home + 1) % 64, 6)  # ids displaced by the cluster
    book = L3Book()
    ref = RefL3()
    for k, oid in enumerate(ids + neighbours):
        book.add(oid, k & 1, 100 + k, 1 + k)
        ref.add(oid, k & 1, 100 + k, 1 + k)
    for step, j in enumerate(order):
        assert book.cancel(ids[j]) and ref.cancel(ids[j])
        if step < len(readd) and ids[readd[step]] not in ref.orders:
            oid = ids[readd[step]]
            book.add(oid, 1, 500, 3)
            ref.add(oid, 1, 500, 3)
        for oid in ids + neighbours:
            assert (oid in book) == (oid in ref.orders)
            if oid in ref.orders:
                assert book.order(oid) == tuple(ref.orders[oid])
    assert_same(book, ref)


def test_many_orders_through_growth_and_reuse() -> None:
    rng = np.random.default_rng(8)
    book = L3Book(window=256)
    ref = RefL3()
    live: list[int] = []
    next_id = 0
    for _ in range(30_000):
        if live and rng.random() < 0.45:
            oid = live.pop(int(rng.integers(len(live))))
            assert book.cancel(oid) and ref.cancel(oid)
        else:
            oid = int(rng.integers(0, 2**62)) if rng.random() < 0.5 else next_id
            next_id += 1
            if oid in ref.orders:
                continue
            side = int(rng.integers(2))
            price = 10_000 + int(rng.integers(-300, 300))
            book.add(oid, side, price, 1 + int(rng.integers(100)))
            ref.add(oid, side, price, book.order(oid)[2])
            live.append(oid)
    assert len(book) == len(ref.orders)
    for s in (0, 1):
        assert book.levels(s) == ref.levels(s)
    for oid in live[::97]:
        assert book.order(oid) == tuple(ref.orders[oid])
    for (s, p), q in list(ref.queues.items())[:50]:
        assert book.orders_at(s, p) == [(o, ref.orders[o][2]) for o in q]
    book.clear()
    assert len(book) == 0 and book.best_bid is None and all(o not in book for o in live[:100])
    book.add(live[0], 0, 10, 1)
    assert book.order(live[0]) == (0, 10, 1)


def test_order_ids_up_to_128_bits() -> None:
    book = L3Book()
    u = uuid.UUID("7d3c6a52-9f0e-4a8b-b1c2-3d4e5f607182").int
    book.add(u, 0, 100, 5)
    book.add(0, 0, 100, 1)
    book.add(2**64, 0, 100, 2)  # same low half as id 0
    book.add(2**128 - 1, 1, 101, 3)
    assert book.orders_at(0, 100) == [(u, 5), (0, 1), (2**64, 2)]
    assert book.queue_position(2**64) == 6 and book.orders_ahead(2**64) == 2
    assert book.cancel(0) and 2**64 in book and 0 not in book
    for bad, exc in (
        (-1, ValueError),
        (2**128, ValueError),
        (1.0, TypeError),
        (True, TypeError),
        ("7", TypeError),
        (None, TypeError),
    ):
        with pytest.raises(exc, match="order_id"):
            book.add(bad, 0, 100, 1)
        with pytest.raises(exc, match="order_id"):
            book.cancel(bad)
        assert bad not in book
    assert book.unknown_orders == 0
    assert book.add(np.uint64(7), 0, 99, 1) is False and 7 in book


def test_refused_calls_change_nothing() -> None:
    book = L3Book(tick=5)
    book.add(1, 0, 100, I64_MAX - 10)
    book.add(2, 1, 110, 5)
    before = (list(book.l2), [book.order(o) for o in (1, 2)], book.l2.updates)
    attempts: list[tuple[Any, type[Exception], str]] = [
        (lambda: book.add(1, 0, 100, 1), ValueError, "order 1 is already in the book"),
        (lambda: book.add(3, 2, 100, 1), ValueError, "side must be 0 .bid. or 1 .ask., not 2"),
        (lambda: book.add(3, 0, 100, 0), ValueError, "size must be > 0, not 0"),
        (lambda: book.add(3, 0, 101, 1), ValueError, "price 101 is not a multiple of the tick 5"),
        (lambda: book.add(3, 0, 100, 11), OverflowError, "the level at 100"),
        (lambda: book.add(3, 0, 100.0, 1), TypeError, "price must be an int"),
        (lambda: book.execute(2, 6), ValueError, "execute size must be within 1..5, not 6"),
        (lambda: book.execute(2, 0), ValueError, "execute size must be within 1..5, not 0"),
        (lambda: book.modify(2, -1), ValueError, "size must be >= 0, not -1"),
        (lambda: book.modify(2, 1, 112), ValueError, "price 112 is not a multiple"),
        (lambda: book.modify(2, 1.5), TypeError, "size must be an int"),
    ]
    for call, exc, words in attempts:
        with pytest.raises(exc, match=words):
            call()
        assert (list(book.l2), [book.order(o) for o in (1, 2)], book.l2.updates) == before
    # a modify that would overflow the level it moves to
    book.add(3, 0, 95, 20)
    with pytest.raises(OverflowError, match="the level at 100"):
        book.modify(3, 11, 100)
    assert book.order(3) == (0, 95, 20) and book.orders_at(0, 100) == [(1, I64_MAX - 10)]


def test_queue_position_follows_fifo_rules() -> None:
    book = L3Book()
    for oid, size in ((1, 10), (2, 20), (3, 5)):
        book.add(oid, 0, 1000, size)
    assert [book.queue_position(o) for o in (1, 2, 3)] == [0, 10, 30]
    book.execute(1, 4)  # partial fill at the front keeps the order there
    assert book.queue_position(3) == 26 and book.orders_ahead(3) == 2
    book.modify(2, 15)  # smaller: keeps its place
    assert book.orders_at(0, 1000) == [(1, 6), (2, 15), (3, 5)]
    book.modify(1, 7)  # larger: to the back
    assert book.orders_at(0, 1000) == [(2, 15), (3, 5), (1, 7)]
    book.modify(3, 5, 999)  # new price: back of the new level
    assert book.orders_at(0, 999) == [(3, 5)] and book.queue_position(1) == 15
    book.execute(2, 15)  # a full fill removes it
    assert 2 not in book and book.queue_position(1) == 0
    with pytest.raises(KeyError):
        book.queue_position(2)
    assert book.best_bid == 1000 and book.best_bid_size == 7


def test_events_filter_clear_and_errors() -> None:
    rows = [
        (1, 1, 0, 10, 0, 100, 5, 1, L3_ACTION_ADD, 0, 0, 0),
        (2, 2, 1, 11, 0, 100, 6, 2, L3_ACTION_ADD, 0, 0, 0),
        (3, 3, 2, 12, 0, 101, 7, 1, L3_ACTION_ADD, 1, 0, 0),
        (4, 4, 3, 0, 0, 0, 0, 2, L3_ACTION_CLEAR, 0, 0, 0),
        (5, 5, 4, 13, 0, 99, 1, 2, L3_ACTION_ADD, 0, 0, 0),
    ]
    ev = np.array(rows, dtype=L3_EVENT_DTYPE)
    one, two = L3Book(), L3Book()
    assert one.apply_events(ev, instrument_id=1) == 2
    assert list(one.l2) == [(0, 100, 5), (1, 101, 7)] and one.sequence == 2
    assert two.apply_events(ev, instrument_id=2) == 3
    assert list(two.l2) == [(0, 99, 1)] and two.sequence == 4
    # an odd address reads the same
    raw = bytearray(ev.nbytes + 3)
    raw[3:] = ev.tobytes()
    three = L3Book()
    assert three.apply_events(memoryview(raw)[3:]) == 5 and list(three.l2) == [(0, 99, 1)]
    bad = ev.copy()
    bad[2]["action"] = 9
    four = L3Book()
    with pytest.raises(ValueError, match=r"record 2: action must be 1..5 .*not 9"):
        four.apply_events(bad)
    assert len(four) == 2 and four.sequence == 1
    bad = ev.copy()
    bad[1]["order_id"] = 10  # a duplicate add
    with pytest.raises(ValueError, match="record 1: order 10 is already in the book"):
        L3Book().apply_events(bad)
    bad = ev.copy()
    bad[2]["side"] = 3
    with pytest.raises(ValueError, match=r"record 2: side must be 0 \(bid\) or 1 \(ask\), not 3"):
        L3Book().apply_events(bad)
    with pytest.raises(ValueError, match="64-byte"):
        L3Book().apply_events(b"\x00" * 65)
    with pytest.raises(ValueError, match="L3Event"):
        L3Book().apply_events(np.zeros(2, np.int64))
    with pytest.raises(TypeError, match="^instrument_id "):
        L3Book().apply_events(ev, instrument_id=1.0)
    unknown = np.array([(0, 0, 0, 99, 0, 0, 1, 0, L3_ACTION_CANCEL, 0, 0, 0)], L3_EVENT_DTYPE)
    five = L3Book()
    assert five.apply_events(unknown) == 1 and five.unknown_orders == 1


def test_mutators_raise_while_events_apply_without_the_gil() -> None:
    n = 400_000
    ev = np.zeros(2 * n, dtype=L3_EVENT_DTYPE)
    ev["order_id"][0::2] = np.arange(n)
    ev["order_id"][1::2] = np.arange(n)
    ev["action"][0::2] = L3_ACTION_ADD
    ev["action"][1::2] = L3_ACTION_CANCEL
    ev["price"] = 1000 + (np.arange(2 * n) // 2) % 50
    ev["size"] = 1
    book = L3Book()
    started = threading.Event()
    refused: list[str] = []

    def run() -> None:
        started.set()
        book.apply_events(ev)

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    while t.is_alive():
        for attempt in (
            lambda: book.add(10**9, 0, 5, 1),
            lambda: book.cancel(10**9),
            lambda: book.order(5),
            lambda: book.l2.levels(0),
        ):
            try:
                attempt()
            except RuntimeError as exc:
                refused.append(str(exc))
            except (KeyError, ValueError):
                pass  # order 5 not (yet) in the book, or 10**9 added twice: no batch running
    t.join()
    book.cancel(10**9)
    assert len(book) == 0 and book.best_bid is None
    assert all("in another thread" in r for r in refused)
    if not refused:
        pytest.skip("the batch finished before this thread ran")


def test_names_and_repr() -> None:
    from hftcore._ext import book as book_module

    assert book_module.L3Book is hftcore.L3Book is L3Book
    b = L3Book(2, 4)
    b.add(1, 0, 10050, 5000)
    b.add(2, 0, 10050, 2500)
    assert repr(b) == (
        "<L3Book orders 2, bid 100.50 x 0.75 | ask -, levels 1/0, decimals 2/4, tick 1, "
        "sequence 0, unknown ids 0>"
    )
    b.cancel(3)
    assert b.unknown_orders == 1 and "unknown ids 1" in repr(b)
    # the L2 read API is forwarded; writes are not
    assert b.spread is None and b.size_at(0, 10050) == 7500 and b.window == 8192
    with pytest.raises(AttributeError):
        b.apply(0, 1, 1)  # type: ignore[attr-defined]


def test_c_api_names_cimport(tmp_path: Any) -> None:
    """The C API other modules cimport (the engine, decoders) keeps its names."""
    from pathlib import Path

    from Cython.Build import cythonize

    src = Path(hftcore.__file__).parent.parent
    pyx = tmp_path / "uses_books.pyx"
    pyx.write_text(
        "from hftcore._ext.book cimport (L2Book, L2BookC, l2_apply, l2_apply_deltas,\n"
        "    l2_apply_batch, l2_best, l2_level_size, l2_depth, l2_clear, l2_check,\n"
        "    l2_apply_deltas_of, BOOK_TOP, BOOK_INSERT, BOOK_DELETE, BOOK_MISSING,\n"
        "    BOOK_EBADSIDE, BOOK_ECROSSED, CLEAR_BOTH, ALL_INSTRUMENTS)\n"
        "from hftcore._ext.l3 cimport (L3Book, L3BookC, L3Event, OrderId, l3_add, l3_cancel,\n"
        "    l3_modify, l3_execute, l3_apply_events, l3_queue_position, L3_ADD,\n"
        "    L3_UNKNOWN_ORDER)\n"
        "from hftcore._ext.types cimport px_t, qty_t\n"
        "def top(L2Book book):\n"
        "    cdef px_t px\n"
        "    cdef qty_t q\n"
        "    cdef int r = l2_apply(&book.book, 0, 100, 5)\n"
        "    return (r & BOOK_TOP) != 0, l2_best(&book.book, 0, &px, &q), px, q\n"
    )
    cythonize([str(pyx)], include_path=[str(src)], quiet=True, language_level=3, force=True)
    assert (tmp_path / "uses_books.c").stat().st_size > 0
