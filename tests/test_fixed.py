"""hftcore.fixed against Python's Decimal / Fraction over the whole int64 range."""

from __future__ import annotations

import decimal
import json
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from hftcore import fixed

DATA = Path(__file__).parent / "data"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
int64s = st.integers(INT64_MIN, INT64_MAX)
decs = st.integers(0, 18)
CTX = decimal.Context(prec=2000, Emax=10**6, Emin=-(10**6), traps=[decimal.InvalidOperation])

#: our mode name -> Decimal's constant with the same meaning
MODES = {
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_up": decimal.ROUND_HALF_UP,
    "half_down": decimal.ROUND_HALF_DOWN,
    "down": decimal.ROUND_FLOOR,
    "up": decimal.ROUND_CEILING,
    "toward_zero": decimal.ROUND_DOWN,
    "away_from_zero": decimal.ROUND_UP,
}
modes = st.sampled_from([None, *MODES])


def ref_round(value: Fraction, mode: str | None) -> int | None:
    """Round a Fraction to an int with our mode; None when inexact and no mode given."""
    if value.denominator == 1:
        return value.numerator
    if mode is None:
        return None
    floor = value.numerator // value.denominator
    frac = value - floor
    if mode == "down":
        return floor
    if mode == "up":
        return floor + 1
    if mode == "toward_zero":
        return floor if value > 0 else floor + 1
    if mode == "away_from_zero":
        return floor + 1 if value > 0 else floor
    half = Fraction(1, 2)
    if frac != half:
        return floor + (1 if frac > half else 0)
    if mode == "half_up":
        return floor + 1 if value > 0 else floor
    if mode == "half_down":
        return floor if value > 0 else floor + 1
    return floor if floor % 2 == 0 else floor + 1  # half_even


def in_range(v: int | None) -> bool:
    return v is not None and INT64_MIN <= v <= INT64_MAX


def check(fn, args: tuple[int, ...], exact: Fraction, mode: str | None) -> None:  # type: ignore[no-untyped-def]
    """fn(*args, mode) against the exact value: overflow (even truncated) first, then precision."""
    expected = ref_round(exact, mode)
    if not in_range(int(exact)) or (expected is not None and not in_range(expected)):
        with pytest.raises(OverflowError):
            fn(*args, mode)
    elif expected is None:
        with pytest.raises(ValueError, match="more fractional digits"):
            fn(*args, mode)
    else:
        assert fn(*args, mode) == expected


# ---------------------------------------------------------------------------------- parse
number_text = st.from_regex(
    r"[+-]?[0-9]{0,24}(\.[0-9]{0,24})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
).filter(lambda s: any(c.isdigit() for c in s.split("e")[0].split("E")[0]))


@given(number_text, decs, modes)
@example("3.426e-5", 8, None)
@example("1E+3", 0, None)
@example("-9223372036854775808", 0, None)
@example("9223372036854775807", 0, None)
@example("0.000000000000000000000000000005", 18, "up")
@example("12345678901234567890123e-10", 5, "half_even")
@example("0.0000000000000000000000", 18, None)
@example("1000000.0000000000001", 12, None)
@example("1000000.0000000000001", 12, "half_even")
@example("1000000.0000000000005", 12, "half_even")
@example("1000000.0000000000015", 12, "half_even")
@example("1000000.00000000000050001", 12, "half_even")
@example("-9223372036854775807.5", 0, "half_even")
@example("-9223372036854775808.4", 0, "half_even")
def test_parse_matches_decimal(text: str, decimals: int, mode: str | None) -> None:
    exact = Fraction(Decimal(text, CTX)) * 10**decimals
    expected = ref_round(exact, mode)
    if in_range(expected):
        assert fixed.parse(text, decimals, mode) == expected
        assert fixed.parse(text.encode(), decimals, mode) == expected
        assert fixed.parse(memoryview(text.encode()), decimals, mode) == expected
    else:
        message = "out of the int64 range" if not in_range(int(exact)) or expected is not None \
            else "more fractional digits"
        with pytest.raises(ValueError, match=re.escape(repr(text)) + ".*" + message):
            fixed.parse(text, decimals, mode)


@given(int64s, decs)
def test_format_matches_decimal_and_round_trips(raw: int, decimals: int) -> None:
    value = Decimal(raw).scaleb(-decimals, CTX)
    text = fixed.format(raw, decimals)
    assert text == f"{value:.{decimals}f}"
    assert fixed.parse(text, decimals) == raw
    trimmed = fixed.format(raw, decimals, trim=True)
    assert Decimal(trimmed) == value
    assert not trimmed.endswith(".")
    assert "." not in trimmed or not trimmed.endswith("0")
    assert fixed.parse(trimmed, decimals) == raw
    digits = fixed.format_digits(raw, decimals)
    # the fixed text without its dot and leading zeros
    unsigned = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    assert digits == ("-" if raw < 0 else "") + unsigned


