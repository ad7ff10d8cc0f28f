"""L2Book input checks (issue 8): the scalar and batch paths refuse the same inputs with the
same errors naming the parameter, a refused call changes nothing, and results are exact."""

from __future__ import annotations

import enum
import threading
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hftcore
from hftcore import L2Book, L3Book
from hftcore._ext.book import (
    BOOK_DELTA_DTYPE,
    DELTA_FLAG_CLEAR,
    DELTA_FLAG_CLEAR_SIDE,
    CrossedBookError,
)

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def book_with_levels(**kw: Any) -> L2Book:
    b = L2Book(**kw)
    for i in range(5):
        b.apply(0, 1000 - 5 * i, 10 + i)
        b.apply(1, 1010 + 5 * i, 20 + i)
    return b


def state(b: L2Book) -> tuple[object, ...]:
    return (list(b), b.updates, b.missing_deletes, b.crosses, b.dropped, b.sequence)


# ----------------------------------------------------------------------------------------------
# The same refusals on the scalar and the batch path
# ----------------------------------------------------------------------------------------------

# (side, price, size) -> (exception type, words the message must contain)
BAD_ROWS: list[tuple[tuple[object, object, object], type[Exception], str]] = [
    ((2, 1000, 1), ValueError, "side must be 0 (bid) or 1 (ask), not 2"),
    ((-1, 1000, 1), ValueError, "side must be 0 (bid) or 1 (ask), not -1"),
    ((2**32, 1000, 1), ValueError, "side must be 0 (bid) or 1 (ask), not 4294967296"),
    ((0, 1000, -1), ValueError, "size must be >= 0, not -1"),
    ((0, 1001, 1), ValueError, "price 1001 is not a multiple of the tick 5"),
    ((0, 2**63, 1), OverflowError, "price"),
    ((0, 1000, -(2**63) - 1), OverflowError, "size"),
    ((0, 1000.0, 1), TypeError, "price must be an int, not float"),
    ((0, 1000, 1.5), TypeError, "size must be an int, not float"),
    ((0.0, 1000, 1), TypeError, "side must be an int, not float"),
    ((True, 1000, 1), TypeError, "side must be an int, not bool"),
    ((0, "1000", 1), TypeError, "price must be an int, not str"),
    ((0, None, 1), TypeError, "price must be an int, not NoneType"),
]


@pytest.mark.parametrize(("row", "exc", "words"), BAD_ROWS)
def test_scalar_and_batch_refuse_the_same_rows(
    row: tuple[object, object, object], exc: type[Exception], words: str
) -> None:
    b = book_with_levels(tick=5)
    before = state(b)
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        b.apply(*row)
    assert state(b) == before
    # the batch: one good row, then the bad one (lists, as a user passes them)
    good = (0, 975, 7)
    batch_exc: type[Exception] = exc
    with pytest.raises(batch_exc) as info:
        b.apply_batch(*([g, r] for g, r in zip(good, row, strict=True)))
    text = str(info.value)
    assert words.split(" ")[0] in text
    if exc is ValueError:  # a row the arrays can hold: the C batch names it
        assert text == f"row 1: {words}", text
        assert b.size_at(0, 975) == 7  # rows before the bad one stay applied
    else:  # refused while converting the arrays: nothing applied
        assert b.size_at(0, 975) == 0


def test_batch_side_is_not_truncated_to_c_int() -> None:
    # 2**32 was applied as a bid (truncated to int 0) while apply refused it
    b = L2Book()
    with pytest.raises(ValueError, match="row 0: side must be 0"):
        b.apply_batch(np.array([2**32], np.int64), np.array([100]), np.array([1]))
    with pytest.raises(ValueError, match="row 0: side must be 0"):
        b.apply_batch(np.array([-(2**32) + 1], np.int64), np.array([100]), np.array([1]))
    assert len(b) == 0


