"""Ring buffers: publish/read, backpressure modes, claim/commit, broadcast, layout checks."""

from __future__ import annotations

import mmap
import struct
import time

import numpy as np
import pytest

from hftcore._ext.ring import Ring, RingLayoutError, describe_layout, ring_bytes
from hftcore.decoders import BBO_DTYPE, BOOK_DELTA_DTYPE, TRADE_DTYPE


def trades(n: int, start: int = 0) -> np.ndarray:
    a = np.zeros(n, TRADE_DTYPE)
    a["trade_id"] = np.arange(start, start + n)
    a["price"] = 5_000_000 + np.arange(n)
    a["size"] = 7
    a["side"] = 1
    return a


def stamped(n: int, start: int = 0, size: int = 16) -> np.ndarray:
    a = np.zeros((n, size // 8), "<u8")
    a[:, 0] = np.arange(start, start + n)
    return a.view(f"V{size}").reshape(n)


def stamps(records: np.ndarray) -> list[int]:
    return [int(x) for x in records.view("<u8").reshape(len(records), -1)[:, 0]]


# -- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"capacity": 3}, ValueError, "capacity"),
        ({"capacity": 1}, ValueError, "capacity"),
        ({"capacity": 8.0}, TypeError, "capacity"),
        ({"capacity": True}, TypeError, "capacity"),
        ({"consumers": 0}, ValueError, "consumers"),
        ({"consumers": 65}, ValueError, "consumers"),
        ({"consumers": 1.0}, TypeError, "consumers"),
        ({"backpressure": "drop"}, ValueError, "backpressure"),
        ({"stall_timeout": -1}, ValueError, "stall_timeout"),
        ({"stall_timeout": "1"}, TypeError, "stall_timeout"),
        ({"record_size": 40}, ValueError, "record_size"),
        ({"dtype": None}, TypeError, "dtype"),
        ({"dtype": "not a dtype"}, TypeError, "dtype"),
    ],
)
def test_constructor_refuses_bad_arguments(kwargs: dict, exc: type, word: str) -> None:
    args = {"capacity": 8, "dtype": TRADE_DTYPE, **kwargs}
    with pytest.raises(exc, match=word):
        Ring(**args)


def test_raw_slots_and_sizes() -> None:
    r = Ring(16, record_size=24)
    assert r.dtype == np.dtype("V24")
    assert r.record_size == 24 and r.capacity == 16 and r.max_consumers == 1
    assert ring_bytes(16, 24, 1) == r.nbytes
    assert ring_bytes(1024, 64, 2) == 4096 + 1024 * 64
    assert r.backpressure == "block" and r.stall_timeout == 5.0
    assert Ring(16, record_size=8, stall_timeout=None).stall_timeout is None


def test_describe_layout_is_stable_and_distinguishes_layouts() -> None:
    text, lid = describe_layout(TRADE_DTYPE)
    assert describe_layout(np.dtype(TRADE_DTYPE.descr))[1] != 0
    assert describe_layout(TRADE_DTYPE) == (text, lid)
    assert lid != describe_layout(BOOK_DELTA_DTYPE)[1]  # same size, other fields
    assert b"trade_id" in text
    with pytest.raises(TypeError, match="dtype"):
        describe_layout(np.dtype("O"))


# -- publish / read ------------------------------------------------------------------------


def test_publish_and_read_records_round_trip() -> None:
    r = Ring(64, TRADE_DTYPE, consumers=1)
    p, c = r.producer(), r.consumer()
    a = trades(10)
    assert p.publish_batch(a) == 10
    assert p.publish(a[3]) is True  # numpy record
    assert p.publish(a[4:5]) is True  # one-element array
    assert p.publish(a[5].tobytes()) is True  # raw bytes of one record
    out = c.read()
    assert out.dtype == TRADE_DTYPE
    np.testing.assert_array_equal(out[:10], a)
    np.testing.assert_array_equal(out[10:], a[[3, 4, 5]])
    assert c.batch_seq == 0 and c.position == 13 and p.position == 13 and r.head == 13
    assert len(c.read()) == 0


def test_read_into_and_max_records() -> None:
    r = Ring(16, TRADE_DTYPE)
    p, c = r.producer(), r.consumer()
    p.publish_batch(trades(7))
    assert list(c.read(3)["trade_id"]) == [0, 1, 2]
    out = np.zeros(10, TRADE_DTYPE)
    assert c.read_into(out) == 4
    assert list(out["trade_id"][:4]) == [3, 4, 5, 6] and c.batch_seq == 3
    with pytest.raises(TypeError, match="out"):
        c.read_into(np.zeros(4, BBO_DTYPE))
    with pytest.raises(ValueError, match="max_records"):
        c.read(0)
    with pytest.raises(TypeError, match="max_records"):
        c.read(2.0)


