"""A market maker with inventory skew and risk limits, backtested over the bundled sample.

The strategy keeps one bid and one ask working on each instrument it trades (``Strategy.quote``
amends them in place, so a quote that did not move costs no message):

* prices: join the best bid and ask, or step one tick inside when the spread leaves room;
* inventory skew: both quotes move away from the inventory, by up to ``skew_ticks`` at the
  position limit, so a long position sells more readily than it buys;
* sizes: ``quote_size`` per instrument; the side that would take the position past
  ``max_position`` is pulled;
* risk: a ``RiskEngine`` with ``InstrumentLimits`` (maximum order size, position and open
  orders) checks every order the strategy sends, as it would live; a refused order reaches
  ``on_order`` as REJECTED with its reason, and the strategy counts them.

The run replays the bundled Coinbase recording (``hftcore.data.sample``) through the simulated
exchange with log-normal order latencies and maker/taker fees, prints a summary and, when
matplotlib is installed, writes the PnL / inventory plot.

Run: ``python examples/market_maker.py [--symbols SKL-USD,NMR-EUR] [--plot mm.png | --no-plot]``
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from hftcore import Instrument, InstrumentLimits, OrderStatus, RiskEngine, fixed
from hftcore.backtest import BacktestResult, backtest
from hftcore.data import sample
from hftcore.strategy import Strategy
from hftcore.venues.sim import Latency, lognormal

#: quote size and position limit per symbol, in the instrument's units (about 300-400 USD each)
SIZES = {
    "SKL-USD": ("400", "2000"),
    "NMR-EUR": ("5", "25"),
    "CRV-EUR": ("100", "500"),
    "BAND-GBP": ("20", "100"),
}


class SkewedMarketMaker(Strategy):
    """Quote both sides of each instrument, skewed against the inventory.

    Parameters
    ----------
    sizes : dict
        ``{symbol: (quote_size, max_position)}`` as raw ints at the instrument's size decimals.
    skew_ticks : int
        How far (ticks) both quotes move against the inventory when it is at ``max_position``.
    """

    def __init__(self, sizes: dict[str, tuple[int, int]], skew_ticks: int = 3) -> None:
        super().__init__()
        self.sizes = sizes
        self.skew_ticks = skew_ticks
        self.rejections: Counter[str] = Counter()
        self.max_abs_position: Counter[str] = Counter()

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        best_bid, best_ask = book.best_bid, book.best_ask
        if best_bid is None or best_ask is None or best_ask <= best_bid:
            self.cancel_all(instrument)               # one side empty, or a crossed book
            return
        size, max_pos = self.sizes[instrument.symbol]
        tick = instrument.tick
        bid, ask = best_bid, best_ask
        if ask - bid > 2 * tick:                      # room inside the spread: step in
            bid, ask = bid + tick, ask - tick
        pos = self.position(instrument)
        skew = abs(pos) * self.skew_ticks // max_pos * tick
        if pos > 0:                                   # long: lower both, sell sooner
            bid, ask = bid - skew, ask - skew
        elif pos < 0:
            bid, ask = bid + skew, ask + skew
        bid = min(bid, best_ask - tick)               # never cross: that would take liquidity
        ask = max(ask, best_bid + tick)
        self.quote(instrument,
                   bid if pos + size <= max_pos else None,
                   ask if pos - size >= -max_pos else None,
                   size)

    def on_order(self, order: Any) -> None:
        if order.status == OrderStatus.REJECTED:
            self.rejections[order.reason.split(":")[0]] += 1

    def on_fill(self, fill: Any) -> None:
        for inst in self.engine.instruments:
            pos = abs(self.position(inst))
            if pos > self.max_abs_position[inst.symbol]:
                self.max_abs_position[inst.symbol] = pos


def run(symbols: list[str], seed: int = 0) -> tuple[SkewedMarketMaker, BacktestResult]:
    """Backtest the market maker on ``symbols`` of the sample; returns (strategy, result)."""
    by_symbol = {inst.symbol: inst for inst in sample.instruments()}
    insts = [by_symbol[s] for s in symbols]
    sizes = {}
    risk = RiskEngine()
    for inst in insts:
        size, max_pos = (inst.qty(x) for x in SIZES[inst.symbol])
        sizes[inst.symbol] = (size, max_pos)
        # the hard limits: what the strategy must never do, whatever its own logic says
        risk.add_instrument(inst, InstrumentLimits(max_size=size, max_position=max_pos + size,
                                                   max_open_orders=4))
    strategy = SkewedMarketMaker(sizes)
    result = backtest(
        strategy, sample.paths(), insts,
        # order entry and answers: ~150 µs median with a network-like tail, drawn with the seed
        latency=Latency(entry=lognormal(150_000, 0.4), response=lognormal(150_000, 0.4)),
        fees=("0.0001", "0.0005"),                    # maker 1 bp, taker 5 bp
        risk=risk, seed=seed, progress=False,
    )
    return strategy, result


def report(strategy: SkewedMarketMaker, result: BacktestResult) -> str:
    """The summary printed by :func:`main`."""
    fills, orders = result.fills, result.orders
    lines = [result.summary(), "", "per instrument (PnL in its quote currency, after fees)"]
    engine = result.engine
    assert engine is not None
    for inst in engine.instruments:
        mine = fills[fills["symbol"] == inst.symbol]
        bought = int(mine.loc[mine["side"] == "BUY", "qty"].sum())
        sold = int(mine.loc[mine["side"] == "SELL", "qty"].sum())
        pnl = fixed.format(strategy.pnl(inst), inst.price_decimals + inst.size_decimals)
        pos = strategy.position(inst)
        lines.append(
            f"  {inst.symbol:<9} fills {len(mine):>3}  bought {inst.format_qty(bought):>8}  "
            f"sold {inst.format_qty(sold):>8}  position {inst.format_qty(pos):>8}  "
            f"max |position| {inst.format_qty(strategy.max_abs_position[inst.symbol]):>8}  "
            f"PnL {pnl} {inst.quote}")
    statuses = Counter(orders["status"])
    lines.append("")
    lines.append("orders by final status: " + ", ".join(f"{k} {v}" for k, v in
                                                           sorted(statuses.items())))
    lines.append("risk rejections: " + (", ".join(f"{k} {v}" for k, v in
                                                  sorted(strategy.rejections.items())) or "none"))
    liq = Counter(fills["liquidity"])
    lines.append(f"fills: {liq.get('MAKER', 0)} maker, {liq.get('TAKER', 0)} taker")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--symbols", default="SKL-USD,NMR-EUR,CRV-EUR,BAND-GBP",
                   help=f"comma-separated, among {', '.join(SIZES)}")
    p.add_argument("--seed", type=int, default=0, help="seed of the latency distributions")
    p.add_argument("--plot", default="market_maker.png", help="where to write the plot")
    p.add_argument("--no-plot", action="store_true", help="do not write the plot")
    args = p.parse_args()
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    unknown = [s for s in symbols if s not in SIZES]
    if unknown:
        p.error(f"--symbols: no sizes for {unknown}; choose among {list(SIZES)}")
    strategy, result = run(symbols, args.seed)
    print(f"market maker on {', '.join(symbols)} over {sample.paths()[0].name} "
          "(bundled Coinbase sample)")
    print(report(strategy, result))
    if not args.no_plot:
        try:
            result.plot(args.plot)
        except ImportError:
            print("no plot: matplotlib is not installed (pip install 'hftcore[plot]')")
        else:
            print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
