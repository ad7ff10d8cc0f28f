"""Cross-venue arbitrage: two venues' books of one asset, taking when one venue's bid crosses
the other's ask by more than the fees.

Data.  The recordings of different venues in ``tests/data`` do not overlap in time or in
instruments, so the second venue is made from a real recording by a documented transformation:
the bundled Coinbase sample's SKL-USD events (``hftcore.venues.replay.Replay``) replayed a second
time as venue ``"lagged"``, every event ``--lag-ms`` later (a venue whose market makers follow
Coinbase with a delay) and every book and trade price ``--premium-ticks`` higher (a venue where
the asset trades rich).  Both streams are merged in receive-time order and run through one
``hftcore.engine.Engine`` with two instruments on two venues; the simulated exchange matches
each order against the book of its own venue, with latency, queue and liquidity consumption.

Strategy.  On every top-of-book change of either venue, when ``bid(X) - ask(Y)`` pays the taker
fee of both legs plus ``--min-edge-bps``, buy on Y at its ask and sell on X at its bid, both IOC,
for the size both tops show (capped).  A leg can miss (the book moved while the order flew); the
strategy then flattens the difference with an IOC at the other venue's touch.  Positions build
up on each venue (long where it buys, short where it sells): a desk moves the asset between
venues to reset them; here ``InstrumentLimits(max_position=...)`` in the risk engine stops the
strategy adding once a venue's position is at the limit, and the refusals are counted.

Run: ``python examples/cross_venue_arbitrage.py [--lag-ms 2000] [--premium-ticks 3]``
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hftcore import (
    Instrument,
    InstrumentLimits,
    OrderStatus,
    RiskEngine,
    Side,
    TimeInForce,
    fixed,
)
from hftcore.data import sample
from hftcore.data.events import EV_DELTA, EV_TRADE
from hftcore.engine import Engine
from hftcore.portfolio import RATE_DECIMALS, FeeSchedule
from hftcore.strategy import Strategy
from hftcore.venues.replay import Replay
from hftcore.venues.sim import SimExchange

SYMBOL = "SKL-USD"
BPS = 10_000


def lagged_copy(events: np.ndarray[Any, Any], instrument: int, lag_ns: int,
                premium: int) -> np.ndarray[Any, Any]:
    """``events`` as seen on another venue: for engine instrument ``instrument``, received (and
    stamped by the venue) ``lag_ns`` later, book levels and trades ``premium`` (raw) higher."""
    out = events.copy()
    out["instrument"] = instrument
    out["local_ts"] += lag_ns
    stamped = out["exchange_ts"] != 0
    out["exchange_ts"][stamped] += lag_ns
    priced = (out["kind"] == EV_DELTA) | (out["kind"] == EV_TRADE)
    out["price"][priced] += premium
    return out


def merge(*streams: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Event arrays merged in receive-time order (ties keep the order of ``streams``, so the
    events of one venue message stay together)."""
    allv = np.concatenate(streams)
    return allv[np.argsort(allv["local_ts"], kind="stable")]