@pytest.mark.parametrize(
    "arrays",
    [
        (np.array([0.0]), np.array([100]), np.array([1])),
        (np.array([0]), np.array([100.7]), np.array([1])),
        (np.array([0]), np.array([100]), np.array([1.9], np.float32)),
        (np.array([0]), np.array([100], dtype=object), np.array([1.5], dtype=object)),
        ([0], [100.7], [1]),
        ([0], [100], [True]),
        (np.array([False]), np.array([100]), np.array([1])),
        (np.array(["0"]), np.array([100]), np.array([1])),
    ],
)
def test_batch_refuses_floats_bools_and_text(arrays: tuple[Any, Any, Any]) -> None:
    b = L2Book()
    with pytest.raises(TypeError, match="sides|prices|sizes"):
        b.apply_batch(*arrays)
    assert len(b) == 0 and b.updates == 0


def test_batch_accepts_every_integer_width_and_refuses_uint64_past_int64() -> None:
    b = L2Book()
    assert b.apply_batch(np.array([0, 1], np.uint8), np.array([5, 9], np.int16), [3, 4]) == 2
    assert list(b) == [(0, 5, 3), (1, 9, 4)]
    with pytest.raises(OverflowError, match="prices"):
        b.apply_batch(np.array([0], np.uint64), np.array([2**63], np.uint64), np.array([1]))
    with pytest.raises(OverflowError, match="prices"):
        b.apply_batch([0], [2**63], [1])  # numpy would make this float64
    with pytest.raises(OverflowError, match="prices"):
        b.apply_batch([0], [2**64], [1])  # an object array
    assert list(b) == [(0, 5, 3), (1, 9, 4)]
    assert b.apply_batch([], [], []) == 0


def test_structured_batch_fields_are_checked_like_arrays() -> None:
    b = L2Book()
    packed = np.zeros(3, dtype=np.dtype([("side", "u1"), ("price", "<i8"), ("size", "<i8")]))
    packed["side"] = [0, 1, 0]
    packed["price"] = [100, 105, 99]
    packed["size"] = [1, 2, 3]
    assert packed.dtype.itemsize == 17  # packed: fields at odd offsets
    assert b.apply_batch(packed) == 3
    assert list(b) == [(0, 100, 1), (0, 99, 3), (1, 105, 2)]
    # one row: numpy calls the odd-address field views contiguous; C must still not load
    # 8 bytes from them at once (UBSan under the sanitizer build)
    one = L2Book()
    assert one.apply_batch(packed[1:2]) == 1 and list(one) == [(1, 105, 2)]
    raw = np.zeros(3 * 8 + 1, np.uint8)
    odd = np.frombuffer(raw.data, dtype=np.int64, count=3, offset=1)
    odd[:] = [100, 101, 102]
    assert not odd.flags.aligned
    two = L2Book()
    assert two.apply_batch(np.zeros(3, np.int64), odd, odd - 99) == 3
    assert two.levels(0) == [(102, 3), (101, 2), (100, 1)]
    with pytest.raises(ValueError, match="aligned"):
        two.depth_into(0, odd, np.zeros(3, np.int64))
    floats = np.zeros(1, dtype=[("side", "u1"), ("price", "<f8"), ("size", "<i8")])
    with pytest.raises(TypeError, match="price"):
        b.apply_batch(floats)


def aligned_and_shifted(recs: np.ndarray) -> memoryview:
    """The records' bytes at an address that is not a multiple of 8."""
    raw = bytearray(recs.nbytes + 1)
    raw[1:] = recs.tobytes()
    return memoryview(raw)[1:]


def test_records_at_an_odd_address_apply_the_same() -> None:
    # under UBSan (HFTCORE_DEBUG sanitizer build) the old code did misaligned 8-byte loads
    recs = np.zeros(70, dtype=BOOK_DELTA_DTYPE)
    recs["side"] = np.arange(70) % 2
    recs["price"] = 1000 + np.arange(70) * np.where(np.arange(70) % 2, 1, -1)
    recs["size"] = np.arange(70) + 1
    recs["sequence"] = np.arange(70)
    shifted = aligned_and_shifted(recs)
    assert (np.frombuffer(shifted, np.uint8).ctypes.data % 8) != 0
    a, b = L2Book(), L2Book()
    assert a.apply_deltas(recs) == b.apply_deltas(shifted) == 70
    assert list(a) == list(b) and a.sequence == b.sequence == 69
    # a numpy view at an odd offset too
    view = np.frombuffer(bytes(shifted), dtype=np.uint8)
    c = L2Book()
    c.apply_deltas(view[: 48 * 70].view(np.uint8).tobytes())
    assert list(c) == list(a)


