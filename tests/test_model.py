"""Instrument conversions and conformity checks; the shared enums."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hftcore
from hftcore import Instrument, OrderStatus, Side


def btc() -> Instrument:
    return Instrument(
        "binance", "BTCUSDT", 2, 5, tick="0.10", lot="0.00010", base="BTC", quote="USDT",
        min_size="0.0001", max_size="100", min_notional="5",
    )


def test_public_names_of_design_section_10() -> None:
    assert hftcore.Side.BUY == 0 and hftcore.Side.SELL == 1
    assert hftcore.fixed.parse("1.5", 1) == 15
    assert hftcore.fixed.format(15, 1) == "1.5"
    assert issubclass(hftcore.DecodeError, ValueError)
    inst = hftcore.Instrument("v", "S", 2, 3, tick=1, lot=1)
    assert inst.price("1.25") == 125 and inst.qty("1") == 1000
    assert inst.format_price(125) == "1.25" and inst.format_qty(1000) == "1.000"


def test_conversions() -> None:
    i = btc()
    assert (i.tick, i.lot, i.min_size, i.max_size, i.min_notional) == (10, 10, 10, 10000000, 500)
    assert i.price("50000.10") == 5000010
    assert i.price(b"50000.1") == 5000010
    assert i.price(50000) == 5000000
    assert i.price(Decimal("50000.10")) == 5000010
    assert i.price(Decimal("5E+4")) == 5000000
    assert i.qty("0.5") == 50000
    assert i.format_price(5000010) == "50000.10"
    assert i.format_price(5000010, trim=True) == "50000.1"
    assert i.format_qty(50000) == "0.50000"
    assert i.to_decimal(5000010) == Decimal("50000.10")
    assert i.to_decimal(50000, is_size=True) == Decimal("0.5")
    assert i.to_float(5000010) == 50000.1
    assert i.notional(5000010, 50000) == 2500005  # 25000.05 USDT at 2 decimals


def test_float_needs_explicit_rounding() -> None:
    i = btc()
    with pytest.raises(TypeError, match="inexact"):
        i.price(0.1)
    assert i.price(0.1, rounding="half_even") == 10
    assert i.price(0.125, rounding="half_even") == 12  # 0.125 is exact in binary
    assert i.price(0.125, rounding="half_up") == 13
    with pytest.raises(ValueError, match="finite"):
        i.price(float("nan"), rounding="half_even")
    with pytest.raises(TypeError):
        i.price(True)
    with pytest.raises(ValueError, match="more fractional digits"):
        i.price("0.001")
    with pytest.raises(ValueError, match="finite"):
        i.price(Decimal("Infinity"))


def test_conformity() -> None:
    i = btc()
    assert i.is_tick_aligned(5000010) and not i.is_tick_aligned(5000011)
    assert i.round_price(5000014) == 5000010
    assert i.round_price(5000015) == 5000020  # half-even on ticks: 500001.5 -> 500002
    assert i.round_price(5000014, "up") == 5000020
    assert i.round_qty(55) == 50
    i.check_price(5000010)
    with pytest.raises(ValueError, match="not a multiple of the tick 0.10"):
        i.check_price(5000011)
    with pytest.raises(ValueError, match="not positive"):
        i.check_price(0)
    i.check_qty(10)
    with pytest.raises(ValueError, match="lot"):
        i.check_qty(15)
    with pytest.raises(ValueError, match="above the maximum 100.00000"):
        i.check_qty(10000010)


def test_invalid_instruments() -> None:
    with pytest.raises(ValueError, match="price_decimals"):
        Instrument("v", "S", 19, 2)
    with pytest.raises(ValueError, match="tick and lot must be positive"):
        Instrument("v", "S", 2, 2, tick=0)
    with pytest.raises(TypeError, match="tick"):
        Instrument("v", "S", 2, 2, tick=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="more fractional digits"):
        Instrument("v", "S", 2, 2, tick="0.001")
    with pytest.raises(ValueError, match="bad size limits"):
        Instrument("v", "S", 2, 2, min_size=10, max_size=5)


@given(st.integers(-(10**15), 10**15), st.integers(0, 6), st.integers(0, 6))
def test_price_format_round_trip(raw: int, pd: int, sd: int) -> None:
    i = Instrument("v", "S", pd, sd)
    assert i.price(i.format_price(raw)) == raw
    assert i.qty(i.format_qty(raw)) == raw
    assert i.price(i.to_decimal(raw)) == raw


def test_enums() -> None:
    assert Side.BUY.opposite is Side.SELL and Side.SELL.sign == -1
    assert OrderStatus.FILLED.is_terminal and not OrderStatus.ACCEPTED.is_terminal
    assert OrderStatus.PARTIALLY_FILLED.is_open and not OrderStatus.NEW.is_open
    assert {s.name for s in OrderStatus} >= {
        "NEW", "PENDING_NEW", "ACCEPTED", "PARTIALLY_FILLED", "FILLED", "CANCELED",
        "REJECTED", "EXPIRED", "PENDING_CANCEL", "PENDING_REPLACE",
    }


def test_enums_print_readably() -> None:
    from hftcore import Liquidity, OrderType, TimeInForce

    assert str(Side.BUY) == "Side.BUY" and f"{Side.SELL}" == "Side.SELL"
    assert str(OrderStatus.PARTIALLY_FILLED) == "OrderStatus.PARTIALLY_FILLED"
    assert f"{OrderType.LIMIT_MAKER}|{TimeInForce.IOC}|{Liquidity.MAKER}" == \
        "OrderType.LIMIT_MAKER|TimeInForce.IOC|Liquidity.MAKER"
    assert f"{Side.SELL:d}" == "1" and f"{OrderStatus.FILLED:>3}" == "  4"  # a spec formats the int
    assert Side.SELL == 1 and OrderStatus(4) is OrderStatus.FILLED


def test_enum_codes_come_from_the_compiled_core() -> None:
    from hftcore import Liquidity, OrderType, TimeInForce
    from hftcore._ext import orders as codes

    assert {m.name: int(m) for m in OrderStatus} == codes.STATUS_CODES
    assert {m.name: int(m) for m in OrderType} == codes.ORDER_TYPE_CODES
    assert {m.name: int(m) for m in TimeInForce} == codes.TIME_IN_FORCE_CODES
    assert {m.name: int(m) for m in Liquidity} == codes.LIQUIDITY_CODES
    assert {m.name: int(m) for m in Side} == codes.SIDE_CODES
