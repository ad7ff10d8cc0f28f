"""Portfolio: exact positions, average price, realized/unrealized PnL, fees, turnover."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from trading_sim import BTC, ETH, reference_positions

from hftcore import FeeSchedule, Instrument, Liquidity, Portfolio, Side

B, S_ = Side.BUY, Side.SELL
KRW = Instrument("upbit", "BTCKRW", 0, 8, quote="KRW")


def test_long_round_trip_exact() -> None:
    pf = Portfolio()
    pf.apply(BTC, B, BTC.qty("0.3"), BTC.price("50000.05"))
    pf.apply(BTC, B, BTC.qty("0.2"), BTC.price("50010"))
    pos = pf.position(BTC)
    assert pos.net == BTC.qty("0.5")
    # cost 15000.015 + 10002 = 25002.015 for 0.5 -> 50004.03
    assert pos.avg_price == BTC.price("50004.03")
    assert pos.cost == 25002_0150000  # value decimals: 2 + 5 = 7
    pf.mark(BTC, BTC.price("50100"))
    assert pos.unrealized_pnl == 25050_0000000 - 25002_0150000
    pf.apply(BTC, S_, BTC.qty("0.5"), BTC.price("49990"))
    assert pos.net == 0 and pos.cost == 0 and pos.avg_price is None
    assert pos.realized_pnl == (24995 * 10**7 - 25002_0150000)
    assert pos.turnover == (15000015 + 10002000 + 24995000) * 10**4


def test_short_partial_close_and_flip() -> None:
    pf = Portfolio()
    pos = pf.apply(ETH, S_, ETH.qty("3"), ETH.price("3000"))
    assert pos.net == -ETH.qty("3") and pos.cost == -9000 * 10**6
    pf.apply(ETH, B, ETH.qty("1"), ETH.price("2900"))  # +100 realized
    assert pos.realized_pnl == 100 * 10**6 and pos.net == -ETH.qty("2")
    pf.apply(ETH, B, ETH.qty("5"), ETH.price("2950"))  # close 2 (+100), open long 3 @ 2950
    assert pos.realized_pnl == 200 * 10**6
    assert pos.net == ETH.qty("3") and pos.avg_price == ETH.price("2950")


def test_partial_close_rounding_is_half_even_and_round_trip_exact() -> None:
    inst = Instrument("x", "T", 0, 0)
    pf = Portfolio()
    pf.apply(inst, B, 1, 10)
    pf.apply(inst, B, 2, 11)  # cost 32 for 3: 10.666..
    pos = pf.apply(inst, S_, 1, 12)  # removed = round(32/3) = 11 -> realized 1
    assert pos.realized_pnl == 1 and pos.cost == 21 and pos.avg_price == 10  # 21/2 = 10.5 -> 10
    pf.apply(inst, S_, 2, 12)
    assert pos.realized_pnl == 3 * 12 - 32  # flat again: exactly the cash that changed hands


def test_fees_maker_taker_rounded_up() -> None:
    pf = Portfolio(FeeSchedule.from_text("-0.0001", "0.0004"))  # maker rebate
    pos = pf.apply(BTC, B, BTC.qty("0.00123"), BTC.price("50000.01"), liquidity=Liquidity.TAKER)
    value = BTC.qty("0.00123") * BTC.price("50000.01")  # 61.5000123 USDT at 7 decimals
    assert pos.fees == -((-value * 4) // 10**4)  # ceil(value * 0.0004)
    pf.apply(BTC, S_, BTC.qty("0.00123"), BTC.price("50000.01"), liquidity=Liquidity.MAKER)
    assert pos.fees == -((-value * 4) // 10**4) + -(value // 10**4)  # rebate: ceiling
    pf.apply(BTC, B, 1, 1, fee=17)  # the venue's own fee wins
    assert pos.fees == -((-value * 4) // 10**4) + -(value // 10**4) + 17
    assert pos.total_pnl == pos.realized_pnl + pos.unrealized_pnl - pos.fees


def test_totals_per_quote_currency() -> None:
    pf = Portfolio()
    pf.apply(BTC, B, BTC.qty("1"), BTC.price("50000"))
    pf.apply(BTC, S_, BTC.qty("1"), BTC.price("50001.5"))
    pf.apply(ETH, S_, ETH.qty("1"), ETH.price("3000"))
    pf.mark(ETH, ETH.price("2999.99"))
    pf.apply(KRW, B, KRW.qty("0.001"), KRW.price("90000000"))
    t = pf.totals(2)
    assert t["USDT"].realized_pnl == 150 and t["USDT"].unrealized_pnl == 1
    assert t["USDT"].turnover == (50000 + 50001.5 + 3000) * 100
    assert t["KRW"].turnover == 90000 * 100
    assert pf.pnl(2) == (150, 1)
    assert Portfolio.to_decimal(pf.position(BTC), pf.position(BTC).realized_pnl) == Decimal("1.5")


fills = st.lists(
    st.tuples(st.sampled_from([BTC, ETH]), st.sampled_from([B, S_]), st.integers(1, 5000),
              st.integers(1, 10**7), st.integers(-50, 200)),
    max_size=60,
)


@given(fills=fills, mark=st.integers(1, 10**7))
def test_portfolio_equals_recomputation(fills: list, mark: int) -> None:
    pf = Portfolio()
    for inst, side, q, px, fee in fills:
        pf.apply(inst, side, q, px, fee=fee)
    ref = reference_positions(fills)
    for pos in pf:
        r = ref[pos.instrument.symbol]
        assert (pos.net, pos.cost, pos.realized_pnl, pos.fees, pos.turnover) == (
            r["net"], r["cost"], r["realized"], r["fees"], r["turnover"]
        )
        pf.mark(pos.instrument, mark)
        # realized + unrealized is exactly the cash flow plus the marked position
        assert pos.realized_pnl + pos.unrealized_pnl == r["cash"] + pos.net * mark
        assert pos.bought - pos.sold == pos.net
        if pos.net:
            assert abs(pos.avg_price * abs(pos.net) - abs(pos.cost)) <= abs(pos.net) // 2 + 1


def test_portfolio_prints_positions_and_pnl() -> None:
    pf = Portfolio()
    assert repr(pf) == "Portfolio(flat, no positions)"
    pf.apply(BTC, B, BTC.qty("0.5"), BTC.price("50000"))
    pf.apply(BTC, S_, BTC.qty("0.2"), BTC.price("50100"))
    pf.mark(BTC, BTC.price("50050"))
    text = repr(pf)
    assert text.startswith("Portfolio(1 position: sim:BTCUSDT net=0.30000 @ 50000.00 ")
    assert "realized=20.0000000 unrealized=15.0000000 fees=0E-7 USDT" in text
    assert repr(pf.position(BTC)) == (
        "Position(BTCUSDT net=0.30000 realized=20.0000000 unrealized=15.0000000 "
        "fees=0.0000000)")


def test_money_beyond_int64_is_exact() -> None:
    inst = Instrument("x", "BIG", 9, 9)  # value decimals 18
    pf = Portfolio(FeeSchedule.from_text("0.0001", "0.0004"))
    price, qty = 9 * 10**15, 5 * 10**15  # 9e6 at 9 decimals times 5e6
    pos = pf.apply(inst, B, qty, price)
    assert pos.cost == price * qty  # 4.5e31: far beyond int64
    assert pos.fees == -((-price * qty * 4) // 10**4)  # fee rounded up, exact
    pf.apply(inst, S_, qty, price + 1)
    assert pos.net == 0 and pos.realized_pnl == qty
    assert pos.turnover == price * qty + (price + 1) * qty


def test_position_past_int64_is_refused_untouched() -> None:
    import pytest

    pf = Portfolio()
    pf.apply(BTC, B, 2**62, 1)
    before = pf.snapshot()
    with pytest.raises(OverflowError, match="int64"):
        pf.apply(BTC, B, 2**62, 1)
    assert pf.snapshot() == before
    pf.apply(BTC, S_, 2**62, 1)  # closing is fine
    assert pf.position(BTC).net == 0


def test_fee_schedule_changes_reach_existing_positions() -> None:
    pf = Portfolio()
    pos = pf.apply(BTC, B, 1000, 10**6)
    assert pos.fees == 0
    pf.default_fees = FeeSchedule.from_text("0", "0.001")
    pf.apply(BTC, B, 1000, 10**6)
    assert pos.fees == 10**6  # 1000 * 10**6 * 0.001
    pf.set_fees(BTC, FeeSchedule.from_text("0", "0"))
    pf.default_fees = FeeSchedule.from_text("0", "0.5")  # the instrument keeps its own
    pf.apply(BTC, B, 1000, 10**6)
    assert pos.fees == 10**6