# ----------------------------------------------------------------------------------------------
# Every entry point: int only, errors name the parameter
# ----------------------------------------------------------------------------------------------

CALLS: list[tuple[str, Any]] = [
    ("n", lambda b: b.depth(2.0)),
    ("n", lambda b: b.levels(0, 2.0)),
    ("side", lambda b: b.levels(0.0)),
    ("i", lambda b: b.level(0, 1.0)),
    ("price", lambda b: b.size_at(0, 100.0)),
    ("price", lambda b: b.volume_within(0, 99.5)),
    ("size", lambda b: b.cost(1, 2.5)),
    ("size", lambda b: b.vwap(1, 2.5)),
    ("size", lambda b: b.price_for_size(1, "3")),
    ("n", lambda b: b.imbalance(1.0)),
    ("extra_decimals", lambda b: b.microprice(2.0)),
    ("depth", lambda b: b.truncate(1.5)),
    ("side", lambda b: b.clear(0.0)),
    ("venue", lambda b: b.checksum(5)),
    ("instrument_id", lambda b: b.apply_deltas(np.zeros(1, BOOK_DELTA_DTYPE), 1.0)),
    ("prices", lambda b: b.depth_into(0, np.zeros(4), np.zeros(4, np.int64))),
    ("sizes", lambda b: b.depth_into(0, np.zeros(4, np.int64), [0, 0])),
    ("sequence", lambda b: setattr(b, "sequence", 1.5)),
    ("exchange_ts", lambda b: setattr(b, "exchange_ts", "1")),
    ("price_decimals", lambda b: L2Book(2.0)),
    ("size_decimals", lambda b: L2Book(2, 8.0)),
    ("tick", lambda b: L2Book(tick=0.5)),
    ("max_depth", lambda b: L2Book(max_depth=10.0)),
    ("window", lambda b: L2Book(window=64.0)),
    ("cross_policy", lambda b: L2Book(cross_policy=1)),
]


@pytest.mark.parametrize(
    ("name", "call"), CALLS, ids=[f"{n}-{k}" for k, (n, _) in enumerate(CALLS)]
)
def test_wrong_types_raise_type_error_naming_the_parameter(name: str, call: Any) -> None:
    b = book_with_levels()
    before = state(b)
    with pytest.raises(TypeError, match=f"^{name} "):
        call(b)
    assert state(b) == before


def test_int_like_arguments_are_accepted() -> None:
    class Code(enum.IntEnum):
        BID = 0

    b = L2Book(np.int64(2), np.int8(3), tick=np.int32(1), window=np.uint16(64))
    assert b.apply(hftcore.Side.BUY, np.int64(100), np.uint8(5))
    assert b.apply(Code.BID, 99, 1) is False
    assert b.levels(np.int64(0), np.int64(1)) == [(100, 5)]
    assert b.depth(np.int16(1))[0].tolist() == [100]


@pytest.mark.parametrize("window", [3, -8, 0, 32, 96, 2**26 + 1, 2**27])
def test_window_must_be_a_power_of_two_in_range(window: int) -> None:
    with pytest.raises(ValueError, match="window must be a power of two"):
        L2Book(window=window)
    with pytest.raises(ValueError, match="window must be a power of two"):
        L3Book(window=window)


