"""Property tests: any interleaving of batch publishes, claims and reads (wrap-around, batch
boundaries, full rings) matches a simple model of sequence numbers."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hftcore._ext.ring import Ring

SIZE = 24


def stamped(n: int, start: int) -> np.ndarray:
    a = np.zeros((n, SIZE // 8), "<u8")
    a[:, 0] = np.arange(start, start + n)
    a[:, 1] = a[:, 0] * 7 + 3  # more content to check
    return a.view(f"V{SIZE}").reshape(n)


def check(records: np.ndarray, first: int) -> None:
    u = records.view("<u8").reshape(len(records), SIZE // 8)
    assert u[:, 0].tolist() == list(range(first, first + len(records)))
    assert (u[:, 1] == u[:, 0] * 7 + 3).all()


ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 40)),
        st.tuples(st.just("claim"), st.integers(1, 40), st.integers(0, 40)),
        st.tuples(st.just("read"), st.integers(0, 2), st.integers(1, 40)),
    ),
    max_size=60,
)


@given(
    cap_log2=st.integers(1, 5),
    mode=st.sampled_from(["block", "fail", "overwrite"]),
    n_consumers=st.integers(1, 3),
    script=ops,
)
def test_ring_matches_model(cap_log2: int, mode: str, n_consumers: int, script: list) -> None:
    cap = 1 << cap_log2
    ring = Ring(cap, record_size=SIZE, consumers=n_consumers, backpressure=mode)
    prod = ring.producer()
    cons = [ring.consumer() for _ in range(n_consumers)]
    head = 0
    tails = [0] * n_consumers
    lost = [0] * n_consumers
    rejected = 0
    claimed = 0  # highest slot the producer was given to write (a cancelled claim counts)
    for op in script:
        free = cap if mode == "overwrite" else cap - (head - min(tails))
        if op[0] == "publish":
            n = op[1]
            got = prod.publish_batch(stamped(n, head), timeout=0)
            expect = n if mode == "overwrite" else min(n, free)
            assert got == expect
            if mode == "fail":
                rejected += n - got
            head += got
        elif op[0] == "claim":
            _, n, commit = op
            view = prod.claim(n, timeout=0)
            expect = min(n, cap - head % cap, free)
            assert len(view) == expect
            claimed = max(claimed, head + len(view))
            k = min(commit, len(view))
            view[:k] = stamped(k, head)
            del view
            prod.commit(k)
            head += k
        else:
            _, which, m = op
            i = which % n_consumers
            out = cons[i].read(m)
            low = max(head, claimed) - cap  # older slots were (or may have been) rewritten
            if tails[i] < low:
                lost[i] += low - tails[i]
                tails[i] = low
            expect = min(m, head - tails[i])
            assert len(out) == expect
            if expect:
                assert cons[i].batch_seq == tails[i]
                check(out, tails[i])
            tails[i] += expect
            assert cons[i].lost == lost[i]
            assert cons[i].position == tails[i]
        assert ring.head == head == prod.position
        assert prod.rejected == rejected
    if mode != "overwrite":
        assert lost == [0] * n_consumers


@given(
    cap_log2=st.integers(1, 6),
    batches=st.lists(st.integers(1, 100), min_size=1, max_size=20),
    read_sizes=st.lists(st.integers(1, 100), min_size=1, max_size=20),
)
def test_overwrite_reader_sees_every_record_or_counts_it(
    cap_log2: int, batches: list[int], read_sizes: list[int]
) -> None:
    """Whatever the interleaving, read + lost == published and reads are in order."""
    cap = 1 << cap_log2
    ring = Ring(cap, record_size=SIZE, backpressure="overwrite")
    prod, cons = ring.producer(), ring.consumer()
    head = 0
    seen: list[int] = []
    for i, n in enumerate(batches):
        prod.publish_batch(stamped(n, head))
        head += n
        out = cons.read(read_sizes[i % len(read_sizes)])
        if len(out):
            check(out, cons.batch_seq)
            seen += out.view("<u8").reshape(len(out), 3)[:, 0].tolist()
    prod.close()
    while len(out := cons.read(1000)):
        check(out, cons.batch_seq)
        seen += out.view("<u8").reshape(len(out), 3)[:, 0].tolist()
    assert seen == sorted(set(seen))
    assert len(seen) + cons.lost == head