def test_refused_publish_changes_nothing() -> None:
    r = Ring(16, TRADE_DTYPE)
    p, c = r.producer(), r.consumer()
    with pytest.raises(TypeError, match="records"):
        p.publish_batch(np.zeros(3, BBO_DTYPE))
    with pytest.raises(TypeError, match="record"):
        p.publish(np.zeros(1, BOOK_DELTA_DTYPE))  # same size, other layout
    with pytest.raises(TypeError, match="record"):
        p.publish(np.zeros(1, BOOK_DELTA_DTYPE)[0])  # a numpy record of that layout
    with pytest.raises(TypeError, match="record"):
        p.publish(np.zeros(1, BBO_DTYPE)[0])
    with pytest.raises(ValueError, match="record"):
        p.publish(b"x" * 47)
    with pytest.raises(ValueError, match="whole number"):
        p.publish_batch(b"x" * 50)
    with pytest.raises(TypeError, match="record"):
        p.publish(12345)
    assert r.head == 0 and p.position == 0 and c.available == 0


def test_raw_ring_takes_any_layout_of_its_size() -> None:
    r = Ring(8, record_size=48)
    p, c = r.producer(), r.consumer()
    p.publish_batch(trades(2))
    p.publish(trades(3)[2])
    assert c.read().view(TRADE_DTYPE)["trade_id"].tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="V48"):
        p.publish(np.zeros(1, BBO_DTYPE)[0])  # 64 bytes


# -- backpressure ---------------------------------------------------------------------------


def test_fail_mode_refuses_when_full_and_counts() -> None:
    r = Ring(8, record_size=16, backpressure="fail")
    p, c = r.producer(), r.consumer()
    assert p.publish_batch(stamped(6)) == 6
    assert p.publish_batch(stamped(5, 6)) == 2  # as many as fit
    assert p.publish(stamped(1, 99)[0]) is False
    assert p.rejected == 4 and r.stats()["rejected"] == 4
    assert stamps(c.read()) == list(range(8))
    assert p.publish(stamped(1, 8)[0]) is True
    assert c.lost == 0


def test_block_mode_times_out_then_proceeds() -> None:
    r = Ring(4, record_size=16, backpressure="block")
    p, c = r.producer(), r.consumer()
    assert p.publish_batch(stamped(4)) == 4
    t0 = time.monotonic()
    assert p.publish(stamped(1, 4)[0], timeout=0.05) is False
    assert time.monotonic() - t0 >= 0.04
    assert p.publish_batch(stamped(3, 4), timeout=0) == 0
    assert stamps(c.read(2)) == [0, 1]
    assert p.publish_batch(stamped(3, 4), timeout=0) == 2  # room for two
    assert stamps(c.read()) == [2, 3, 4, 5]
    assert p.rejected == 0 and c.lost == 0


def test_overwrite_mode_counts_loss_and_sequence_shows_it() -> None:
    r = Ring(8, record_size=16, backpressure="overwrite")
    p, c = r.producer(), r.consumer()
    assert p.publish_batch(stamped(5)) == 5
    assert stamps(c.read(2)) == [0, 1]
    assert p.publish_batch(stamped(15, 5)) == 15  # head 20: records < 12 are gone
    out = c.read()
    assert c.lost == 10
    assert c.batch_seq == 12 and stamps(out) == list(range(12, 20))
    assert r.stats()["consumers"][0]["lost"] == 10


def test_stalled_consumer_is_evicted_and_sees_its_loss() -> None:
    r = Ring(8, record_size=16, stall_timeout=0.05)
    p, slow, fast = r.producer(wait="sleep"), r.consumer(), None
    r2 = Ring(8, record_size=16, consumers=2, stall_timeout=0.05)
    p2 = r2.producer(wait="yield")
    slow, fast = r2.consumer(), r2.consumer()
    assert p2.publish_batch(stamped(8)) == 8
    assert stamps(fast.read()) == list(range(8))
    t0 = time.monotonic()
    assert p2.publish_batch(stamped(8, 8), timeout=5) == 8  # waits, evicts slow, proceeds
    assert 0.04 <= time.monotonic() - t0 < 4
    assert r2.stats()["evictions"] == 1 and slow.evicted == 1
    assert stamps(fast.read()) == list(range(8, 16))
    out = slow.read()  # rejoins: what was overwritten is counted, the rest is read in order
    assert slow.lost == 8 and stamps(out) == list(range(8, 16))
    assert r2.stats()["consumers"][0]["state"] == "active"
    del p, r


def test_no_consumer_means_no_backpressure() -> None:
    r = Ring(4, record_size=16)
    p = r.producer()
    assert p.publish_batch(stamped(100)) == 100
    c = r.consumer(start="oldest")
    assert stamps(c.read()) == [96, 97, 98, 99] and c.lost == 0


# -- claim / commit -------------------------------------------------------------------------


def test_claim_commit_is_contiguous_at_the_wrap() -> None:
    r = Ring(8, record_size=16)
    p, c = r.producer(), r.consumer()
    p.publish_batch(stamped(6))
    c.read()
    view = p.claim(5)
    assert len(view) == 2  # slots 6, 7: the end of the buffer
    view.view("<u8")[::2] = [6, 7]
    del view
    p.commit()
    view = p.claim(5)
    assert len(view) == 5
    view.view("<u8")[::2] = [8, 9, 10, 11, 12]
    del view
    p.commit(3)  # publish the first three only
    assert stamps(c.read()) == [6, 7, 8, 9, 10]
    assert p.position == 11