def test_window_powers_of_two_are_kept() -> None:
    for w in (64, 128, 2**20):
        assert L2Book(window=w).window == w


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"price_decimals": 19}, "price_decimals must be within 0..18"),
        ({"size_decimals": -1}, "size_decimals must be within 0..18"),
        ({"tick": 0}, "tick must be within 1.."),
        ({"max_depth": -1}, "max_depth must be within 0.."),
        ({"cross_policy": "sometimes"}, "cross_policy must be one of"),
    ],
)
def test_constructor_ranges(kw: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        L2Book(**kw)


# ----------------------------------------------------------------------------------------------
# Allocation by what is there, exact arithmetic
# ----------------------------------------------------------------------------------------------


def test_depth_allocates_by_the_levels_present() -> None:
    b = book_with_levels()
    bp, bs, ap, az = b.depth(2**62)  # used to allocate n slots per array
    assert bp.tolist() == [1000, 995, 990, 985, 980] and az.tolist() == [20, 21, 22, 23, 24]
    assert all(a.dtype == np.int64 for a in (bp, bs, ap, az))
    assert [len(a) for a in L2Book().depth(I64_MAX)] == [0, 0, 0, 0]
    assert len(b.levels(1, I64_MAX)) == 5


def test_depth_results_are_independent_and_writeable() -> None:
    b = book_with_levels()
    first = b.depth(3)
    for a in first:
        a[:] = -7  # the caller owns its arrays
    second = b.depth(3)
    assert second[0].tolist() == [1000, 995, 990]
    assert first[0].tolist() == [-7, -7, -7]
    held = [b.depth(k) for k in range(6)]
    b.apply(0, 1000, 0)
    for k, t in enumerate(held):
        assert t[0].tolist() == [1000, 995, 990, 985, 980][:k]
    many = [b.depth(5) for _ in range(200)]  # spans several slabs
    assert all(t[0].tolist() == [995, 990, 985, 980] for t in many)


def test_depth_into_checks_its_arrays() -> None:
    b = book_with_levels()
    out = np.zeros(8, np.int64)
    with pytest.raises(ValueError, match="overlap"):
        b.depth_into(0, out, out)
    with pytest.raises(ValueError, match="one-dimensional"):
        b.depth_into(0, np.zeros((2, 4), np.int64), np.zeros(8, np.int64))
    ro = np.zeros(4, np.int64)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        b.depth_into(0, np.zeros(4, np.int64), ro)
    with pytest.raises(ValueError, match="side"):
        b.depth_into(2, np.zeros(4, np.int64), np.zeros(4, np.int64))
    p, q = np.zeros(3, np.int64), np.zeros(9, np.int64)
    assert b.depth_into(1, p, q) == 3 and p.tolist() == [1010, 1015, 1020]
    assert b.depth_into(0, out[:4], out[4:]) == 4  # disjoint halves of one array
    assert out.tolist() == [1000, 995, 990, 985, 10, 11, 12, 13]


def test_imbalance_is_exact_for_sizes_near_int64() -> None:
    b = L2Book()
    big = 2**62
    b.apply(0, 100, big)
    b.apply(0, 99, big)  # bid volume 2**63 > int64: used to wrap to -2**63 (gave 3.0)
    b.apply(1, 101, big)
    assert b.imbalance(2) == float(Fraction(2 * big - big, 2 * big + big)) == 1 / 3
    b.apply(0, 98, big)
    b.apply(1, 102, 1)
    got = b.imbalance(3)
    assert got == float(Fraction(3 * big - big - 1, 4 * big + 1))
    assert b.imbalance(1) == 0.0
    assert b.imbalance(0) is None


@given(
    bid=st.integers(I64_MIN, I64_MAX),
    ask=st.integers(I64_MIN, I64_MAX),
    bq=st.integers(1, I64_MAX),
    aq=st.integers(1, I64_MAX),
    extra=st.integers(0, 18),
)
def test_microprice_is_an_exact_int(bid: int, ask: int, bq: int, aq: int, extra: int) -> None:
    b = L2Book()
    b.apply(0, bid, bq)
    b.apply(1, ask, aq)
    got = b.microprice(extra)
    assert type(got) is int
    exact = Fraction(bid * aq + ask * bq, aq + bq) * 10**extra
    assert abs(got - exact) <= Fraction(1, 2)
    if abs(got - exact) == Fraction(1, 2):
        assert got % 2 == 0  # half to even


def test_microprice_extra_decimals_range_is_checked_first() -> None:
    with pytest.raises(ValueError, match="extra_decimals"):
        L2Book().microprice(19)  # also on an empty book
    b = book_with_levels()
    assert b.microprice(12) == (1000 * 20 + 1010 * 10) * 10**12 // 30  # exact (was a float)


def test_walk_sums_stay_exact() -> None:
    b = L2Book(window=64)
    for i in range(4):
        b.apply(1, I64_MAX - i, I64_MAX)
    assert b.volume_within(1, I64_MAX) == 4 * I64_MAX
    filled, notional, worst = b.cost(1, I64_MAX)
    assert (filled, notional, worst) == (I64_MAX, (I64_MAX - 3) * I64_MAX, I64_MAX - 3)
    assert b.vwap(1, I64_MAX) == I64_MAX - 3


@given(
    levels=st.lists(
        st.tuples(st.integers(0, 1), st.integers(-60, 60), st.integers(1, 99)), max_size=40
    ),
    tick=st.sampled_from([1, 3, 10]),
    probe=st.integers(-700, 700),
)
def test_volume_within_any_price(levels: list[tuple[int, int, int]], tick: int, probe: int) -> None:
    b = L2Book(tick=tick, window=64)
    ref: list[dict[int, int]] = [{}, {}]
    for side, k, size in levels:
        b.apply(side, k * tick, size)
        ref[side][k * tick] = size
    # off-grid probes included: bids at or above the price, asks at or below it
    assert b.volume_within(0, probe) == sum(q for p, q in ref[0].items() if p >= probe)
    assert b.volume_within(1, probe) == sum(q for p, q in ref[1].items() if p <= probe)


# ----------------------------------------------------------------------------------------------
# BookDelta records: validated before a clear, filtered by instrument
# ----------------------------------------------------------------------------------------------


def deltas(rows: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """(instrument_id, side, price, size, flags) rows, sequence = row index."""
    recs = np.zeros(len(rows), dtype=BOOK_DELTA_DTYPE)
    for i, (iid, side, price, size, flags) in enumerate(rows):
        recs[i] = (10 + i, 20 + i, i, price, size, iid, side, flags, 0)
    return recs


def test_apply_deltas_of_one_instrument() -> None:
    recs = deltas(
        [
            (1, 0, 100, 5, 0),
            (2, 0, 200, 7, DELTA_FLAG_CLEAR),  # clears only when applied
            (1, 1, 101, 3, 0),
            (2, 1, 201, 9, 0),
        ]
    )
    one, two, both = L2Book(), L2Book(), L2Book()
    one.apply(0, 50, 1)
    assert one.apply_deltas(recs, instrument_id=1) == 2
    assert list(one) == [(0, 100, 5), (0, 50, 1), (1, 101, 3)]
    assert (one.sequence, one.exchange_ts, one.local_ts) == (2, 12, 22)
    assert two.apply_deltas(recs, instrument_id=2) == 2
    assert list(two) == [(0, 200, 7), (1, 201, 9)] and two.sequence == 3
    assert both.apply_deltas(recs) == 4
    assert list(both) == [(0, 200, 7), (1, 101, 3), (1, 201, 9)]
    assert L2Book().apply_deltas(recs, instrument_id=3) == 0
    with pytest.raises(ValueError, match="instrument_id must be within 0..4294967295"):
        L2Book().apply_deltas(recs, instrument_id=-1)


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ((0, 2, 100, 5, DELTA_FLAG_CLEAR), "side must be 0 (bid) or 1 (ask), not 2"),
        ((0, 0, 100, -5, DELTA_FLAG_CLEAR), "size must be >= 0, not -5"),
        ((0, 0, 101, 5, DELTA_FLAG_CLEAR), "price 101 is not a multiple of the tick 2"),
        ((0, 2, 100, 0, DELTA_FLAG_CLEAR_SIDE), "side must be 0 (bid) or 1 (ask), not 2"),
        ((0, 1, 100, 5, DELTA_FLAG_CLEAR_SIDE), "the update would cross the book: ask at 100"),
    ],
)
def test_a_bad_clearing_record_changes_nothing(
    row: tuple[int, int, int, int, int], words: str
) -> None:
    b = L2Book(tick=2, cross_policy="raise")
    b.apply(0, 200, 1)
    b.apply(1, 300, 1)
    before = state(b)
    recs = deltas([(0, 0, 198, 4, 0), row])
    exc = CrossedBookError if "cross" in words else ValueError
    with pytest.raises(exc, match="record 1: " + words.replace("(", r"\(").replace(")", r"\)")):
        b.apply_deltas(recs)
    # the first record applied, the bad one cleared nothing
    assert list(b) == [(0, 200, 1), (0, 198, 4), (1, 300, 1)]
    assert b.sequence == 0 and b.updates == before[1] + 1