@given(int64s, decs, decs, modes)
def test_rescale_matches_fraction(raw: int, src: int, dst: int, mode: str | None) -> None:
    check(fixed.rescale, (raw, src, dst), Fraction(raw) * Fraction(10) ** (dst - src), mode)


@given(int64s, decs, int64s, decs, decs, modes)
@example(INT64_MIN, 0, -1, 0, 0, None)
@example(INT64_MAX, 18, INT64_MAX, 18, 0, "half_even")
def test_mul_matches_fraction(
    a: int, ad: int, b: int, bd: int, od: int, mode: str | None
) -> None:
    check(fixed.mul, (a, ad, b, bd, od), Fraction(a * b) * Fraction(10) ** (od - ad - bd), mode)


@given(int64s, decs, int64s, decs, decs, modes)
@example(INT64_MIN, 0, -1, 0, 0, None)
@example(1, 0, 3, 0, 18, "half_even")
@example(INT64_MAX, 0, 1, 18, 18, None)
def test_div_matches_fraction(a: int, ad: int, b: int, bd: int, od: int, mode: str | None) -> None:
    if b == 0:
        with pytest.raises(ZeroDivisionError):
            fixed.div(a, ad, b, bd, od, mode)
        return
    check(fixed.div, (a, ad, b, bd, od), Fraction(a, b) * Fraction(10) ** (od - ad + bd), mode)


@given(int64s, int64s)
def test_checked_add_sub(a: int, b: int) -> None:
    for fn, ref in ((fixed.add, a + b), (fixed.sub, a - b)):
        if in_range(ref):
            assert fn(a, b) == ref
        else:
            with pytest.raises(OverflowError):
                fn(a, b)


@given(st.lists(st.tuples(int64s, decs), min_size=1, max_size=50), decs)
def test_parse_many_equals_parse(items: list[tuple[int, int]], decimals: int) -> None:
    texts = [fixed.format(raw, min(d, decimals)) for raw, d in items]
    assume(all(in_range(Fraction(Decimal(t)) * 10**decimals) for t in texts))
    data = "\n".join(texts).encode()
    assert list(fixed.parse_many(data, decimals)) == [fixed.parse(t, decimals) for t in texts]
    assert list(fixed.parse_many(data + b"\n", decimals)) == [
        fixed.parse(t, decimals) for t in texts
    ]


# ------------------------------------------------------------------------- bad input table
BAD = [
    ("", 2, "empty text"),
    (".", 2, "not a decimal number"),
    ("-", 2, "not a decimal number"),
    ("+", 2, "not a decimal number"),
    ("1.2.3", 2, "not a decimal number"),
    ("--1", 2, "not a decimal number"),
    ("+-1", 2, "not a decimal number"),
    ("1 000", 2, "not a decimal number"),
    (" 1", 2, "not a decimal number"),
    ("1 ", 2, "not a decimal number"),
    ("1_000", 2, "not a decimal number"),
    ("NaN", 2, "not a decimal number"),
    ("nan", 2, "not a decimal number"),
    ("inf", 2, "not a decimal number"),
    ("-Infinity", 2, "not a decimal number"),
    ("1e", 2, "not a decimal number"),
    ("1e+", 2, "not a decimal number"),
    ("e5", 2, "not a decimal number"),
    ("1e5.5", 2, "not a decimal number"),
    ("0x10", 2, "not a decimal number"),
    ("١٢", 2, "not a decimal number"),  # Arabic-Indic digits: Decimal takes them, we do not
    ("1.234", 2, "more fractional digits than 2"),
    ("0.12345678901234567891", 18, "more fractional digits than 18"),
    ("1e-3", 2, "more fractional digits than 2"),
    ("92233720368547758.08", 2, "out of the int64 range"),
    ("-92233720368547758.09", 2, "out of the int64 range"),
    ("12345678901234567890", 0, "out of the int64 range"),
    ("1e19", 0, "out of the int64 range"),
    ("1e999999999999", 0, "out of the int64 range"),
]


@pytest.mark.parametrize(("text", "decimals", "message"), BAD)
def test_bad_text_raises_value_error_naming_it(text: str, decimals: int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        fixed.parse(text, decimals)
    if text:
        assert repr(text) in str(info.value)
    with pytest.raises(ValueError):
        fixed.parse(text.encode(), decimals)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="decimals must be 0..18"):
        fixed.parse("1", 19)
    with pytest.raises(ValueError, match="decimals must be 0..18"):
        fixed.format(1, -1)
    with pytest.raises(ValueError, match="unknown rounding mode"):
        fixed.parse("1.5", 0, "sideways")
    with pytest.raises(TypeError):
        fixed.parse(1.5, 2)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        fixed.format(2**63, 2)
    with pytest.raises(ValueError, match="field 2: cannot parse b'x'"):
        fixed.parse_many(b"1\n2\nx\n4", 2)


