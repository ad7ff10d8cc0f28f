"""Latency histogram: percentiles against numpy, bucket layout, merge/reset/export."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftcore._ext.hist import BUCKETS, MAX_VALUE, LatencyHistogram

PS = (0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100)


def exact(values: np.ndarray, p: float) -> int:
    return int(np.percentile(values, p, method="inverted_cdf"))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dist", ["lognormal", "uniform", "exponential", "wide"])
def test_percentiles_within_one_percent_of_numpy(seed: int, dist: str) -> None:
    rng = np.random.default_rng(seed)
    n = 50_000
    if dist == "lognormal":
        x = rng.lognormal(9, 2, n)
    elif dist == "uniform":
        x = rng.uniform(1, 10_000, n)
    elif dist == "exponential":
        x = rng.exponential(20_000, n)
    else:  # 1 ns .. 60 s, every decade
        x = 10 ** rng.uniform(0, np.log10(60e9), n)
    values = np.maximum(x.astype(np.int64), 1)
    h = LatencyHistogram()
    h.record_many(values)
    assert h.count == n and h.sum == int(values.sum())
    assert h.min == values.min() and h.max == values.max()
    for p in PS:
        want = exact(values, p)
        got = h.percentile(p)
        assert abs(got - want) <= 0.01 * want, (p, got, want)


@given(st.lists(st.integers(0, MAX_VALUE), min_size=1, max_size=300), st.floats(0, 100))
def test_any_values_any_percentile(values: list[int], p: float) -> None:
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    want = exact(np.array(values), p)
    got = h.percentile(p)
    assert abs(got - want) <= max(0.01 * want, 0)
    assert h.count == len(values) and h.sum == sum(values)


def test_bucket_layout_covers_every_value_once() -> None:
    low, high = LatencyHistogram.bounds()
    assert len(low) == BUCKETS and low[0] == 0 and high[-1] == MAX_VALUE
    assert (low[1:] == high[:-1] + 1).all()
    width = high - low + 1
    assert (width[:256] == 1).all()
    assert (width[256:] <= np.maximum(low[256:], 1) / 128).all()  # ≤ 0.78% of the value
    h = LatencyHistogram()
    for v in (0, 1, 255, 256, 257, 511, 512, 10**9, 60 * 10**9, MAX_VALUE):
        h.reset()
        h.record(v)
        (b,) = h.buckets()
        assert b["low"] <= v <= b["high"] and b["count"] == 1
        assert h.percentile(50) == v  # one value: min == max clamps it exactly


def test_out_of_range_values_are_clamped_and_counted() -> None:
    h = LatencyHistogram()
    h.record(-5)
    h.record(MAX_VALUE + 1)
    h.record(10**30)
    h.record(100)
    assert h.saturated == 3 and h.count == 4
    assert h.min == 0 and h.max == MAX_VALUE


def test_refuses_non_integers() -> None:
    h = LatencyHistogram()
    for bad in (1.5, "10", None, True):
        with pytest.raises(TypeError, match="ns"):
            h.record(bad)
    with pytest.raises(TypeError, match="values"):
        h.record_many(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="percentile"):
        h.percentile(101)
    with pytest.raises(TypeError, match="percentile"):
        h.percentile("50")
    assert h.count == 0


def test_merge_reset_copy_serialize() -> None:
    rng = np.random.default_rng(7)
    a_vals = rng.integers(1, 10**6, 1000)
    b_vals = rng.integers(10**6, 10**9, 1000)
    a, b = LatencyHistogram(), LatencyHistogram()
    a.record_many(a_vals)
    b.record_many(b_vals)
    both = a.copy()
    both.merge(b)
    assert both.count == 2000 and both.min == a_vals.min() and both.max == b_vals.max()
    joined = np.concatenate([a_vals, b_vals])
    assert abs(both.percentile(50) - exact(joined, 50)) <= 0.01 * exact(joined, 50)
    assert a.count == 1000  # copy is independent
    assert (both.counts() == a.counts() + b.counts()).all()
    back = pickle.loads(pickle.dumps(both))
    assert back.summary() == both.summary() and (back.counts() == both.counts()).all()
    with pytest.raises(ValueError):
        LatencyHistogram.from_bytes(b"nope")
    both.reset()
    assert both.count == 0 and both.min is None and both.percentile(99) == 0
    assert both.counts().sum() == 0 and len(both.buckets()) == 0
    empty = LatencyHistogram()
    empty.merge(LatencyHistogram())
    assert empty.min is None and "empty" in repr(empty)


def test_summary_and_count_at_or_below() -> None:
    h = LatencyHistogram()
    h.record_many(np.arange(1, 1001))
    s = h.summary()
    assert s["count"] == 1000 and s["min"] == 1 and s["max"] == 1000
    assert s["mean"] == pytest.approx(500.5)
    assert abs(s["p99"] - 990) <= 10 and abs(s["p50"] - 500) <= 5
    assert h.count_at_or_below(255) == 255
    assert abs(h.count_at_or_below(800) - 800) <= 8
    assert h.count_at_or_below(10**12) == 1000
