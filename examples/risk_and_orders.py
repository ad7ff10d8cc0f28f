"""Pre-trade risk, the order life cycle and exact PnL, end to end, with no venue and no network.

A scripted venue answers the way real ones do (a fill before the ack, a duplicate fill, a cancel
ack after a fill, a lost answer settled by reconciliation); every event goes to the binary order
journal first; a malformed request is refused before anything is recorded; at the end the
journal alone rebuilds the same orders and positions.

Run: ``python examples/risk_and_orders.py``
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hftcore import (
    FeeSchedule,
    Fill,
    Instrument,
    InstrumentLimits,
    Liquidity,
    OrderManager,
    Portfolio,
    Reason,
    RiskEngine,
    RiskLimits,
    Side,
    VenueOrder,
    VenueRateLimit,
)


def main() -> None:
    btc = Instrument("binance", "BTCUSDT", 2, 5, tick="0.01", lot="0.00001", base="BTC",
                     quote="USDT", min_notional="5")
    # -- risk: limits per instrument and book-wide (notionals at 8 decimals of USDT) ------------
    cancels: list[str] = []
    risk = RiskEngine(
        notional_decimals=8,
        limits=RiskLimits(max_gross_exposure=100_000 * 10**8, max_open_orders=10,
                          max_daily_loss=500 * 10**8, max_errors=5),
        on_cancel_all=cancels.extend,
    )
    idx = risk.add_instrument(btc, InstrumentLimits(max_position=btc.qty("1"), band_bps=200))
    risk.set_rate_limit("binance", VenueRateLimit(order_rate=10, order_burst=50,
                                                  cancel_rate=10, cancel_burst=50))
    risk.set_reference(btc, btc.price("50000"))

    # the compiled check straight from Python: an int reason, 0 passes
    print("check 0.1 BTC @ 50000:", Reason(risk.check(idx, Side.BUY, btc.price("50000"),
                                                     btc.qty("0.1"))).name)
    for price, qty in (("53000", "0.1"), ("50000", "2"), ("50000", "0.00001")):
        r = risk.check_order(btc, Side.BUY, btc.price(price), btc.qty(qty))
        print(f"check {qty} BTC @ {price}: {r.name} - {r.message}")

    # -- orders through the manager, journaled --
    journal = Path(tempfile.mkdtemp()) / "orders.journal"
    fees = FeeSchedule.from_text("0.0001", "0.0004")  # maker 1 bp, taker 4 bp
    om = OrderManager(journal=journal, portfolio=Portfolio(fees), risk=risk)

    buy = om.create(btc, Side.BUY, btc.qty("0.4"), btc.price("50000"))
    assert om.submit(buy) is Reason.OK
    cid = buy.client_order_id
    om.on_fill(cid, "T1", btc.qty("0.1"), btc.price("50000"), Liquidity.MAKER)  # before the ack
    om.on_ack(cid, "V1")  # the late ack is recognized as such
    om.on_fill(cid, "T1", btc.qty("0.1"), btc.price("50000"), Liquidity.MAKER)  # duplicate
    om.on_fill(cid, "T2", btc.qty("0.3"), btc.price("49999.50"), Liquidity.MAKER)
    om.on_canceled(cid)  # a cancel ack after the fill: ignored
    print(buy, "history:", [e for _, _, e in buy.history])

    too_big = om.create(btc, Side.BUY, btc.qty("0.7"), btc.price("50000"))
    print("second buy:", om.submit(too_big).name, "->", too_big.status)
    try:  # a float never becomes a size: refused before it reaches the journal
        om.create(btc, Side.BUY, 0.5, btc.price("50000"))  # type: ignore[arg-type]
    except TypeError as e:
        print("refused:", e)

    sell = om.create(btc, Side.SELL, btc.qty("0.25"), btc.price("50100"))
    om.submit(sell)
    om.check_timeouts(now=sell.sent_ns + om.timeout_ns)  # the venue never answered
    print("after the timeout:", sell.status)
    report = om.reconcile(  # ask the venue: partly filled and still open
        "binance",
        open_orders=[VenueOrder(sell.client_order_id, "V2", filled=btc.qty("0.05"))],
        fills=[Fill(sell.client_order_id, "T3", Side.SELL, btc.qty("0.05"),
                    btc.price("50100"), Liquidity.TAKER)],
    )
    print("reconciled:", {k: v.name for k, v in report.resolved.items()})

    # -- positions and PnL --
    om.portfolio.mark(btc, btc.price("50050"))
    pos = om.portfolio.position(btc)
    vd = pos.value_decimals
    print(f"position {btc.format_qty(pos.net)} BTC, avg {btc.format_price(pos.avg_price or 0)}")
    print(f"realized {Portfolio.to_decimal(pos, pos.realized_pnl)} USDT, unrealized "
          f"{Portfolio.to_decimal(pos, pos.unrealized_pnl)}, fees "
          f"{Portfolio.to_decimal(pos, pos.fees)} (value decimals {vd})")
    risk.set_pnl(*om.portfolio.pnl(risk.notional_decimals))
    print(om.portfolio)

    # -- kill switch: halt and cancel everything still open --
    risk.kill()
    for c in cancels:
        om.cancel(c)
    print("kill switch: cancel requested for", cancels, "->", om[cancels[0]].status)
    print("risk decisions:", {r.name: n for r, n in risk.counts().items() if n})
    print("venue anomalies:", dict(om.counts))
    om.close()

    # -- crash recovery: the journal alone rebuilds the orders and positions --
    back = OrderManager.recover(journal, portfolio=Portfolio(fees))
    same = all(back[o.client_order_id].status is o.status and
               back[o.client_order_id].filled == o.filled for o in om)
    print("recovered", len(back), "orders from", journal.name, "- identical:", same,
          "- same position:", back.portfolio.position(btc).net == pos.net)
    back.close()


if __name__ == "__main__":
    main()
