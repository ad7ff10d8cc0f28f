"""Pre-trade risk checks: each limit at, just under and just over; batch; kill switch; reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftcore import (
    Instrument,
    InstrumentLimits,
    OrderType,
    Reason,
    RiskEngine,
    RiskLimits,
    RiskRejected,
    Side,
    TradingState,
    VenueRateLimit,
)

BUY, SELL = Side.BUY, Side.SELL
# BTCUSDT: price 2 decimals with a 0.05 tick, size 5 decimals with a 0.001 lot
BTC = Instrument("binance", "BTCUSDT", 2, 5, tick=5, lot=100, base="BTC", quote="USDT")
ETH = Instrument("binance", "ETHUSDT", 2, 4, tick=1, lot=1, base="ETH", quote="USDT")
PX = BTC.price("50000.00")
LOT = BTC.lot


def engine(limits: InstrumentLimits | None = None, **glob: int | None) -> tuple[RiskEngine, int]:
    risk = RiskEngine(notional_decimals=8, limits=RiskLimits(**glob))  # type: ignore[arg-type]
    i = risk.add_instrument(BTC, limits or InstrumentLimits())
    return risk, i


def chk(risk: RiskEngine, side: Side, price: int, qty: int, otype: int = 0, now: int = 0) -> Reason:
    return Reason(risk.check(risk.index(BTC), side, price, qty, otype, now))


# -- size ----------------------------------------------------------------------------------------
def test_size_min() -> None:
    risk, _ = engine(InstrumentLimits(min_size=10 * LOT))
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.SIZE_MIN


def test_size_max() -> None:
    risk, _ = engine(InstrumentLimits(max_size=10 * LOT))
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.SIZE_MAX


def test_size_defaults_from_instrument() -> None:
    inst = Instrument("x", "Y", 2, 3, min_size=5, max_size=50)
    risk = RiskEngine()
    risk.add_instrument(inst)
    assert risk.check_order(inst, BUY, 100, 4) is Reason.SIZE_MIN
    assert risk.check_order(inst, BUY, 100, 5) is Reason.OK
    assert risk.check_order(inst, BUY, 100, 50) is Reason.OK
    assert risk.check_order(inst, BUY, 100, 51) is Reason.SIZE_MAX


def test_size_lot_and_positive() -> None:
    risk, _ = engine()
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    assert chk(risk, BUY, PX, LOT + 1) is Reason.SIZE_LOT
    assert chk(risk, BUY, PX, LOT - 1) is Reason.SIZE_LOT
    assert chk(risk, BUY, PX, 0) is Reason.SIZE_NOT_POSITIVE
    assert chk(risk, BUY, PX, -LOT) is Reason.SIZE_NOT_POSITIVE


# -- price ---------------------------------------------------------------------------------------
def test_price_tick_and_positive() -> None:
    risk, _ = engine()
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    assert chk(risk, BUY, PX + 5, LOT) is Reason.OK
    assert chk(risk, BUY, PX + 1, LOT) is Reason.PRICE_TICK
    assert chk(risk, BUY, PX - 1, LOT) is Reason.PRICE_TICK
    assert chk(risk, BUY, 0, LOT) is Reason.PRICE_NOT_POSITIVE


def test_price_band_ticks() -> None:
    risk, _ = engine(InstrumentLimits(band_ticks=20))
    assert chk(risk, BUY, PX, LOT) is Reason.NO_REFERENCE
    risk.set_reference(BTC, PX)
    for sign in (1, -1):
        assert chk(risk, BUY, PX + sign * 20 * 5, LOT) is Reason.OK  # at
        assert chk(risk, BUY, PX + sign * 19 * 5, LOT) is Reason.OK  # under
        assert chk(risk, BUY, PX + sign * 21 * 5, LOT) is Reason.PRICE_BAND  # over


def test_price_band_bps() -> None:
    inst = Instrument("binance", "BTCUSDT", 2, 5)  # tick 0.01 to step one raw unit
    risk = RiskEngine()
    risk.add_instrument(inst, InstrumentLimits(band_bps=100))  # 1 %
    risk.set_reference(inst, PX)
    band = PX // 100  # 500.00
    for sign in (1, -1):
        assert risk.check_order(inst, BUY, PX + sign * band, 1) is Reason.OK
        assert risk.check_order(inst, BUY, PX + sign * (band - 1), 1) is Reason.OK
        assert risk.check_order(inst, BUY, PX + sign * (band + 1), 1) is Reason.PRICE_BAND


def test_market_needs_protection_price() -> None:
    risk, _ = engine(InstrumentLimits(band_ticks=10))
    risk.set_reference(BTC, PX)
    assert chk(risk, BUY, 0, LOT, OrderType.MARKET) is Reason.MARKET_NO_PROTECTION
    assert chk(risk, BUY, PX + 50, LOT, OrderType.MARKET) is Reason.OK
    assert chk(risk, BUY, PX + 51, LOT, OrderType.MARKET) is Reason.PRICE_BAND
    assert chk(risk, BUY, PX + 1, LOT, OrderType.MARKET) is Reason.OK  # off-tick protection ok
    assert chk(risk, BUY, PX, LOT, 99) is Reason.BAD_ORDER_TYPE


# -- notional ------------------------------------------------------------------------------------
def test_notional_min_max() -> None:
    risk, _ = engine()
    n10 = risk.notional(BTC, PX, 10 * LOT)
    n11 = risk.notional(BTC, PX, 11 * LOT)
    n9 = risk.notional(BTC, PX, 9 * LOT)
    risk.set_limits(BTC, min_notional=n10, max_notional=n10)
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.NOTIONAL_MIN
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.NOTIONAL_MAX
    risk.set_limits(BTC, min_notional=n10 - 1, max_notional=n10 + 1)
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    risk.set_limits(BTC, min_notional=n10 + 1, max_notional=None)
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.NOTIONAL_MIN
    risk.set_limits(BTC, min_notional=None, max_notional=n10 - 1)
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.NOTIONAL_MAX
    assert n9 < n10 < n11
    assert n10 == 50000 * 10**8 // 100  # 0.01 BTC at 50000 = 500 USDT at 8 decimals


def test_instrument_min_notional_is_used() -> None:
    inst = Instrument("x", "Y", 2, 2, min_notional="10.00")
    risk = RiskEngine()
    risk.add_instrument(inst)
    assert risk.check_order(inst, BUY, inst.price("10"), inst.qty("1")) is Reason.OK
    assert risk.check_order(inst, BUY, inst.price("9.99"), inst.qty("1")) is Reason.NOTIONAL_MIN


def test_notional_overflow_is_refused_not_wrapped() -> None:
    risk, _ = engine()
    assert chk(risk, BUY, 2**62 - (2**62 % 5), 2**40 - (2**40 % LOT)) is Reason.NOTIONAL_OVERFLOW


# -- exposure ------------------------------------------------------------------------------------
def test_position_limit_counts_open_orders() -> None:
    risk, _ = engine(InstrumentLimits(max_position=10 * LOT))
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.POSITION_LIMIT
    risk.set_position(BTC, 4 * LOT)
    risk.on_order_open("a", BTC, BUY, PX, 3 * LOT)
    assert chk(risk, BUY, PX, 3 * LOT) is Reason.OK  # 4 + 3 + 3 = 10: at the limit
    assert chk(risk, BUY, PX, 2 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 4 * LOT) is Reason.POSITION_LIMIT
    # sells: worst case short = 4 - 14 = -10
    assert chk(risk, SELL, PX + 5, 14 * LOT) is Reason.OK
    assert chk(risk, SELL, PX + 5, 15 * LOT) is Reason.POSITION_LIMIT
    # the open order filling moves exposure into the position; the sum is unchanged
    risk.on_order_fill("a", BTC, BUY, 3 * LOT)
    assert risk.instrument_state(BTC)["position"] == 7 * LOT
    assert chk(risk, BUY, PX, 3 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 4 * LOT) is Reason.POSITION_LIMIT


def test_reducing_orders_pass_exposure_limits() -> None:
    risk, _ = engine(InstrumentLimits(max_position=5 * LOT), max_gross_exposure=1)
    risk.set_position(BTC, 8 * LOT)  # already over (limit lowered at run time)
    risk.set_reference(BTC, PX)
    assert chk(risk, BUY, PX, LOT) is Reason.POSITION_LIMIT
    assert chk(risk, SELL, PX, 8 * LOT) is Reason.OK  # to flat
    assert chk(risk, SELL, PX, 9 * LOT) is Reason.GROSS_EXPOSURE  # flips: not reducing


def test_gross_exposure() -> None:
    risk, _ = engine()
    risk.add_instrument(ETH)
    risk.set_reference(ETH, ETH.price("3000"))
    risk.set_position(ETH, ETH.qty("-0.1"))  # short 300 USDT
    n = risk.notional(BTC, PX, 10 * LOT)  # 500 USDT
    gross = 300 * 10**8 + n
    risk.set_global_limits(max_gross_exposure=gross)
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.GROSS_EXPOSURE
    risk.on_order_open("s", BTC, SELL, PX + 100, LOT)  # open orders count in the worst case
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.GROSS_EXPOSURE  # 300 + 450 + 50.01 > 800
    assert chk(risk, BUY, PX, 8 * LOT) is Reason.OK


def test_net_exposure() -> None:
    risk, _ = engine()
    risk.add_instrument(ETH)
    risk.set_reference(ETH, ETH.price("3000"))
    risk.set_position(ETH, ETH.qty("-0.1"))  # net -300 USDT
    n10 = risk.notional(BTC, PX, 10 * LOT)  # 500
    risk.set_global_limits(max_net_exposure=n10 - 300 * 10**8)  # 200
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK  # net +200: at
    assert chk(risk, BUY, PX, 9 * LOT) is Reason.OK
    assert chk(risk, BUY, PX, 11 * LOT) is Reason.NET_EXPOSURE
    risk.set_global_limits(max_net_exposure=300 * 10**8)
    assert chk(risk, SELL, PX, LOT) is Reason.NET_EXPOSURE  # -300 - 50 > 300
    risk.set_global_limits(max_net_exposure=300 * 10**8 + risk.notional(BTC, PX, LOT))
    assert chk(risk, SELL, PX, LOT) is Reason.OK


# -- open orders and self-trade --------------------------------------------------------------------
def test_open_orders_per_instrument_and_total() -> None:
    risk, _ = engine(InstrumentLimits(max_open_orders=3), max_open_orders=4)
    risk.add_instrument(ETH)
    for k in range(2):
        risk.on_order_open(f"b{k}", BTC, BUY, PX - 5 * k, LOT)
    assert chk(risk, BUY, PX - 100, LOT) is Reason.OK  # 2 open, third allowed
    risk.on_order_open("b2", BTC, BUY, PX - 100, LOT)
    assert chk(risk, BUY, PX - 100, LOT) is Reason.OPEN_ORDERS_INSTRUMENT
    assert risk.check_order(ETH, BUY, 100, 1) is Reason.OK  # total 3 < 4
    risk.on_order_open("e0", ETH, BUY, 100, 1)
    assert risk.check_order(ETH, BUY, 100, 1) is Reason.OPEN_ORDERS_TOTAL
    risk.on_order_closed("b0")
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    assert risk.book_state()["open_orders"] == 3


def test_self_trade_prevention() -> None:
    risk, _ = engine()
    risk.on_order_open("ask", BTC, SELL, PX, LOT)
    risk.on_order_open("ask2", BTC, SELL, PX + 50, LOT)
    risk.on_order_open("bid", BTC, BUY, PX - 50, LOT)
    assert chk(risk, BUY, PX - 5, LOT) is Reason.OK
    assert chk(risk, BUY, PX, LOT) is Reason.SELF_TRADE
    assert chk(risk, BUY, PX + 5, LOT) is Reason.SELF_TRADE
    assert chk(risk, SELL, PX - 45, LOT) is Reason.OK
    assert chk(risk, SELL, PX - 50, LOT) is Reason.SELF_TRADE
    risk.on_order_closed("ask")  # the next own ask is PX + 50
    assert chk(risk, BUY, PX + 45, LOT) is Reason.OK
    assert chk(risk, BUY, PX + 50, LOT) is Reason.SELF_TRADE
    risk.set_limits(BTC, self_trade_prevention=False)
    assert chk(risk, BUY, PX + 50, LOT) is Reason.OK


# -- rate limits ---------------------------------------------------------------------------------
def test_order_rate_bucket_with_weights() -> None:
    risk, _ = engine()
    t0 = 10**12
    risk.set_rate_limit("binance", VenueRateLimit(order_rate=10, order_burst=10, order_weight=2),
                        now_ns=t0)
    assert [chk(risk, BUY, PX, LOT, now=t0) for _ in range(6)] == [Reason.OK] * 5 + [
        Reason.RATE_ORDERS
    ]
    # 2 tokens come back in 0.2 s: one order; just before that, none
    assert chk(risk, BUY, PX, LOT, now=t0 + 199_999_999) is Reason.RATE_ORDERS
    assert chk(risk, BUY, PX, LOT, now=t0 + 200_000_000) is Reason.OK
    assert chk(risk, BUY, PX, LOT, now=t0 + 200_000_000) is Reason.RATE_ORDERS
    # a rejected order does not take tokens
    assert chk(risk, BUY, PX + 1, LOT, now=t0 + 10**10) is Reason.PRICE_TICK
    assert [chk(risk, BUY, PX, LOT, now=t0 + 10**10) for _ in range(6)].count(Reason.OK) == 5


def test_cancel_rate_bucket() -> None:
    risk, _ = engine()
    t0 = 10**12
    risk.set_rate_limit("binance", VenueRateLimit(cancel_rate=1, cancel_burst=3), now_ns=t0)
    v = risk._venues["binance"]
    assert [Reason(risk.check_cancel(v, t0)) for _ in range(4)] == [Reason.OK] * 3 + [
        Reason.RATE_CANCELS
    ]
    assert Reason(risk.check_cancel(v, t0 + 999_999_999)) is Reason.RATE_CANCELS
    assert Reason(risk.check_cancel(v, t0 + 10**9)) is Reason.OK
    assert chk(risk, BUY, PX, LOT, now=t0) is Reason.OK  # orders have their own bucket


# -- loss, errors, states, kill switch ----------------------------------------------------------
def test_daily_loss_limit() -> None:
    risk, _ = engine(max_daily_loss=1000 * 10**8)
    risk.set_pnl(-600 * 10**8, -400 * 10**8)  # at the limit
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    risk.set_pnl(-600 * 10**8, -400 * 10**8 + 1)
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    risk.set_pnl(-600 * 10**8, -400 * 10**8 - 1)
    assert chk(risk, BUY, PX, LOT) is Reason.DAILY_LOSS
    risk.set_position(BTC, 2 * LOT)
    assert chk(risk, SELL, PX, 2 * LOT) is Reason.OK  # reducing is still allowed


def test_error_rate_breaker() -> None:
    risk, _ = engine(max_errors=3, error_window_ns=10**9, error_cooldown_ns=5 * 10**9)
    t = 10**12
    for k in range(3):
        risk.record_error(t + k)
    assert chk(risk, BUY, PX, LOT, now=t + 3) is Reason.OK  # 3 errors: at the limit
    risk.record_error(t + 4)  # the 4th inside the window trips it
    assert chk(risk, BUY, PX, LOT, now=t + 5) is Reason.ERROR_RATE
    assert chk(risk, BUY, PX, LOT, now=t + 4 + 5 * 10**9 - 1) is Reason.ERROR_RATE
    assert chk(risk, BUY, PX, LOT, now=t + 4 + 5 * 10**9) is Reason.OK
    # errors spread wider than the window never trip it
    risk.reset_breaker()
    for k in range(10):
        risk.record_error(t + 10**11 + k * 2 * 10**9)
    assert chk(risk, BUY, PX, LOT, now=t + 10**11 + 20 * 10**9) is Reason.OK


def test_trading_states() -> None:
    risk, _ = engine()
    risk.set_position(BTC, 3 * LOT)
    risk.set_state(TradingState.REDUCING)
    assert chk(risk, BUY, PX, LOT) is Reason.REDUCE_ONLY
    assert chk(risk, SELL, PX, 3 * LOT) is Reason.OK
    assert chk(risk, SELL, PX, 4 * LOT) is Reason.REDUCE_ONLY
    risk.on_order_open("s", BTC, SELL, PX, 2 * LOT)  # open sells count: only 1 lot left
    assert chk(risk, SELL, PX, 2 * LOT) is Reason.REDUCE_ONLY
    assert chk(risk, SELL, PX, LOT) is Reason.OK
    risk.set_state(TradingState.HALTED)
    assert chk(risk, SELL, PX, LOT) is Reason.HALTED
    risk.set_state(TradingState.ACTIVE)
    assert chk(risk, BUY, PX - 50, LOT) is Reason.OK


def test_kill_switch_halts_and_cancels_everything() -> None:
    asked: list[list[str]] = []
    risk = RiskEngine(on_cancel_all=asked.append)
    risk.add_instrument(BTC)
    risk.on_order_open("a", BTC, BUY, PX - 50, LOT)
    risk.on_order_open("b", BTC, SELL, PX + 50, LOT)
    assert risk.kill() == ["a", "b"]
    assert asked == [["a", "b"]]
    assert risk.killed and risk.state is TradingState.HALTED
    assert chk(risk, BUY, PX, LOT) is Reason.KILL_SWITCH
    risk.set_state(TradingState.ACTIVE)
    assert chk(risk, BUY, PX, LOT) is Reason.KILL_SWITCH  # stays engaged until reset
    risk.reset_kill()
    assert chk(risk, BUY, PX, LOT) is Reason.OK


def test_unknown_instrument_bad_side() -> None:
    risk, i = engine()
    assert Reason(risk.check(i + 1, BUY, PX, LOT)) is Reason.UNKNOWN_INSTRUMENT
    assert Reason(risk.check(-1, BUY, PX, LOT)) is Reason.UNKNOWN_INSTRUMENT
    assert Reason(risk.check(i, 2, PX, LOT)) is Reason.BAD_SIDE
    assert risk.check_order(ETH, BUY, 1, 1) is Reason.UNKNOWN_INSTRUMENT


def test_counts_per_reason_and_messages() -> None:
    risk, _ = engine(InstrumentLimits(max_size=LOT))
    for _ in range(3):
        chk(risk, BUY, PX, LOT)
    for _ in range(2):
        chk(risk, BUY, PX, 2 * LOT)
    counts = risk.counts()
    assert counts[Reason.OK] == 3 and counts[Reason.SIZE_MAX] == 2
    assert sum(counts.values()) == 5
    assert all(r.message for r in Reason)
    with pytest.raises(RiskRejected, match="SIZE_MAX"):
        risk.require(BTC, BUY, PX, 2 * LOT)
    risk.reset_counts()
    assert sum(risk.counts().values()) == 0


def test_limits_change_at_run_time_and_bad_limits_roll_back() -> None:
    risk, _ = engine(InstrumentLimits(max_size=LOT))
    assert chk(risk, BUY, PX, 2 * LOT) is Reason.SIZE_MAX
    risk.set_limits(BTC, max_size=2 * LOT)
    assert chk(risk, BUY, PX, 2 * LOT) is Reason.OK
    with pytest.raises(ValueError):
        risk.set_limits(BTC, max_size=-1)
    assert risk.limits(BTC).max_size == 2 * LOT
    assert chk(risk, BUY, PX, 2 * LOT) is Reason.OK
    with pytest.raises(TypeError):
        risk.set_limits(BTC, max_sise=1)


# -- batch ---------------------------------------------------------------------------------------
def test_batch_counts_earlier_orders_of_the_batch() -> None:
    risk, i = engine(InstrumentLimits(max_position=10 * LOT, max_open_orders=3))
    idx = np.full(5, i, np.int32)
    side = np.array([0, 0, 0, 1, 1], np.uint8)
    price = np.array([PX, PX, PX, PX - 50, PX + 50], np.int64)
    qty = np.array([6, 4, 1, 1, 1], np.int64) * LOT
    out = risk.check_batch(idx, side, price, qty)
    assert [Reason(r) for r in out] == [
        Reason.OK, Reason.OK, Reason.POSITION_LIMIT, Reason.SELF_TRADE, Reason.OK,
    ]
    # nothing stays reserved after the batch
    assert chk(risk, BUY, PX, 10 * LOT) is Reason.OK
    assert risk.instrument_state(BTC)["open_orders"] == 0


# -- the compiled check against a plain-Python statement of the rules ------------------------------
@dataclass
class RefState:
    position: int = 0
    open_buy: int = 0
    open_sell: int = 0
    open_orders: int = 0
    best_bid: int | None = None
    best_ask: int | None = None
    ref: int = 0
    opens: list[tuple[int, int, int]] = field(default_factory=list)


def ref_check(
    s: RefState, lim: InstrumentLimits, glob: RiskLimits, side: int, price: int, qty: int,
    nd: int, state: int,
) -> Reason:
    def notional(p: int, q: int) -> int:
        # price*qty at 7 decimals -> nd decimals, rounded up
        v = p * q * 10**nd
        return -((-v) // 10**7)

    def pos_notional(pos: int) -> int:
        v = pos * s.ref * 10**nd
        q = -((-abs(v)) // 10**7)
        return q if v >= 0 else -q

    if state == 2:
        return Reason.HALTED
    if qty <= 0:
        return Reason.SIZE_NOT_POSITIVE
    if qty % BTC.lot:
        return Reason.SIZE_LOT
    if lim.min_size is not None and qty < lim.min_size:
        return Reason.SIZE_MIN
    if lim.max_size is not None and qty > lim.max_size:
        return Reason.SIZE_MAX
    if price <= 0:
        return Reason.PRICE_NOT_POSITIVE
    if price % BTC.tick:
        return Reason.PRICE_TICK
    if lim.band_ticks is not None or lim.band_bps is not None:
        if s.ref <= 0:
            return Reason.NO_REFERENCE
        d = abs(price - s.ref)
        if lim.band_ticks is not None and d > lim.band_ticks * BTC.tick:
            return Reason.PRICE_BAND
        if lim.band_bps is not None and d * 10000 > s.ref * lim.band_bps:
            return Reason.PRICE_BAND
    n = notional(price, qty)
    if lim.max_notional is not None and n > lim.max_notional:
        return Reason.NOTIONAL_MAX
    if side == 0:
        after = s.position + s.open_buy + qty
        reduces = s.position < 0 and after <= 0
    else:
        after = s.position - s.open_sell - qty
        reduces = s.position > 0 and after >= 0
    if not reduces:
        if state == 1:
            return Reason.REDUCE_ONLY
        if lim.max_position is not None and abs(after) > lim.max_position:
            return Reason.POSITION_LIMIT
        pn = pos_notional(s.position)
        ob = sum(notional(p, q) for sd, p, q in s.opens if sd == 0)
        os_ = sum(notional(p, q) for sd, p, q in s.opens if sd == 1)
        if glob.max_gross_exposure is not None and abs(pn) + ob + os_ + n > glob.max_gross_exposure:
            return Reason.GROSS_EXPOSURE
        if glob.max_net_exposure is not None:
            net = pn + ob + n if side == 0 else pn - os_ - n
            if abs(net) > glob.max_net_exposure:
                return Reason.NET_EXPOSURE
    if lim.max_open_orders is not None and s.open_orders >= lim.max_open_orders:
        return Reason.OPEN_ORDERS_INSTRUMENT
    if side == 0 and s.best_ask is not None and price >= s.best_ask:
        return Reason.SELF_TRADE
    if side == 1 and s.best_bid is not None and price <= s.best_bid:
        return Reason.SELF_TRADE
    return Reason.OK


opt = st.none() | st.integers(0, 60)


@given(
    lim=st.builds(
        InstrumentLimits,
        min_size=st.none() | st.integers(0, 20).map(lambda k: k * LOT),
        max_size=st.none() | st.integers(0, 40).map(lambda k: k * LOT),
        max_notional=st.none() | st.integers(0, 30 * 10**11),
        max_position=st.none() | st.integers(0, 60).map(lambda k: k * LOT),
        band_ticks=opt,
        band_bps=opt,
        max_open_orders=st.none() | st.integers(0, 5),
    ),
    glob=st.builds(
        RiskLimits,
        max_gross_exposure=st.none() | st.integers(0, 60 * 10**11),
        max_net_exposure=st.none() | st.integers(0, 60 * 10**11),
    ),
    position=st.integers(-40, 40).map(lambda k: k * LOT),
    ref=st.sampled_from([0, PX, PX + 35]),
    opens=st.lists(
        st.tuples(st.integers(0, 1), st.integers(-30, 30), st.integers(1, 10)), max_size=4
    ),
    orders=st.lists(
        st.tuples(st.integers(0, 1), st.integers(-40, 40), st.integers(-1, 30),
                  st.integers(-2, 2)),
        min_size=1, max_size=6,
    ),
    state=st.integers(0, 2),
)
def test_check_matches_reference(
    lim: InstrumentLimits, glob: RiskLimits, position: int, ref: int,
    opens: list[tuple[int, int, int]], orders: list[tuple[int, int, int, int]], state: int,
) -> None:
    risk = RiskEngine(notional_decimals=8, limits=glob)
    i = risk.add_instrument(BTC, lim)
    s = RefState(position=position, ref=ref)
    risk.set_position(BTC, position)
    if ref:
        risk.set_reference(BTC, ref)
    for k, (sd, dt, q) in enumerate(opens):
        p, qq = PX + dt * 5, q * LOT
        risk.on_order_open(f"o{k}", BTC, Side(sd), p, qq)
        s.opens.append((sd, p, qq))
        s.open_orders += 1
        if sd == 0:
            s.open_buy += qq
            s.best_bid = p if s.best_bid is None else max(s.best_bid, p)
        else:
            s.open_sell += qq
            s.best_ask = p if s.best_ask is None else min(s.best_ask, p)
    risk.set_state(TradingState(state))
    for sd, dt, q, off in orders:
        price, qty = PX + dt * 5 + off, q * LOT + (off if off < 0 else 0)
        got = Reason(risk.check(i, sd, price, qty))
        want = ref_check(s, lim, glob, sd, price, qty, 8, state)
        assert got is want, (sd, price, qty)
    # a batch of the same orders checked one by one agrees with sequential single checks that
    # reserve each passing order and release it afterwards
    idx = np.full(len(orders), i, np.int32)
    sides = np.array([o[0] for o in orders], np.uint8)
    prices = np.array([PX + o[1] * 5 + o[3] for o in orders], np.int64)
    qtys = np.array([o[2] * LOT + (o[3] if o[3] < 0 else 0) for o in orders], np.int64)
    batch = risk.check_batch(idx, sides, prices, qtys)
    seq = []
    for k in range(len(orders)):
        r = risk.check(i, int(sides[k]), int(prices[k]), int(qtys[k]))
        seq.append(r)
        if r == 0:
            risk.on_order_open(f"tmp{k}", BTC, Side(int(sides[k])), int(prices[k]), int(qtys[k]))
    for k in range(len(orders)):
        risk.on_order_closed(f"tmp{k}")
    assert list(batch) == seq


def test_rate_bucket_with_the_real_clock() -> None:
    import time

    risk, _ = engine()
    risk.set_rate_limit("binance", VenueRateLimit(order_rate=100, order_burst=1))
    assert chk(risk, BUY, PX, LOT) is Reason.OK
    assert chk(risk, BUY, PX, LOT) is Reason.RATE_ORDERS
    time.sleep(0.05)  # one token takes 10 ms; the coarse clock lags a few ms at most
    assert chk(risk, BUY, PX, LOT) is Reason.OK


@given(
    pd=st.integers(0, 18), sd=st.integers(0, 18), nd=st.integers(0, 18),
    price=st.integers(1, 2**63 - 1) | st.integers(1, 10**9),
    qty=st.integers(1, 2**63 - 1) | st.integers(1, 10**9),
)
def test_notional_equals_fixed_mul_rounded_up(pd: int, sd: int, nd: int, price: int,
                                              qty: int) -> None:
    from hftcore import fixed

    risk = RiskEngine(notional_decimals=nd)
    inst = Instrument("x", "Y", pd, sd)
    risk.add_instrument(inst)
    try:
        want: int | None = fixed.mul(price, pd, qty, sd, nd, "up")
    except OverflowError:
        want = None
    try:
        got: int | None = risk.notional(inst, price, qty)
    except OverflowError:
        got = None
    assert got == want


# ================================================================================================
# Issue 8: exposure sums that cannot wrap, int-only arguments, refused calls that change nothing,
# the batch and its GIL-free loop.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def test_five_oversized_opens_do_not_wrap_the_gross_exposure() -> None:
    # on main each unrepresentable notional counted INT64_MAX // 4 and five of them wrapped the
    # int64 sum negative: a new order then passed max_gross
    risk, _ = engine(max_gross_exposure=10**6 * 10**8)
    huge_px, huge_qty = 2**62 - (2**62 % 5), 2**40 - (2**40 % LOT)
    for k in range(5):
        risk.on_order_open(f"big{k}", BTC, BUY, huge_px, huge_qty)
    assert risk.book_state()["unbounded_exposures"] == 5
    assert chk(risk, BUY, PX, LOT) is Reason.GROSS_EXPOSURE
    assert chk(risk, SELL, PX + 5, LOT) is Reason.GROSS_EXPOSURE
    for k in range(5):
        risk.on_order_closed(f"big{k}")
    state = risk.book_state()
    assert state["unbounded_exposures"] == 0 and state["open_buy_notional"] == 0
    assert chk(risk, BUY, PX, LOT) is Reason.OK


def test_representable_notionals_summing_past_int64_stay_exact() -> None:
    # each notional fits in int64, their sum does not: kept exactly in 128 bits
    inst = Instrument("x", "BIG", 0, 0)
    risk = RiskEngine(notional_decimals=0, limits=RiskLimits(max_gross_exposure=INT64_MAX - 1,
                                                             max_net_exposure=INT64_MAX - 1))
    risk.add_instrument(inst, InstrumentLimits(self_trade_prevention=False))
    n = 2**61 + 7
    for k in range(5):
        risk.on_order_open(f"o{k}", inst, BUY, n, 1)
    state = risk.book_state()
    assert state["open_buy_notional"] == 5 * n and state["unbounded_exposures"] == 0
    assert risk.check_order(inst, BUY, 1, 1) is Reason.GROSS_EXPOSURE
    assert risk.check_order(inst, SELL, 1, 1) is Reason.GROSS_EXPOSURE
    for k in range(4):
        risk.on_order_closed(f"o{k}")
    assert risk.book_state()["open_buy_notional"] == n
    assert risk.check_order(inst, BUY, 1, 1) is Reason.OK


def test_open_sizes_summing_past_int64_do_not_pass_the_position_limit() -> None:
    # four open buys of 2**62 summed to 2**64, which wrapped to 0 on main
    inst = Instrument("x", "Q", 0, 0)
    risk = RiskEngine(notional_decimals=0)
    risk.add_instrument(inst, InstrumentLimits(max_position=10, self_trade_prevention=False))
    for k in range(4):
        risk.on_order_open(f"q{k}", inst, BUY, 1, 2**62)
    assert risk.instrument_state(inst)["open_buy_qty"] == 2**64
    assert risk.check_order(inst, BUY, 1, 1) is Reason.POSITION_LIMIT
    assert risk.check_order(inst, SELL, 1, 10) is Reason.OK  # sells: position 0 - 10 >= -10


def test_positions_marked_past_int64_count_as_unbounded_exposure() -> None:
    risk = RiskEngine(notional_decimals=8, limits=RiskLimits(max_gross_exposure=10**20 // 10**2))
    insts = [Instrument("x", f"P{k}", 0, 0) for k in range(5)]
    for inst in insts:
        risk.add_instrument(inst)
        risk.set_reference(inst, 10**9)
        risk.set_position(inst, 10**9)  # 10**18 quote at 8 decimals: beyond int64
    other = Instrument("x", "SMALL", 2, 5)
    risk.add_instrument(other)
    state = risk.book_state()
    assert state["unbounded_exposures"] == 5 and state["gross_position"] == 0
    assert risk.instrument_state(insts[0])["position_notional"] is None
    assert risk.check_order(other, BUY, 100, 1) is Reason.GROSS_EXPOSURE
    for inst in insts:
        risk.set_position(inst, 0)
    state = risk.book_state()
    assert state["unbounded_exposures"] == 0 and state["gross_position"] == 0
    assert state["net_position"] == 0
    assert risk.check_order(other, BUY, 100, 1) is Reason.OK


def test_the_error_breaker_blocks_near_the_end_of_the_clock() -> None:
    # on main now + cooldown overflowed: the breaker's end time was negative, it never blocked
    risk, _ = engine(max_errors=1, error_window_ns=10**9, error_cooldown_ns=60 * 10**9)
    t = INT64_MAX - 10
    risk.record_error(t)
    risk.record_error(t + 1)
    assert chk(risk, BUY, PX, LOT, now=t + 2) is Reason.ERROR_RATE
    assert chk(risk, BUY, PX, LOT, now=INT64_MAX) is Reason.ERROR_RATE
    assert risk.book_state()["breaker_until_ns"] == INT64_MAX
    risk.reset_breaker()
    assert chk(risk, BUY, PX, LOT, now=INT64_MAX) is Reason.OK


def test_the_token_bucket_and_the_loss_limit_at_the_int64_edges() -> None:
    risk, _ = engine(max_daily_loss=INT64_MAX - 1)
    risk.set_rate_limit("binance", VenueRateLimit(order_rate=9 * 10**9, order_burst=9 * 10**9),
                        now_ns=1)
    assert chk(risk, BUY, PX, LOT, now=INT64_MAX) is Reason.OK
    risk.set_pnl(INT64_MIN, INT64_MIN)
    assert chk(risk, BUY, PX, LOT, now=INT64_MAX) is Reason.DAILY_LOSS
    risk.set_pnl(INT64_MAX, INT64_MAX)
    assert chk(risk, BUY, PX, LOT, now=INT64_MAX) is Reason.OK


# ------------------------------------------------------------------ floats, bools, wrong types
def test_issue_example_a_float_price_is_refused_not_truncated() -> None:
    inst = Instrument("x", "Y", 0, 0)
    risk = RiskEngine()
    risk.add_instrument(inst)
    with pytest.raises(TypeError, match="price must be an int, not float"):
        risk.check_order(inst, BUY, 1000000.7, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="qty must be an int, not float"):
        risk.check(0, BUY, 1000000, 1.0)
    assert sum(risk.counts().values()) == 0  # refused, so not counted as a decision


def _snapshot(risk: RiskEngine) -> tuple[object, ...]:
    insts = list(risk.instruments())
    return (
        risk.book_state(), [risk.instrument_state(i) for i in insts], risk.counts(),
        risk.open_order_ids(), risk.state, risk.killed, risk.global_limits,
        [risk.limits(i) for i in insts], dict(risk._venues),
    )


def _busy_engine() -> RiskEngine:
    risk, _ = engine(InstrumentLimits(max_position=100 * LOT), max_gross_exposure=10**15,
                     max_errors=5)
    risk.set_reference(BTC, PX)
    risk.set_position(BTC, 3 * LOT)
    risk.on_order_open("a", BTC, BUY, PX - 50, 2 * LOT)
    risk.on_order_open("s", BTC, SELL, PX + 50, LOT)
    return risk


BAD_VALUES = [1.5, 2.0, True, "1", None, Decimal(1)]

# (call, parameter name): each call is made with the parameter replaced by a bad value
CALLS = [
    (lambda r, v: r.check(0, v, PX, LOT), "side"),
    (lambda r, v: r.check(0, BUY, v, LOT), "price"),
    (lambda r, v: r.check(0, BUY, PX, v), "qty"),
    (lambda r, v: r.check(v, BUY, PX, LOT), "inst"),
    (lambda r, v: r.check(0, BUY, PX, LOT, v), "order_type"),
    (lambda r, v: r.check(0, BUY, PX, LOT, 0, v), "now_ns"),
    (lambda r, v: r.check_order(BTC, v, PX, LOT), "side"),
    (lambda r, v: r.check_order(BTC, BUY, v, LOT), "price"),
    (lambda r, v: r.check_order(BTC, BUY, PX, LOT, v), "order_type"),
    (lambda r, v: r.check_code(BTC, BUY, PX, v), "qty"),
    (lambda r, v: r.require(BTC, BUY, v, LOT), "price"),
    (lambda r, v: r.check_cancel(v), "venue"),
    (lambda r, v: r.check_cancel_venue("binance", v), "now_ns"),
    (lambda r, v: r.on_order_open("n", BTC, v, PX, LOT), "side"),
    (lambda r, v: r.on_order_open("n", BTC, BUY, v, LOT), "price"),
    (lambda r, v: r.on_order_open("n", BTC, BUY, PX, v), "qty"),
    (lambda r, v: r.on_order_fill("a", BTC, BUY, v), "qty"),
    (lambda r, v: r.on_order_fill("a", BTC, v, LOT), "side"),
    (lambda r, v: r.on_order_fill("unknown", BTC, BUY, v), "qty"),
    (lambda r, v: r.on_order_replaced("a", v, LOT), "price"),
    (lambda r, v: r.on_order_replaced("a", PX, v), "remaining"),
    (lambda r, v: r.set_position(BTC, v), "position"),
    (lambda r, v: r.set_reference(BTC, v), "price"),
    (lambda r, v: r.set_pnl(v, 0), "realized"),
    (lambda r, v: r.set_pnl(0, v), "unrealized"),
    (lambda r, v: r.record_error(v), "now_ns"),
    (lambda r, v: r.set_state(v), "state"),
    (lambda r, v: r.reset_kill(v), "state"),
    (lambda r, v: r.notional(BTC, v, LOT), "price"),
    (lambda r, v: r.set_limits(BTC, max_size=v), "max_size"),
    (lambda r, v: r.set_limits(BTC, band_bps=v), "band_bps"),
    (lambda r, v: r.set_global_limits(max_gross_exposure=v), "max_gross"),
    (lambda r, v: r.set_global_limits(error_window_ns=v), "error_window_ns"),
    (lambda r, v: r.set_rate_limit("binance", VenueRateLimit(order_rate=v)), "order_rate"),
    (lambda r, v: r.set_rate_limit("binance", VenueRateLimit(), now_ns=v), "now_ns"),
    (lambda r, v: r.add_instrument(Instrument("x", "NEW", 2, 2), InstrumentLimits(min_size=v)),
     "min_size"),
]


@pytest.mark.parametrize(("call", "name"), CALLS)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_every_entry_point_refuses_non_ints_naming_them_and_changes_nothing(
    call: object, name: str, bad: object
) -> None:
    risk = _busy_engine()
    if bad is None and name in ("max_size", "band_bps", "max_gross", "min_size"):
        return  # None switches a limit off: allowed
    before = _snapshot(risk)
    with pytest.raises(TypeError, match=rf"\b{name} must be an? (int|str|TradingState)"):
        call(risk, bad)  # type: ignore[operator]
    assert _snapshot(risk) == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.on_order_open("n", BTC, "BUY", PX, LOT), TypeError, "side must be an int"),
        (lambda r: r.on_order_open("n", BTC, 2, PX, LOT), ValueError, "side must be"),
        (lambda r: r.on_order_open("n", BTC, BUY, -1, LOT), ValueError, "price must be >= 0"),
        (lambda r: r.on_order_open("n", BTC, BUY, PX, -LOT), ValueError, "qty must be >= 0"),
        (lambda r: r.on_order_open("n", ETH, BUY, PX, LOT), KeyError, "ETHUSDT"),
        (lambda r: r.on_order_open(7, BTC, BUY, PX, LOT), TypeError, "order_id must be a str"),
        (lambda r: r.on_order_open("n", "BTCUSDT", BUY, PX, LOT), TypeError,
         "instrument must be an Instrument"),
        (lambda r: r.on_order_fill("a", BTC, BUY, 0), ValueError, "qty must be positive"),
        (lambda r: r.on_order_fill("a", BTC, SELL, LOT), ValueError, "not the side"),
        (lambda r: r.on_order_fill("a", BTC, BUY, INT64_MAX), OverflowError, "int64"),
        (lambda r: r.on_order_replaced("a", -5, LOT), ValueError,
         "price and remaining must be >= 0"),
        (lambda r: r.set_reference(BTC, -1), ValueError, "must not be negative"),
        (lambda r: r.set_state(3), ValueError, "TradingState"),
        (lambda r: r.reset_kill(5), ValueError, "TradingState"),
        (lambda r: r.set_limits(BTC, max_size=-1), ValueError, "max_size must be >= 0"),
        (lambda r: r.set_limits(BTC, max_sise=1), TypeError, "unknown limits"),
        (lambda r: r.set_rate_limit("binance", VenueRateLimit(order_rate=-1)), ValueError,
         "order_rate"),
        (lambda r: r.set_rate_limit("okx", VenueRateLimit(order_burst=10**10)), ValueError,
         "order_burst"),
        (lambda r: r.set_rate_limit(5, VenueRateLimit()), TypeError, "venue must be a str"),
        (lambda r: r.set_global_limits(error_window_ns=0), ValueError, "error_window_ns"),
        (lambda r: r.add_instrument(Instrument("x", "NEW", 2, 2), InstrumentLimits(max_size=-1)),
         ValueError, "max_size"),
        (lambda r: r.add_instrument("BTC"), TypeError, "instrument must be an Instrument"),
        (lambda r: r.check(0, BUY, PX, LOT, 0, -1), ValueError, "now_ns must be >= 0"),
        (lambda r: r.check(0, BUY, 2**63, LOT), OverflowError, "price=9223372036854775808"),
        (lambda r: r.check_order(BTC, BUY, PX, 2**64), OverflowError, "qty=18446744073709551616"),
    ],
)
def test_refused_requests_raise_and_change_nothing(
    call: object, error: type[Exception], message: str
) -> None:
    risk = _busy_engine()
    risk.kill()
    before = _snapshot(risk)
    with pytest.raises(error, match=message):
        call(risk)  # type: ignore[operator]
    assert _snapshot(risk) == before


def test_side_and_order_type_codes_out_of_range_are_reasons_on_both_paths() -> None:
    risk, i = engine()
    for side in (2, -1, 2**32, 2**40):
        assert Reason(risk.check(i, side, PX, LOT)) is Reason.BAD_SIDE  # main: OverflowError
    for otype in (5, -1, 2**32):
        assert Reason(risk.check(i, BUY, PX, LOT, otype)) is Reason.BAD_ORDER_TYPE
    assert Reason(risk.check(2**40, BUY, PX, LOT)) is Reason.UNKNOWN_INSTRUMENT
    out = risk.check_batch(
        np.array([i, i, i, 2**32 + i, i], np.int64), np.array([0, 256, 2, 0, 1], np.int64),
        np.full(5, PX, np.int64), np.full(5, LOT, np.int64),
        np.array([0, 0, 0, 0, 256], np.int64),
    )
    # on main: side 256 wrapped to 0 (BUY) and index 2**32 + i wrapped to i
    assert [Reason(r) for r in out] == [Reason.OK, Reason.BAD_SIDE, Reason.BAD_SIDE,
                                        Reason.UNKNOWN_INSTRUMENT, Reason.BAD_ORDER_TYPE]


@pytest.mark.parametrize(
    ("arrays", "error", "message"),
    [
        ({"price": np.full(2, 5e6)}, TypeError, "price must be an array of integers"),
        ({"qty": np.full(2, 100.0)}, TypeError, "qty must be an array of integers"),
        ({"side": np.zeros(2, bool)}, TypeError, "side must be an array of integers"),
        ({"qty": np.full(2, 2**63, np.uint64)}, OverflowError, "qty"),
        ({"price": np.full(3, PX)}, ValueError, "price has 3 items"),
    ],
)
def test_batch_refuses_float_and_mismatched_arrays(
    arrays: dict[str, object], error: type[Exception], message: str
) -> None:
    risk, i = engine()
    args: dict[str, object] = {"index": np.full(2, i, np.int32), "side": np.zeros(2, np.uint8),
                               "price": np.full(2, PX, np.int64), "qty": np.full(2, LOT, np.int64)}
    with pytest.raises(error, match=message):
        risk.check_batch(**{**args, **arrays})  # type: ignore[arg-type]
    assert sum(risk.counts().values()) == 0


def test_int_subclasses_and_numpy_integers_are_accepted() -> None:
    risk, i = engine()
    assert risk.check(np.int32(i), Side.BUY, np.int64(PX), np.int64(LOT)) == 0
    assert risk.check(i, np.uint8(1), PX + 50, LOT, OrderType.LIMIT) == 0
    risk.on_order_open("n", BTC, Side.BUY, np.int64(PX), np.int64(LOT))
    risk.on_order_fill("n", BTC, Side.BUY, np.int64(LOT))
    assert risk.instrument_state(BTC)["position"] == LOT
    risk.set_state(TradingState.REDUCING)
    assert risk.state is TradingState.REDUCING


def test_a_refused_fill_leaves_the_order_and_the_position_as_they_were() -> None:
    # on main the open size was released, then the position update overflowed
    risk, _ = engine()
    risk.set_position(BTC, INT64_MAX - LOT)
    risk.on_order_open("a", BTC, BUY, PX, 3 * LOT)
    before = _snapshot(risk)
    with pytest.raises(OverflowError):
        risk.on_order_fill("a", BTC, BUY, 2 * LOT)
    assert _snapshot(risk) == before
    risk.on_order_fill("a", BTC, BUY, LOT)
    assert risk.instrument_state(BTC)["position"] == INT64_MAX
    assert risk.instrument_state(BTC)["open_buy_qty"] == 2 * LOT


def test_core_state_updates_refuse_releasing_more_than_is_open() -> None:
    risk, i = engine()
    core = risk._core
    core.order_open(i, 0, PX, 2 * LOT)
    before = core.book_state(), core.instrument_state(i)
    with pytest.raises(ValueError, match="more size, notional or orders than are counted open"):
        core.order_reduce(i, 0, PX, 3 * LOT, 0, True)
    with pytest.raises(ValueError, match="above old_qty"):
        core.order_reduce(i, 0, PX, LOT, 2 * LOT)
    with pytest.raises(ValueError, match="counted open"):
        core.order_reduce(i, 1, PX, LOT, 0, True)  # nothing open on the sell side
    assert (core.book_state(), core.instrument_state(i)) == before
    core.order_reduce(i, 0, PX, 2 * LOT, 0, True)
    assert core.book_state()["open_orders"] == 0
    with pytest.raises(ValueError, match="counted open"):
        core.order_reduce(i, 0, PX, 0, 0, True)  # no order left to close


def test_replace_moves_the_exposure_and_the_own_best_price() -> None:
    risk, _ = engine()
    risk.on_order_open("a", BTC, BUY, PX - 50, 2 * LOT)
    risk.on_order_open("b", BTC, BUY, PX - 100, LOT)
    risk.on_order_replaced("a", PX - 150, LOT)
    st = risk.instrument_state(BTC)
    assert st["best_own_bid"] == PX - 100 and st["open_buy_qty"] == 2 * LOT
    assert st["open_orders"] == 2
    assert risk.book_state()["open_buy_notional"] == (
        risk.notional(BTC, PX - 150, LOT) + risk.notional(BTC, PX - 100, LOT))
    assert chk(risk, SELL, PX - 100, LOT) is Reason.SELF_TRADE
    assert chk(risk, SELL, PX - 95, LOT) is Reason.OK
    risk.on_order_closed("b")
    assert risk.instrument_state(BTC)["best_own_bid"] == PX - 150
    risk.on_order_fill("a", BTC, BUY, LOT)
    assert risk.instrument_state(BTC)["best_own_bid"] is None
    assert risk.book_state()["open_buy_notional"] == 0


def test_own_best_price_moves_only_when_its_level_empties() -> None:
    risk, _ = engine()
    for k, px in enumerate([PX - 50, PX - 50, PX - 100]):
        risk.on_order_open(f"b{k}", BTC, BUY, px, LOT)
    risk.on_order_closed("b0")
    assert risk.instrument_state(BTC)["best_own_bid"] == PX - 50  # b1 still rests there
    risk.on_order_fill("b1", BTC, BUY, LOT)
    assert risk.instrument_state(BTC)["best_own_bid"] == PX - 100
    risk.on_order_closed("b2")
    assert risk.instrument_state(BTC)["best_own_bid"] is None


# ------------------------------------------------------- exact exposure sums against Python ints
EDGE_PX = st.sampled_from([1, 7, 10**9, 2**31, 3037000499, 2**40, 2**62, INT64_MAX]) | st.integers(
    1, INT64_MAX)
EDGE_QTY = st.sampled_from([1, 3, 10**6, 2**33, 2**62, INT64_MAX]) | st.integers(1, INT64_MAX)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 1), EDGE_PX, EDGE_QTY),
        st.tuples(st.just("close"), st.integers(0, 7), st.just(0), st.just(0)),
        st.tuples(st.just("fill"), st.integers(0, 7), st.just(0), EDGE_QTY),
        st.tuples(st.just("position"), st.just(0), st.just(0),
                  st.integers(INT64_MIN, INT64_MAX) | st.sampled_from([INT64_MIN, INT64_MAX, 0])),
        st.tuples(st.just("reference"), st.just(0), EDGE_PX | st.just(0), st.just(0)),
        st.tuples(st.just("check"), st.integers(0, 1), EDGE_PX, EDGE_QTY),
    ),
    max_size=14,
)


@given(
    pd=st.integers(0, 18), sd=st.integers(0, 18), nd=st.integers(0, 18), steps=ops,
    max_gross=st.none() | st.integers(0, INT64_MAX - 1) | st.sampled_from([INT64_MAX - 1, 0]),
    max_net=st.none() | st.integers(0, INT64_MAX - 1),
)
def test_exposure_sums_and_decisions_equal_python_ints(
    pd: int, sd: int, nd: int, steps: list[tuple[str, int, int, int]], max_gross: int | None,
    max_net: int | None,
) -> None:
    inst = Instrument("x", "EDGE", pd, sd)
    risk = RiskEngine(notional_decimals=nd,
                      limits=RiskLimits(max_gross_exposure=max_gross, max_net_exposure=max_net))
    risk.add_instrument(inst, InstrumentLimits(self_trade_prevention=False))
    scale = Fraction(10) ** (nd - pd - sd)

    def notional(p: int, q: int) -> int | None:  # rounded up; None beyond int64
        v = Fraction(p * q) * scale
        n = -((-v.numerator) // v.denominator)
        return n if n <= INT64_MAX else None

    def marked(pos: int, ref: int) -> int | None:  # away from zero; None beyond int64
        v = abs(Fraction(pos * ref) * scale)
        n = -((-v.numerator) // v.denominator)
        n = n if pos >= 0 else -n
        return n if INT64_MIN <= n <= INT64_MAX else None

    orders: dict[str, list[int]] = {}
    position, ref, seq = 0, 0, 0
    for op, a, b, c in steps:
        if op == "open":
            seq += 1
            oid = f"o{seq}"
            risk.on_order_open(oid, inst, a, b, c)
            orders[oid] = [a, b, c]
        elif op == "close" and orders:
            oid = sorted(orders)[a % len(orders)]
            risk.on_order_closed(oid)
            del orders[oid]
        elif op == "fill" and orders:
            oid = sorted(orders)[a % len(orders)]
            sd_, _px, rem = orders[oid]
            new_pos = position + (c if sd_ == 0 else -c)
            if not INT64_MIN <= new_pos <= INT64_MAX:
                with pytest.raises(OverflowError):
                    risk.on_order_fill(oid, inst, sd_, c)
                continue
            risk.on_order_fill(oid, inst, sd_, c)
            position = new_pos
            if c >= rem:
                del orders[oid]
            else:
                orders[oid][2] = rem - c
        elif op == "position":
            risk.set_position(inst, c)
            position = c
        elif op == "reference":
            risk.set_reference(inst, b)
            ref = b
        # the model: bounded sums exactly, unbounded terms counted
        ns = {oid: notional(p, q) for oid, (s_, p, q) in orders.items()}
        ob = sum(n for oid, n in ns.items() if n is not None and orders[oid][0] == 0)
        os_ = sum(n for oid, n in ns.items() if n is not None and orders[oid][0] == 1)
        pn = marked(position, ref) if ref > 0 and position else 0
        unbounded = sum(n is None for n in ns.values()) + (pn is None)
        state = risk.book_state()
        assert state["open_buy_notional"] == ob and state["open_sell_notional"] == os_
        assert state["unbounded_exposures"] == unbounded
        assert state["net_position"] == (pn or 0) and state["gross_position"] == abs(pn or 0)
        ist = risk.instrument_state(inst)
        assert ist["open_buy_qty"] == sum(q for s_, p, q in orders.values() if s_ == 0)
        assert ist["open_sell_qty"] == sum(q for s_, p, q in orders.values() if s_ == 1)
        if op == "check":
            n = notional(b, c)
            got = risk.check_order(inst, a, b, c)
            if n is None:
                assert got is Reason.NOTIONAL_OVERFLOW
                continue
            buys = sum(q for s_, p, q in orders.values() if s_ == 0)
            sells = sum(q for s_, p, q in orders.values() if s_ == 1)
            after = position + buys + c if a == 0 else position - sells - c
            reduces = (position < 0 and after <= 0) if a == 0 else (position > 0 and after >= 0)
            want = Reason.OK
            if not reduces:
                gross = abs(pn or 0) + ob + os_ + n
                net = (pn or 0) + ob + n if a == 0 else (pn or 0) - os_ - n
                if max_gross is not None and (unbounded or gross > max_gross):
                    want = Reason.GROSS_EXPOSURE
                elif max_net is not None and (unbounded or abs(net) > max_net):
                    want = Reason.NET_EXPOSURE
            assert got is want, (a, b, c, state)


# ------------------------------------------------------------- the GIL-free batch and mutation
def test_mutators_raise_while_check_batch_runs_without_the_gil() -> None:
    # on main, set_instrument reallocated the instrument array under the running batch: a
    # use-after-free that could crash the process
    import threading

    risk, i = engine()
    core = risk._core
    n = 1_000_000
    args = (np.full(n, i, np.int32), np.zeros(n, np.uint8), np.full(n, PX, np.int64),
            np.full(n, LOT, np.int64), np.zeros(n, np.uint8), np.empty(n, np.uint8))
    refused = threading.Event()
    finished = threading.Event()
    results: list[int] = []

    def batches() -> None:
        try:
            for _ in range(300):  # until the other thread has seen a refusal
                results.append(core.check_batch(*args))
                if refused.is_set():
                    break
        finally:
            finished.set()

    worker = threading.Thread(target=batches)
    worker.start()
    grown = 1000
    seen: set[str] = set()
    while not finished.is_set():
        for name, call in (
            ("set_instrument", lambda k=grown: core.set_instrument(k, price_decimals=2,
                                                                   size_decimals=5)),
            ("check", lambda: core.check(i, 0, PX, LOT)),
            ("order_open", lambda: core.order_open(i, 1, PX + 10**6, LOT)),
            ("check_batch", lambda: core.check_batch(*args[:5], np.empty(n, np.uint8))),
        ):
            try:
                call()
            except RuntimeError as exc:
                assert "in use by check_batch" in str(exc)
                seen.add(name)
                refused.set()
        grown = grown + 1000 if grown < 100_000 else 1000
    worker.join()
    assert refused.is_set() and seen
    assert results and all(r == n for r in results)  # every order of every batch passed
    # nothing was left reserved by the batches; only the opens that went through are counted
    opened = core.book_state()["open_orders"]
    assert core.instrument_state(i)["open_sell_qty"] == opened * LOT
    assert core.instrument_state(i)["open_buy_qty"] == 0


def test_the_compiled_core_validates_its_own_arguments() -> None:
    from hftcore._ext.risk import RiskCore

    with pytest.raises(ValueError, match="notional_decimals must be 0..18"):
        RiskCore(19)
    with pytest.raises(TypeError, match="notional_decimals must be an int, not float"):
        RiskCore(8.0)
    core = RiskCore(8)
    with pytest.raises(ValueError, match="index must be 0..1000000"):
        core.set_instrument(-1, price_decimals=2, size_decimals=5)
    with pytest.raises(TypeError, match="price_decimals must be an int, not float"):
        core.set_instrument(0, price_decimals=2.0, size_decimals=5)
    with pytest.raises(TypeError, match="self_trade_prevention must be a bool, not int"):
        core.set_instrument(0, price_decimals=2, size_decimals=5, self_trade_prevention=1)
    with pytest.raises(ValueError, match="venue must be 0..65535"):
        core.set_venue(70000)
    assert core.book_state()["open_orders"] == 0
    core.set_instrument(0, price_decimals=2, size_decimals=5)
    with pytest.raises(ValueError, match="decimals cannot change"):
        core.set_instrument(0, price_decimals=3, size_decimals=5)
    with pytest.raises(TypeError, match="killed must be a bool, not int"):
        core.killed = 1
    with pytest.raises(TypeError, match="state must be an int, not bool"):
        core.state = True
    with pytest.raises(KeyError, match="instrument index 3 is not registered"):
        core.order_open(3, 0, 100, 1)
    n = 3
    good = {"inst": np.zeros(n, np.int32), "side": np.zeros(n, np.uint8),
            "price": np.full(n, 100, np.int64), "qty": np.ones(n, np.int64),
            "order_type": np.zeros(n, np.uint8), "reasons": np.empty(n, np.uint8)}
    for name, bad in [("inst", np.zeros(n, np.int64)), ("price", np.full(n, 100.0)),
                      ("side", [0, 0, 0]), ("reasons", np.empty(n, np.uint8)[::-1])]:
        with pytest.raises((TypeError, ValueError), match=name):
            core.check_batch(**{**good, name: bad})
    with pytest.raises(ValueError, match="same length"):
        core.check_batch(**{**good, "qty": np.ones(n + 1, np.int64)})
    assert core.check_batch(**good) == n
    assert sum(core.counts()) == n