class CrossVenueArbitrage(Strategy):
    """Take both legs with IOC orders when one venue's bid crosses the other's ask net of fees.

    Parameters
    ----------
    venues : (Instrument, Instrument)
        The same asset on two venues (same decimals).
    fees : FeeSchedule
        The taker rate is what each leg pays.
    max_clip, min_clip : int
        Largest and smallest size of one leg (raw): smaller opportunities are not worth the
        messages.
    min_edge_bps : int
        Profit wanted beyond the fees, in basis points of the ask.
    hedge_ticks : int
        Slippage a hedge accepts past the touch (it sweeps deeper levels if it must).
    """

    def __init__(self, venues: tuple[Instrument, Instrument], fees: FeeSchedule, max_clip: int,
                 min_clip: int = 1, min_edge_bps: int = 1, hedge_ticks: int = 5) -> None:
        super().__init__()
        self.venues = venues
        self.taker = fees.taker                       # rate at RATE_DECIMALS
        self.max_clip = max_clip
        self.min_clip = min_clip
        self.min_edge_bps = min_edge_bps
        self.hedge_ticks = hedge_ticks
        # the top levels we took, as the feed still shows them: a replayed feed does not know
        # about our trades, so the same price and size is liquidity already gone
        self.taken: dict[tuple[str, Side], tuple[int, int]] = {}
        self.log: list[str] = []
        self.attempts = 0
        self.hedges = 0
        self.legs: Counter[str] = Counter()           # IOC outcomes: FILLED, MISSED ...
        self.rejections: Counter[str] = Counter()
        self.fills: Counter[str] = Counter()          # per venue
        self.cash = 0                                 # sold - bought - fees, value decimals

    # -- the opportunity -------------------------------------------------------------------
    def pays(self, bid: int, ask: int) -> bool:
        """Whether selling at ``bid`` and buying at ``ask`` pays both taker fees and the wanted
        edge: ``bid - ask > (bid + ask) * taker + ask * min_edge``, in exact integers."""
        scale = 10**RATE_DECIMALS
        return ((bid - ask) * scale * BPS
                > (bid + ask) * self.taker * BPS + ask * self.min_edge_bps * scale)

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        if self.open_orders():
            return                                    # one trade (or hedge) in flight at a time
        a, b = self.venues
        if self.hedge():
            return
        for buy_on, sell_on in ((a, b), (b, a)):
            ask_book, bid_book = self.book(buy_on), self.book(sell_on)
            ask, bid = ask_book.best_ask, bid_book.best_bid
            if ask is None or bid is None or not self.pays(bid, ask):
                continue
            top_ask = (ask, ask_book.best_ask_size)
            top_bid = (bid, bid_book.best_bid_size)
            if (self.taken.get((buy_on.venue, Side.BUY)) == top_ask
                    or self.taken.get((sell_on.venue, Side.SELL)) == top_bid):
                continue
            size = min(top_ask[1], top_bid[1], self.max_clip)
            size -= size % buy_on.lot
            if size < self.min_clip:
                continue
            self.taken[(buy_on.venue, Side.BUY)] = top_ask
            self.taken[(sell_on.venue, Side.SELL)] = top_bid
            self.attempts += 1
            edge_bps = fixed.format((bid - ask) * BPS * 100 // ask, 2)
            self.note(f"{buy_on.venue} ask {buy_on.format_price(ask)} < {sell_on.venue} bid "
                      f"{sell_on.format_price(bid)} ({edge_bps} bps): buy and sell "
                      f"{buy_on.format_qty(size)}")
            self.buy(buy_on, size, ask, tif=TimeInForce.IOC)
            self.sell(sell_on, size, bid, tif=TimeInForce.IOC)
            return

    def hedge(self) -> bool:
        """Flatten a leg that missed: trade the net difference at the better touch, IOC,
        accepting up to ``hedge_ticks`` of slippage past it."""
        a, b = self.venues
        net = self.position(a) + self.position(b)
        if net == 0:
            return False
        side = Side.SELL if net > 0 else Side.BUY
        # the venue that pays more for what we sell (or asks less for what we buy)
        books = [(inst, self.book(inst)) for inst in self.venues]
        if side == Side.SELL:
            quotes = [(bk.best_bid, inst) for inst, bk in books if bk.best_bid is not None]
            if not quotes:
                return False
            price, inst = max(quotes, key=lambda q: q[0])
        else:
            quotes = [(bk.best_ask, inst) for inst, bk in books if bk.best_ask is not None]
            if not quotes:
                return False
            price, inst = min(quotes, key=lambda q: q[0])
        self.hedges += 1
        limit = price - self.hedge_ticks * inst.tick if side == Side.SELL else \
            price + self.hedge_ticks * inst.tick
        self.note(f"hedge: {side.name} {inst.format_qty(abs(net))} on {inst.venue} at "
                  f"{inst.format_price(limit)} or better")
        self.submit(inst, side, abs(net), limit, tif=TimeInForce.IOC)
        return True

    def on_order(self, order: Any) -> None:
        status = order.status
        if not status.is_terminal:
            return
        inst = order.instrument
        if status == OrderStatus.REJECTED:
            self.rejections[order.reason] += 1
            outcome = "REJECTED"
        else:
            outcome = ("FILLED" if order.filled == order.size else
                       "PARTIAL" if order.filled else "MISSED")
        self.legs[outcome] += 1
        self.fills[inst.venue] += len(order.fills)
        done = f"{inst.format_qty(order.filled)}" if order.filled else "nothing"
        self.note(f"  {order.side.name:<4} {inst.venue:<8} IOC {inst.format_qty(order.size)} @ "
                  f"{inst.format_price(order.price)}: {outcome}, {done} filled"
                  + (f" ({order.reason})" if order.reason else ""))

    def on_fill(self, fill: Any) -> None:
        value = fill.price * fill.qty
        self.cash += (value if fill.side == Side.SELL else -value) - fill.fee

    def note(self, text: str) -> None:
        """Log a line stamped with the engine's clock (UTC time of day)."""
        t = datetime.fromtimestamp(self.now // 1_000_000 / 1000, tz=UTC)
        self.log.append(f"{t:%H:%M:%S.%f}"[:-3] + " " + text)


def run(lag_ms: int = 2000, premium_ticks: int = 3, fees: tuple[str, str] = ("0.0000", "0.0001"),
        latency_ns: int = 200_000, min_edge_bps: int = 1, max_position: str = "2000",
        seed: int = 0) -> tuple[CrossVenueArbitrage, Engine]:
    """Build both venues, run the strategy over them, return (strategy, engine)."""
    coinbase = next(i for i in sample.instruments() if i.symbol == SYMBOL)
    lagged = Instrument("lagged", SYMBOL, coinbase.price_decimals, coinbase.size_decimals,
                        tick=coinbase.tick, lot=coinbase.lot, base=coinbase.base,
                        quote=coinbase.quote)
    real = np.concatenate(list(Replay(sample.paths(), [coinbase])))
    events = merge(real, lagged_copy(real, 1, lag_ms * 1_000_000, premium_ticks * lagged.tick))

    risk = RiskEngine()
    for inst in (coinbase, lagged):
        risk.add_instrument(inst, InstrumentLimits(max_position=inst.qty(max_position)))
    fee_schedule = FeeSchedule.from_text(*fees)
    engine = Engine([coinbase, lagged], sim=SimExchange(latency_ns, seed), risk=risk,
                    fees=fee_schedule)
    strategy = CrossVenueArbitrage((coinbase, lagged), fee_schedule,
                                   max_clip=coinbase.qty("5000"), min_clip=coinbase.qty("10"),
                                   min_edge_bps=min_edge_bps)
    engine.add_strategy(strategy)
    engine.process(events)
    engine.advance(int(events["local_ts"][-1]) + 10 * latency_ns)  # let the last answers arrive
    engine.stop()
    return strategy, engine


def report(strategy: CrossVenueArbitrage, engine: Engine) -> str:
    """The summary printed by :func:`main`."""
    lines = list(strategy.log)
    lines.append("")
    lines.append(f"opportunities taken: {strategy.attempts}, hedges: {strategy.hedges}")
    lines.append("IOC orders: " + ", ".join(f"{k} {v}" for k, v in sorted(strategy.legs.items())))
    lines.append("risk rejections: " + (", ".join(f"{k} {v}" for k, v in
                                                  sorted(strategy.rejections.items())) or "none"))
    total = 0
    for inst in strategy.venues:
        pnl = strategy.pnl(inst)
        total += pnl
        lines.append(f"{inst.venue:<9} fills {strategy.fills[inst.venue]:>3}  position "
                     f"{inst.format_qty(strategy.position(inst)):>9}  PnL marked at its mid "
                     f"{fixed.format(pnl, inst.price_decimals + inst.size_decimals)} "
                     f"{inst.quote}")
    inst = strategy.venues[0]
    value_decimals = inst.price_decimals + inst.size_decimals
    lines.append(f"total PnL marked at each venue's mid: {fixed.format(total, value_decimals)} "
                 f"{inst.quote}")
    net = sum(strategy.position(i) for i in strategy.venues)
    lines.append(f"cash PnL after fees (net position {inst.format_qty(net)}): "
                 f"{fixed.format(strategy.cash, value_decimals)} {inst.quote}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lag-ms", type=int, default=2000, help="delay of the second venue (ms)")
    p.add_argument("--premium-ticks", type=int, default=3,
                   help="how much higher the second venue's prices are (ticks)")
    p.add_argument("--fees", default="0.0000,0.0001", help="maker,taker rates")
    p.add_argument("--latency-us", type=int, default=200, help="order latency each way (µs)")
    p.add_argument("--min-edge-bps", type=int, default=1, help="profit wanted beyond the fees")
    p.add_argument("--max-position", default="2000", help="risk limit per venue (SKL)")
    args = p.parse_args()
    maker, _, taker = args.fees.partition(",")
    strategy, engine = run(args.lag_ms, args.premium_ticks, (maker, taker),
                           args.latency_us * 1000, args.min_edge_bps, args.max_position)
    print(f"{SYMBOL} on coinbase and on 'lagged' (the same recording {args.lag_ms} ms later, "
          f"{args.premium_ticks} ticks higher); taker fee {taker}, latency {args.latency_us} µs")
    print(report(strategy, engine))


if __name__ == "__main__":
    main()