def test_apply_deltas_refuses_what_is_not_records() -> None:
    b = L2Book()
    with pytest.raises(TypeError, match="records"):
        b.apply_deltas(12)
    with pytest.raises(ValueError, match="BookDelta"):
        b.apply_deltas(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="48-byte"):
        b.apply_deltas(b"\x00" * 47)


# ----------------------------------------------------------------------------------------------
# All-or-nothing snapshot, the L3 view, repr, threads
# ----------------------------------------------------------------------------------------------


def test_apply_snapshot_is_all_or_nothing() -> None:
    assert hftcore.CrossedBookError is CrossedBookError  # public name
    b = book_with_levels(tick=5, cross_policy="raise")
    before = state(b)
    with pytest.raises(ValueError, match="row 2: price 7 is not a multiple of the tick 5"):
        b.apply_snapshot([0, 0, 1], [500, 495, 7], [1, 2, 3])
    assert state(b) == before
    with pytest.raises(CrossedBookError, match="row 1"):
        b.apply_snapshot([1, 1], [1020, 900], [1, 1], side=1)
    assert state(b) == before
    with pytest.raises(ValueError, match="holds levels of another side"):
        b.apply_snapshot([0, 1], [1, 2], [1, 1], side=1)
    assert b.apply_snapshot([1, 1], [1100, 1105], [4, 5], side=1) == 2
    assert b.levels(1) == [(1100, 4), (1105, 5)] and len(b.levels(0)) == 5
    assert b.updates == before[1] + 2
    assert b.apply_snapshot([0], [5], [1]) == 1 and list(b) == [(0, 5, 1)]