def test_claim_rules() -> None:
    r = Ring(8, record_size=16, backpressure="fail")
    p, c = r.producer(), r.consumer()
    view = p.claim(2)
    with pytest.raises(RuntimeError, match="commit"):
        p.publish(stamped(1)[0])
    with pytest.raises(BufferError):
        r.release()
    with pytest.raises(ValueError, match="n must be"):
        p.commit(3)
    del view
    p.commit(0)  # cancel
    assert r.head == 0
    p.publish_batch(stamped(8))
    assert len(p.claim(1)) == 0  # full in fail mode
    with pytest.raises(ValueError, match="n must be"):
        p.claim(0)
    assert c.available == 8


# -- roles ----------------------------------------------------------------------------------


def test_broadcast_every_consumer_reads_everything() -> None:
    r = Ring(16, TRADE_DTYPE, consumers=3)
    p = r.producer()
    cs = [r.consumer() for _ in range(3)]
    with pytest.raises(RuntimeError, match="no free consumer"):
        r.consumer()
    p.publish_batch(trades(10))
    for c in cs:
        assert c.read()["trade_id"].tolist() == list(range(10))
    cs[1].close()
    r.consumer()  # the place is free again
    with pytest.raises(ValueError, match="closed"):
        cs[1].read()


def test_single_producer_and_end_of_stream() -> None:
    r = Ring(8, record_size=16)
    p = r.producer()
    with pytest.raises(RuntimeError, match="producer"):
        r.producer()
    c = r.consumer()
    p.publish_batch(stamped(3))
    p.close()
    assert r.closed and not c.end_of_stream
    assert len(c.read(timeout=None)) == 3
    assert c.end_of_stream
    assert len(c.read(timeout=None)) == 0  # returns at once: the stream ended
    with pytest.raises(ValueError, match="closed"):
        p.publish(stamped(1)[0])
    p2 = r.producer()  # the role is free again
    assert p2.position == 3 and not r.closed


def test_read_timeout_waits() -> None:
    r = Ring(8, record_size=16)
    r.producer()
    c = r.consumer(wait="sleep", sleep=0.001)
    t0 = time.monotonic()
    assert len(c.read(timeout=0.05)) == 0
    assert time.monotonic() - t0 >= 0.04
    with pytest.raises(TypeError, match="timeout"):
        c.read(timeout="1")
    with pytest.raises(ValueError, match="wait"):
        r.consumer(wait="busy")


def test_release_closes_users() -> None:
    r = Ring(8, record_size=16)
    p, c = r.producer(), r.consumer()
    r.release()
    assert r.released and p.closed and c.closed
    with pytest.raises(ValueError):
        p.publish(stamped(1)[0])
    with pytest.raises(ValueError):
        r.stats()


# -- layout checks --------------------------------------------------------------------------


def test_attach_checks_layout_and_version() -> None:
    m = mmap.mmap(-1, ring_bytes(16, 64, 2))
    r = Ring(16, BBO_DTYPE, consumers=2, buffer=m)
    p = r.producer()
    a = np.zeros(3, BBO_DTYPE)
    a["bid_price"] = [1, 2, 3]
    other = Ring.attach(m)  # the dtype comes from the ring
    assert other.dtype == BBO_DTYPE and other.layout_id == r.layout_id
    c = other.consumer()
    p.publish_batch(a)
    assert c.read()["bid_price"].tolist() == [1, 2, 3]
    with pytest.raises(RingLayoutError, match="layout") as info:
        Ring.attach(m, TRADE_DTYPE)
    assert "48 bytes" in str(info.value) and "64 bytes" in str(info.value)
    with pytest.raises(RingLayoutError, match="48"):
        Ring.attach(m, record_size=48)
    same_size = np.dtype({"names": ["x"], "formats": ["<i8"], "itemsize": 64})
    with pytest.raises(RingLayoutError, match="layout"):
        Ring.attach(m, same_size)
    assert Ring.attach(m, BBO_DTYPE).layout_id == r.layout_id
    c.close()
    other.release()
    p.close()
    r.release()
    version = struct.unpack_from("<I", m, 8)[0]
    struct.pack_into("<I", m, 8, version + 1)
    with pytest.raises(RingLayoutError, match="version"):
        Ring.attach(m)
    struct.pack_into("<Q", m, 0, 0)
    with pytest.raises(RingLayoutError, match="no hftcore ring"):
        Ring.attach(m)
    with pytest.raises(RingLayoutError):
        Ring.attach(bytearray(100))
    m.close()


def test_buffer_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="buffer"):
        Ring(1024, TRADE_DTYPE, buffer=mmap.mmap(-1, 4096))
    with pytest.raises(TypeError):
        Ring(8, TRADE_DTYPE, buffer=b"read only" * 1000)
