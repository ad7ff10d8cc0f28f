"""Fixed-point parse/format against Decimal, float and NautilusTrader's Price.

Run: ``python -m pytest benchmarks/bench_fixed.py --benchmark-json=.benchmarks/fixed.json``.
Targets (issue 2): parse from str <= 60 ns net, nogil buffer parse <= 10 ns, format <= 80 ns net.
"Net" subtracts the empty ``for s in items: pass`` loop measured in the same run.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from hftcore import fixed

N = 200_000
rng = random.Random(20261121)
# 2,000 distinct prices cycled: text a hot path parses was just received and sits in cache
# (200,000 distinct strings would measure cache misses, ~200 ns even for float(s), instead).
DISTINCT = [f"{rng.randint(1, 99_999_999) / 100:.2f}" for _ in range(2_000)]  # "50123.45"
PRICES = DISTINCT * (N // len(DISTINCT))
RAWS = [fixed.parse(s, 2) for s in PRICES]
TEN_CHAR = [f"{rng.randint(0, 99_999_999) / 1e4:010.4f}" for _ in range(1_000_000)]
BUFFER = "\n".join(TEN_CHAR).encode()

GROUP_PARSE = "parse str -> int (2 decimals)"
GROUP_FORMAT = "format int -> str (2 decimals)"


def test_empty_loop(benchmark: Any, record: Any) -> None:
    def loop() -> None:
        for _s in PRICES:
            pass

    record(benchmark, GROUP_PARSE, "empty loop (baseline)", loop, N)


def test_hftcore_parse(benchmark: Any, record: Any) -> None:
    parse = fixed.parse

    def loop() -> None:
        for s in PRICES:
            parse(s, 2)

    record(benchmark, GROUP_PARSE, "hftcore.fixed.parse", loop, N)


def test_decimal(benchmark: Any, record: Any) -> None:
    def loop() -> None:
        for s in PRICES:
            Decimal(s)

    record(benchmark, GROUP_PARSE, "Decimal(s)", loop, N)


def test_decimal_to_int(benchmark: Any, record: Any) -> None:
    def loop() -> None:
        for s in PRICES:
            int(Decimal(s).scaleb(2))

    record(benchmark, GROUP_PARSE, "int(Decimal(s).scaleb(2))", loop, N)


def test_float(benchmark: Any, record: Any) -> None:
    def loop() -> None:
        for s in PRICES:
            float(s)

    record(benchmark, GROUP_PARSE, "float(s) (inexact)", loop, N)


def test_nautilus_price_from_str(benchmark: Any, record: Any) -> None:
    model = pytest.importorskip("nautilus_trader.model.objects")
    from_str = model.Price.from_str

    def loop() -> None:
        for s in PRICES:
            from_str(s)

    record(benchmark, GROUP_PARSE, "nautilus Price.from_str", loop, N)


def test_hftcore_parse_many_nogil(benchmark: Any, record: Any) -> None:
    out = fixed.parse_many(BUFFER, 4)
    assert len(out) == len(TEN_CHAR) and out[0] == fixed.parse(TEN_CHAR[0], 4)
    record(
        benchmark, "parse 1M ten-char decimals in a nogil loop",
        "hftcore.fixed.parse_many", lambda: fixed.parse_many(BUFFER, 4), len(TEN_CHAR), rounds=5,
    )


def test_c_floor_parse(benchmark: Any, record: Any) -> None:
    import ctypes

    import numpy as np
    from conftest import compile_c_floor

    lib = compile_c_floor("parse_floor")
    if lib is None:
        pytest.skip("no C compiler for the floor")
    lib.floor_parse.restype = ctypes.c_int64
    lib.floor_parse.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
    out = np.empty(len(TEN_CHAR), dtype=np.int64)
    ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))
    assert lib.floor_parse(BUFFER, len(BUFFER), ptr) == len(TEN_CHAR)
    assert (out == fixed.parse_many(BUFFER, 4)).all()
    record(
        benchmark, "parse 1M ten-char decimals in a nogil loop",
        "plain C floor (no validation)", lambda: lib.floor_parse(BUFFER, len(BUFFER), ptr),
        len(TEN_CHAR), rounds=5,
    )


def test_format_empty_loop(benchmark: Any, record: Any) -> None:
    def loop() -> None:
        for _r in RAWS:
            pass

    record(benchmark, GROUP_FORMAT, "empty loop (baseline)", loop, N)


def test_hftcore_format(benchmark: Any, record: Any) -> None:
    fmt = fixed.format

    def loop() -> None:
        for r in RAWS:
            fmt(r, 2)

    record(benchmark, GROUP_FORMAT, "hftcore.fixed.format", loop, N)


def test_decimal_format(benchmark: Any, record: Any) -> None:
    decs = [Decimal(s) for s in PRICES]

    def loop() -> None:
        for d in decs:
            str(d)

    record(benchmark, GROUP_FORMAT, "str(Decimal)", loop, N)


def test_nautilus_price_str(benchmark: Any, record: Any) -> None:
    model = pytest.importorskip("nautilus_trader.model.objects")
    prices = [model.Price.from_str(s) for s in PRICES]

    def loop() -> None:
        for p in prices:
            str(p)

    record(benchmark, GROUP_FORMAT, "nautilus str(Price)", loop, N)
