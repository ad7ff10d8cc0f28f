"""Latency histogram benchmarks (issue 12): record in C (target <= 10 ns), from Python,
percentiles, merge.

The C figure is ``record_many`` over one million int64 values (a nogil loop of the same
inline ``hist_record`` the engine calls).  No histogram package is among the project's
allowed peers; ``numpy.percentile`` over the raw values stands beside our percentile query.
Python ``record(ns)`` is reported gross and net of the empty loop.

Run::

    PYTHONPATH=src python benchmarks/bench_hist.py [--runs 3]
    PYTHONPATH=src python -m pytest benchmarks/bench_hist.py
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hftcore._ext.hist import LatencyHistogram

N = 1_000_000
VALUES = np.random.default_rng(0).lognormal(9, 1.5, N).astype(np.int64)


def record_many_ns() -> float:
    h = LatencyHistogram()
    t0 = time.perf_counter_ns()
    h.record_many(VALUES)
    return (time.perf_counter_ns() - t0) / N


def record_py_ns(n: int = 200_000) -> tuple[float, float]:
    h = LatencyHistogram()
    vals = VALUES[:n].tolist()
    record = h.record
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for v in vals:
            record(v)
        gross = (time.perf_counter_ns() - t0) / n
        t0 = time.perf_counter_ns()
        for _v in vals:
            pass
        empty = (time.perf_counter_ns() - t0) / n
    finally:
        gc.enable()
    return gross, gross - empty


def numpy_percentiles_us() -> float:
    t0 = time.perf_counter_ns()
    np.percentile(VALUES, [50, 99, 99.9])
    return (time.perf_counter_ns() - t0) / 1e3


def hist_percentiles_us() -> float:
    h = LatencyHistogram()
    h.record_many(VALUES)
    t0 = time.perf_counter_ns()
    h.percentiles((50, 99, 99.9))
    return (time.perf_counter_ns() - t0) / 1e3


def merge_us() -> float:
    a, b = LatencyHistogram(), LatencyHistogram()
    b.record_many(VALUES[:1000])
    t0 = time.perf_counter_ns()
    a.merge(b)
    return (time.perf_counter_ns() - t0) / 1e3


CASES: dict[str, Callable[[], Any]] = {
    "hftcore record_many (nogil C loop), ns/value": record_many_ns,
    "hftcore record(ns) from Python, ns (gross, net)": record_py_ns,
    "hftcore percentiles(50, 99, 99.9) of 1 M values, µs": hist_percentiles_us,
    "numpy.percentile of the 1 M raw values, µs": numpy_percentiles_us,
    "hftcore merge, µs": merge_us,
}


def main() -> None:
    ap = argparse.ArgumentParser(description="latency histogram benchmarks")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()}  (best of {args.runs} runs)")
    for name, fn in CASES.items():
        results = [fn() for _ in range(args.runs)]
        if results[0] is None:
            print(f"  {name:<58} (not installed)")
            continue
        if isinstance(results[0], tuple):
            best = tuple(min(r[i] for r in results) for i in range(len(results[0])))
            print(f"  {name:<58} " + " ".join(f"{x:10.2f}" for x in best))
        else:
            print(f"  {name:<58} {min(results):10.2f}")


def test_record_many(benchmark: Any, record: Callable[..., float]) -> None:
    h = LatencyHistogram()
    record(benchmark, "histogram", "hftcore record_many", lambda: h.record_many(VALUES), N)


def test_record_python(benchmark: Any, record: Callable[..., float]) -> None:
    h = LatencyHistogram()
    vals = VALUES[:100_000].tolist()

    def loop() -> None:
        for v in vals:
            h.record(v)

    record(benchmark, "histogram", "hftcore record() from Python", loop, len(vals))


if __name__ == "__main__":
    main()