def test_decimal_module_constants_keep_their_meaning() -> None:
    assert fixed.parse("-1.5", 0, decimal.ROUND_DOWN) == -1  # Decimal: toward zero
    assert fixed.parse("-1.5", 0, "down") == -2  # ours: toward -inf
    assert fixed.parse("-1.5", 0, decimal.ROUND_FLOOR) == -2
    assert fixed.parse("2.5", 0, "half_even") == 2
    assert fixed.parse("2.5", 0, "half_up") == 3


# ------------------------------------------------------------------- real recorded data
DECIMAL_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _numbers(obj: object):  # type: ignore[no-untyped-def]
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, tuple):  # ("num", exact text) from the json hooks below
        yield obj[1]
    elif isinstance(obj, str) and DECIMAL_RE.match(obj):
        yield obj


def _recorded_json(path):  # type: ignore[no-untyped-def]
    text = path.read_text()
    if path.suffix == ".json":
        yield text
        return
    for line in text.splitlines():
        i = line.find("{") if path.suffix == ".txt" else 0
        j = line.find("[")
        if path.suffix == ".txt":
            starts = [k for k in (i, j) if k >= 0]
            if not starts:
                continue
            i = min(starts)
        yield line[i:]


def test_every_recorded_decimal_parses_like_decimal() -> None:
    files = [p for p in DATA.rglob("*") if p.suffix in (".txt", ".jsonl", ".json")]
    assert len(files) >= 20
    seen = 0
    for path in files:
        for doc in _recorded_json(path):
            try:
                obj = json.loads(
                    doc, parse_float=lambda s: ("num", s), parse_int=lambda s: ("num", s)
                )
            except json.JSONDecodeError:
                continue
            for text in _numbers(obj):
                value = Decimal(text)
                decimals = min(18, max(0, -int(value.as_tuple().exponent)))
                expected = Fraction(value) * 10**decimals
                if expected.denominator != 1 or not in_range(int(expected)):
                    continue  # ids beyond int64, or more than 18 decimals
                assert fixed.parse(text, decimals) == int(expected), (path.name, text)
                seen += 1
    assert seen > 100_000


# ------------------------------------------------------ ties: where rounding modes differ
small64 = st.integers(-(2**59), 2**59)


TAILS = ["5", "50", "51", "49", "500000000000000000001"]


@given(small64, st.integers(0, 17), st.sampled_from(list(MODES)), st.sampled_from(TAILS))
def test_parse_ties_and_near_ties(raw: int, decimals: int, mode: str, tail: str) -> None:
    text = fixed.format(raw, decimals) + ("" if decimals else ".") + tail
    expected = ref_round(Fraction(Decimal(text)) * 10**decimals, mode)
    assert fixed.parse(text, decimals, mode) == expected


@given(small64, st.integers(1, 18), st.sampled_from(list(MODES)))
def test_rescale_ties(raw: int, drop: int, mode: str) -> None:
    tie = raw * 10**drop + (5 * 10 ** (drop - 1) if raw >= 0 else -5 * 10 ** (drop - 1))
    assume(in_range(tie))
    expected = ref_round(Fraction(tie, 10**drop), mode)
    assert fixed.rescale(tie, drop, 0, mode) == expected


@given(st.integers(-(10**9), 10**9), st.sampled_from([2, 4, 8, 10, 20, 1000]),
       st.sampled_from(list(MODES)))
def test_div_ties(k: int, b: int, mode: str) -> None:
    a = (2 * k + 1) * (b // 2)  # a / b == k + 1/2 exactly
    expected = ref_round(Fraction(a, b), mode)
    assert fixed.div(a, 0, b, 0, 0, mode) == expected
    assert fixed.mul(a, 0, 5, 1, 0, mode) == ref_round(Fraction(a, 2), mode)


@given(st.integers(10**18, 10**19 - 1), st.integers(0, 18), st.text("0123456789", min_size=1,
       max_size=6), modes, st.booleans())
def test_parse_nineteen_digits_and_dropped_ones(
    m: int, point: int, tail: str, mode: str | None, neg: bool
) -> None:
    digits = str(m)
    text = ("-" if neg else "") + digits[: 19 - point] + "." + digits[19 - point :] + tail
    decimals = point
    exact = Fraction(Decimal(text)) * 10**decimals
    expected = ref_round(exact, mode)
    if in_range(expected) and in_range(int(exact)):
        assert fixed.parse(text, decimals, mode) == expected
    else:
        with pytest.raises(ValueError):
            fixed.parse(text, decimals, mode)