def test_the_l3_aggregate_view_refuses_writes() -> None:
    l3 = L3Book()
    l3.add(1, 0, 100, 5)
    view = l3.l2
    for write in (
        lambda: view.apply(0, 100, 1),
        lambda: view.apply_batch([0], [100], [1]),
        lambda: view.apply_deltas(deltas([(0, 0, 100, 1, 0)])),
        lambda: view.apply_snapshot([0], [100], [1]),
        lambda: view.clear(),
        lambda: view.truncate(0),
    ):
        with pytest.raises(RuntimeError, match="L3Book"):
            write()
    assert view.levels(0) == [(100, 5)] and l3.order(1) == (0, 100, 5)


def test_repr_shows_the_top_of_the_book() -> None:
    b = L2Book(1, 8, tick=5)
    assert repr(b) == "<L2Book bid - | ask -, levels 0/0, decimals 1/8, tick 5, sequence 0>"
    b.apply(0, 500000, 50_000_000)
    b.apply(0, 499995, 1)
    b.apply(1, 500010, 12_000_000)
    b.sequence = 42
    assert repr(b) == (
        "<L2Book bid 50000.0 x 0.5 | ask 50001.0 x 0.12, levels 2/1, decimals 1/8, tick 5, "
        "sequence 42>"
    )
    b.apply(0, 500010, 1)
    assert "locked" in repr(b)


def test_writers_raise_while_a_nogil_batch_runs() -> None:
    b = L2Book()
    n = 2_000_000
    sides = np.zeros(n, np.int64)
    prices = np.arange(n, dtype=np.int64) % 1000
    sizes = np.ones(n, np.int64)
    started = threading.Event()
    refused: list[str] = []

    def run() -> None:
        started.set()
        b.apply_batch(sides, prices, sizes)

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    while t.is_alive():  # bounded by the batch; each attempt is refused or applies whole
        for attempt in (
            lambda: b.apply(0, 5000, 1),
            lambda: b.apply(0, 5000, 0),
            lambda: b.depth(5),
            lambda: b.levels(0),
        ):
            try:
                attempt()
            except RuntimeError as exc:
                refused.append(str(exc))
    t.join()
    b.apply(0, 5000, 0)
    assert b.levels(0) == [(p, 1) for p in range(999, -1, -1)]
    assert all("batch in another thread" in r for r in refused)
    if not refused:
        pytest.skip("the batch finished before this thread ran")
