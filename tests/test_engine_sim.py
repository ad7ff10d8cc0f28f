"""The engine and the simulated exchange on tiny scripted books, every figure computed by hand."""

from __future__ import annotations

import pytest

from hftcore import Instrument, OrderStatus, Side, TimeInForce
from hftcore.data.events import delta, make_events, trade
from hftcore.engine import Engine
from hftcore.risk import InstrumentLimits, RiskEngine
from hftcore.strategy import Strategy
from hftcore.venues.sim import Latency, SimExchange

X = Instrument("sim", "XY", 0, 0)


class Recorder(Strategy):
    """Records what the engine tells it."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[tuple[int, str, OrderStatus]] = []
        self.fills: list[tuple[int, int, int, str]] = []
        self.bbos: list[tuple[int | None, int | None]] = []

    def on_order(self, order):  # type: ignore[no-untyped-def]
        self.orders.append((self.now, order.client_order_id, order.status))

    def on_fill(self, fill):  # type: ignore[no-untyped-def]
        self.fills.append((fill.ts, fill.qty, fill.price, fill.liquidity.name))

    def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
        self.bbos.append((book.best_bid, book.best_ask))


def make(latency: object = 0, fees: object = None, risk: RiskEngine | None = None,
         inst: Instrument = X) -> tuple[Engine, Recorder]:
    e = Engine([inst], sim=SimExchange(latency), fees=fees, risk=risk)
    s = Recorder()
    e.add_strategy(s)
    return e, s


def book(ts: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> list[tuple]:
    """A snapshot message: bids and asks, the book valid after it."""
    rows: list[tuple] = []
    levels = [(0, p, q) for p, q in bids] + [(1, p, q) for p, q in asks]
    for k, (side, p, q) in enumerate(levels):
        part = delta(ts, 0, side, p, q, snapshot=(k == 0), last=(k == len(levels) - 1))
        if k == 0:
            rows.extend(part)  # the first carries clear + the valid status
        else:
            rows.extend(part)
    return rows


def run(e: Engine, *parts: list[tuple]) -> None:
    e.process(make_events(parts))


def test_queue_position_trades_cancels_and_trade_through() -> None:
    e, s = make()
    run(e, book(1, [(100, 10)], [(101, 5)]))
    o = s.buy(X, 3, 100)
    assert o.status == OrderStatus.PENDING_NEW
    run(e, trade(2, 0, Side.SELL, 100, 4))          # arrival (t=1) before: queue 10 -> 6
    assert o.status == OrderStatus.ACCEPTED
    assert e.sim.core.resting_orders()[0][-1] == 6  # queue ahead
    run(e, delta(3, 0, 0, 100, 6))                  # the trade shows in the depth: no cancel
    assert e.sim.core.resting_orders()[0][-1] == 6
    run(e, delta(4, 0, 0, 100, 3))                  # 3 canceled, all ahead of us: 6 -> 3
    assert e.sim.core.resting_orders()[0][-1] == 3
    run(e, trade(5, 0, Side.SELL, 100, 5))          # 3 ahead, then 2 for us
    assert o.filled == 2 and o.status == OrderStatus.PARTIALLY_FILLED
    run(e, trade(6, 0, Side.SELL, 99, 1))           # traded through our price: the rest
    assert o.status == OrderStatus.FILLED
    assert s.fills == [(5, 2, 100, "MAKER"), (6, 1, 100, "MAKER")]
    assert e.position(s, X) == 3


def test_proportional_cancels_with_orders_behind_us() -> None:
    e, s = make()
    run(e, book(1, [(100, 10)], [(101, 5)]))
    s.buy(X, 1, 100)
    run(e, delta(2, 0, 0, 100, 20))                 # 10 more join behind us: 10 ahead of 20
    run(e, delta(3, 0, 0, 100, 10))                 # 10 canceled somewhere: 10*10//20 ahead
    assert e.sim.core.resting_orders()[0][-1] == 5


def test_aggressive_orders_never_take_the_same_liquidity_twice() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(101, 5), (102, 5)]))
    a = s.buy(X, 7, 102, tif=TimeInForce.IOC)
    run(e, delta(2, 0, 0, 98, 1))                    # an unrelated level
    assert a.status == OrderStatus.FILLED
    assert s.fills == [(1, 5, 101, "TAKER"), (1, 2, 102, "TAKER")]
    b = s.buy(X, 4, 102, tif=TimeInForce.IOC)
    run(e, delta(3, 0, 0, 98, 2))
    assert b.filled == 3 and b.status == OrderStatus.EXPIRED   # 5 - 2 left at 102, none at 101
    run(e, delta(4, 0, 1, 101, 5))                   # the feed refreshes 101: it is there again
    c = s.buy(X, 1, 101, tif=TimeInForce.IOC)
    run(e, delta(5, 0, 0, 98, 3))
    assert c.status == OrderStatus.FILLED and s.fills[-1] == (4, 1, 101, "TAKER")


def test_post_only_fok_market() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(101, 5), (103, 5)]))
    p = s.buy(X, 1, 101, post_only=True)
    f = s.buy(X, 20, 103, tif=TimeInForce.FOK)
    m = s.buy(X, 8)                                  # market: protection 5% through the ask
    run(e, delta(2, 0, 0, 98, 1))
    assert p.status == OrderStatus.REJECTED and "post-only" in p.reason
    assert f.status == OrderStatus.EXPIRED and f.filled == 0
    assert m.status == OrderStatus.FILLED
    assert [x for x in s.fills] == [(1, 5, 101, "TAKER"), (1, 3, 103, "TAKER")]
    # a resting post-only order that does not cross is accepted
    q = s.sell(X, 1, 110, post_only=True)
    run(e, delta(3, 0, 0, 98, 2))
    assert q.status == OrderStatus.ACCEPTED


def test_cancel_loses_the_race_to_a_fill() -> None:
    e, s = make(Latency(entry=10, response=10, cancel=10))
    run(e, book(0, [(99, 5)], [(101, 5)]))
    o = s.buy(X, 2, 100)                             # reaches the book at 10, acked at 20
    run(e, delta(15, 0, 0, 98, 1))
    assert o.status == OrderStatus.PENDING_NEW
    run(e, delta(20, 0, 0, 98, 2))
    assert o.status == OrderStatus.ACCEPTED
    assert s.cancel(o)                               # sent at 20, reaches the book at 30
    run(e, trade(25, 0, Side.SELL, 100, 5))          # fills us at 25 (answer at 35)
    run(e, delta(50, 0, 0, 98, 3))
    assert o.status == OrderStatus.FILLED and o.filled == 2
    assert s.fills == [(35, 2, 100, "MAKER")]
    statuses = [st for _, cid, st in s.orders if cid == o.client_order_id]
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


def test_partial_fills_sum_to_the_order() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(101, 5)]))
    o = s.sell(X, 10, 101)                           # 5 ahead of us
    for k in range(8):
        run(e, trade(2 + k, 0, Side.BUY, 101, 2))
    assert o.status == OrderStatus.FILLED
    assert sum(q for _, q, _, _ in s.fills) == 10 == o.filled
    assert [q for _, q, _, _ in s.fills] == [1, 2, 2, 2, 2, 1]
    assert e.position(s, X) == -10


def test_fees_and_pnl_by_hand() -> None:
    btc = Instrument("sim", "BTC", 2, 3)
    e, s = make(fees=("0.0001", "0.0004"), inst=btc)
    e.process(make_events([delta(1, 0, 0, 9_900, 5_000, snapshot=True, last=False),
                           delta(1, 0, 1, 10_000, 5_000)]))
    s.buy(btc, 2_000, 10_000, tif=TimeInForce.IOC)   # 2.000 @ 100.00 taker: 200.00000
    run(e, delta(2, 0, 0, 9_900, 4_000))
    o = s.sell(btc, 2_000, 11_000)                   # rests at 110.00, nothing ahead
    run(e, trade(3, 0, Side.BUY, 11_000, 3_000))     # maker: 220.00000
    assert o.status == OrderStatus.FILLED
    # value decimals 5: taker fee 200 * 0.0004 = 0.08, maker fee 220 * 0.0001 = 0.022
    pos = e.portfolio.position(btc)
    assert pos.fees == 8_000 + 2_200
    assert pos.realized_pnl == 2_000_000
    assert e.pnl(s, btc) == 2_000_000 - 10_200
    assert e.position(s, btc) == 0


def test_risk_rejection_reaches_on_order_after_the_hook() -> None:
    risk = RiskEngine()
    risk.add_instrument(X, InstrumentLimits(max_size=5))
    seen: list[tuple[str, OrderStatus]] = []

    class Big(Strategy):
        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            seen.append(("hook", self.buy(X, 10, 100).status))
            seen.append(("after buy", OrderStatus.NEW))

        def on_order(self, order):  # type: ignore[no-untyped-def]
            seen.append(("on_order " + order.reason, order.status))

    e = Engine([X], risk=risk)
    e.add_strategy(Big())
    run(e, book(1, [(99, 5)], [(101, 5)]))
    assert seen[0] == ("hook", OrderStatus.REJECTED)
    assert seen[1][0] == "after buy"
    assert seen[2][1] == OrderStatus.REJECTED and "SIZE_MAX" in seen[2][0]


def test_a_raising_strategy_is_stopped_and_its_orders_canceled() -> None:
    class Bad(Strategy):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 1:
                self.order = self.buy(X, 1, 90)
            else:
                raise RuntimeError("boom")

    e = Engine([X])
    bad, good = Bad(), Recorder()
    e.add_strategy(bad)
    e.add_strategy(good)
    run(e, book(1, [(99, 5)], [(101, 5)]))
    run(e, delta(2, 0, 0, 99, 6))                     # second bbo: raises
    assert len(e.failures) == 1 and e.failures[0].hook == "on_bbo"
    assert "RuntimeError: boom" in e.failures[0].traceback
    run(e, delta(3, 0, 0, 99, 7))
    assert bad.order.status == OrderStatus.CANCELED
    assert bad.calls == 2                             # never called again
    assert len(good.bbos) == 3                        # the other strategy goes on


def test_amend_keeps_or_loses_the_queue() -> None:
    e, s = make()
    run(e, book(1, [(100, 10)], [(101, 5)]))
    o = s.buy(X, 4, 100)
    run(e, trade(2, 0, Side.SELL, 100, 3))            # queue 10 -> 7
    assert s.amend(o, size=2)                         # smaller: keeps its place
    run(e, delta(3, 0, 0, 100, 7))
    assert o.size == 2 and e.sim.core.resting_orders()[0][-1] == 7
    assert s.amend(o, price=99)                       # new price: back of the 99 queue (0)
    run(e, delta(4, 0, 0, 99, 3))
    assert o.price == 99 and e.sim.core.resting_orders()[0][-1] == 0  # joined before the 3


def test_quote_uses_the_fewest_messages() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(102, 5)]))
    s.quote(X, 99, 102, 1)
    run(e, delta(2, 0, 0, 98, 1))
    assert len(e.om) == 2
    s.quote(X, 99, 102, 1)                            # unchanged: nothing sent
    run(e, delta(3, 0, 0, 98, 2))
    assert len(e.om) == 2
    s.quote(X, 100, 102, 1)                           # one side moved: one amend
    run(e, delta(4, 0, 0, 98, 3))
    assert len(e.om) == 2
    bids = [o for o in s.open_orders() if o.side == Side.BUY]
    assert [o.price for o in bids] == [100]
    s.quote(X, None, 102, 1)                          # bid removed
    run(e, delta(5, 0, 0, 98, 4))
    assert [o.side for o in s.open_orders()] == [Side.SELL]


def test_quote_slot_actions_follow_the_orders() -> None:
    """QuoteSlot._action (the engine's per-side question, answered in C): 0 nothing, 1 submit,
    2 wait for an answer, 3 cancel, 4 amend; a done order leaves the slot."""
    e, s = make(latency=10)
    run(e, book(1, [(99, 5)], [(102, 5)]))
    s.quote(X, 99, 102, 1)
    slot = s._quotes[id(X)]
    assert not slot.settled and [slot._action(0), slot._action(1)] == [2, 2]  # PENDING_NEW
    run(e, delta(100, 0, 0, 98, 1))                   # the acks came
    assert slot.settled and [slot._action(0), slot._action(1)] == [0, 0]
    slot.bid = 100                                    # a new price: amend
    assert slot._action(0) == 4
    slot.bid, slot.size = 99, 2                       # a new size: amend
    assert slot._action(0) == 4
    slot.bid, slot.size = None, 1                     # no bid wanted: cancel
    assert slot._action(0) == 3
    slot.bid = 99
    s.cancel(slot.bid_order.order)
    assert slot._action(0) == 2                       # PENDING_CANCEL: wait
    s.quote(X, 99, 102, 1)                            # nothing new while the cancel is out
    assert len(e.om) == 2
    run(e, delta(200, 0, 0, 98, 2))                   # canceled, then re-quoted
    assert len(e.om) == 3 and slot.bid_order.order.status is OrderStatus.ACCEPTED
    assert slot.settled
    with pytest.raises(TypeError, match="quote's order"):
        slot.bid_order = type("R", (), {"order": object()})()
        slot._action(0)


def test_quote_checks_its_arguments_and_posts_only_when_asked() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(102, 5)]))
    bad = (((99.0, 102, 1), TypeError, "bid"), ((99, 102.0, 1), TypeError, "ask"),
           ((99, 102, 1.0), TypeError, "size"), ((99, 102, 0), ValueError, "size"),
           ((True, 102, 1), TypeError, "bid"), ((102, 102, 1), ValueError, "below"))
    for args, exc, what in bad:
        with pytest.raises(exc, match=what):
            s.quote(X, *args)
    assert len(e.om) == 0
    s.quote(X, 99, 102, 1, post_only=True)
    run(e, delta(2, 0, 0, 98, 1))
    assert sorted((o.side, o.order_type.name, o.status) for o in s.open_orders()) == [
        (Side.BUY, "LIMIT_MAKER", OrderStatus.ACCEPTED),
        (Side.SELL, "LIMIT_MAKER", OrderStatus.ACCEPTED)]
    s.quote(X, 98, 102, 1, post_only=True)
    run(e, delta(3, 0, 0, 98, 2))
    assert len(e.om) == 2 and sorted(o.price for o in s.open_orders()) == [98, 102]  # amended
    s.quote(X, 98, 102, 2)                            # a new size: amended in place
    run(e, delta(4, 0, 0, 98, 3))
    assert sorted((o.order_type.name, o.size) for o in s.open_orders()) == [
        ("LIMIT_MAKER", 2), ("LIMIT_MAKER", 2)]       # an amend keeps the order type


def test_timers_fire_on_simulated_time() -> None:
    fired: list[tuple[str, int]] = []

    class T(Strategy):
        def on_start(self):  # type: ignore[no-untyped-def]
            self.set_timer("t", 10)

        def on_timer(self, name, ts):  # type: ignore[no-untyped-def]
            fired.append((name, ts))

    e = Engine([X])
    e.add_strategy(T())
    e.start(0)
    run(e, delta(35, 0, 0, 99, 1, snapshot=True))
    assert fired == [("t", 10), ("t", 20), ("t", 30)]


def test_observe_mode_refuses_orders() -> None:
    e = Engine([X], mode="observe")
    s = Recorder()
    e.add_strategy(s)
    run(e, book(1, [(99, 5)], [(101, 5)]))
    o = s.buy(X, 1, 99)
    run(e, delta(2, 0, 0, 98, 1))
    assert o.status == OrderStatus.REJECTED and "HALTED" in o.reason


def test_actions_refuse_floats_and_wrong_types() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(101, 5)]))
    with pytest.raises(TypeError, match="size"):
        s.buy(X, 1.5, 99)
    with pytest.raises(TypeError, match="price"):
        s.buy(X, 1, 99.0)
    with pytest.raises(ValueError, match="side"):
        s.submit(X, 2, 1, 99)
    with pytest.raises(ValueError, match="size"):
        s.buy(X, 0, 99)
    with pytest.raises(KeyError):
        s.buy(Instrument("sim", "OTHER", 0, 0), 1, 99)
    assert len(e.om) == 0


def test_hooks_not_overridden_are_not_called() -> None:
    class Quiet(Strategy):
        pass

    e = Engine([X])
    q = Quiet()
    e.add_strategy(q)
    run(e, book(1, [(99, 5)], [(101, 5)]), trade(2, 0, Side.BUY, 101, 1))
    assert e.core.hook_calls == 0


def test_pnl_marks_open_positions_at_the_mid() -> None:
    e, s = make()
    run(e, book(1, [(99, 5)], [(101, 5)]))
    s.buy(X, 2, 101, tif=TimeInForce.IOC)            # 2 @ 101 taker
    run(e, delta(2, 0, 0, 100, 5))                    # bid 100 / ask 101: mid 100.5 -> 100
    assert e.position(s, X) == 2
    assert e.pnl(s, X) == 2 * 100 - 2 * 101           # half-even: 100.5 marks at 100
    run(e, delta(3, 0, 1, 101, 0), delta(3, 0, 1, 105, 5))   # ask 105: mid 102.5 -> 102
    assert e.pnl(s, X) == 2 * 102 - 2 * 101


def test_on_event_sees_every_level_and_trade_in_order() -> None:
    seen: list[tuple[int, int, int, int, int]] = []

    class Every(Strategy):
        def on_event(self, instrument, kind, side, price, size, ts):  # type: ignore[no-untyped-def]
            seen.append((kind, side, price, size, ts))

    e = Engine([X])
    e.add_strategy(Every())
    run(e, book(1, [(99, 5)], [(101, 5)]), trade(2, 0, Side.BUY, 101, 1),
        delta(3, 0, 1, 101, 4))
    assert seen == [(1, 0, 99, 5, 1), (1, 1, 101, 5, 1), (2, 0, 101, 1, 2), (1, 1, 101, 4, 3)]


def test_price_bands_use_the_book_mid_as_reference() -> None:
    risk = RiskEngine()
    risk.add_instrument(X, InstrumentLimits(band_ticks=5))
    e, s = make(risk=risk)
    run(e, book(1, [(99, 5)], [(101, 5)]))
    ok = s.buy(X, 1, 98)                 # 2 ticks from the mid (100)
    far = s.buy(X, 1, 90)                # 10 ticks away
    run(e, delta(2, 0, 0, 97, 1))
    assert ok.status == OrderStatus.ACCEPTED
    assert far.status == OrderStatus.REJECTED and "PRICE_BAND" in far.reason


def test_cancels_sent_in_on_stop_are_answered() -> None:
    class Stopper(Strategy):
        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            if not self.open_orders():
                self.order = self.buy(X, 1, 90)

        def on_stop(self):  # type: ignore[no-untyped-def]
            self.cancel_all()

    e = Engine([X], sim=SimExchange(Latency(10, 10)))
    s = Stopper()
    e.add_strategy(s)
    run(e, book(1, [(99, 5)], [(101, 5)]), delta(50, 0, 0, 98, 1))
    e.stop()
    assert s.order.status == OrderStatus.CANCELED


def test_a_rejection_outside_hooks_is_reported_at_once() -> None:
    risk = RiskEngine()
    risk.add_instrument(X, InstrumentLimits(max_size=5))
    e, s = make(risk=risk)
    run(e, book(1, [(99, 5)], [(101, 5)]))
    o = s.buy(X, 10, 99)
    assert s.orders[-1] == (1, o.client_order_id, OrderStatus.REJECTED)


def test_equity_is_sampled_at_start_and_at_every_fill() -> None:
    e, s = make()
    e.equity_interval_ns = 10**12
    run(e, book(1, [(99, 5)], [(101, 5)]))
    s.buy(X, 2, 101, tif=TimeInForce.IOC)
    run(e, delta(2, 0, 0, 98, 1))
    e.stop()
    eq = e.equity
    assert list(eq["ts"]) == [1, 1, 2]    # start, the fill, the end
    assert [int(x) for x in eq["net_0"]] == [0, 2, 2]


@pytest.mark.parametrize("latency", [0, 5])
def test_a_rejected_quote_side_waits_for_the_strategys_next_quote(latency: int) -> None:
    """A post-only bid that would cross is rejected; the engine does not send it again on its
    own (at zero latency it was re-sent on its own reject at one instant, forever): the next
    quote() call from the strategy tries once more; the other side keeps working."""
    class Cross(Strategy):
        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            if book.best_ask is not None:
                self.quote(instrument, book.best_ask, book.best_ask + 5, 1, post_only=True)

    e = Engine([X], sim=SimExchange(latency))
    s = Cross()
    e.add_strategy(s)
    run(e, book(1, [(99, 5)], [(102, 5)]))
    run(e, delta(100, 0, 0, 98, 1))                   # no top change: no quote() call
    bids = [o for o in e.om if o.side == Side.BUY]
    asks = [o for o in e.om if o.side == Side.SELL]
    assert [o.status for o in bids] == [OrderStatus.REJECTED]
    assert [(o.status, o.price) for o in asks] == [(OrderStatus.ACCEPTED, 107)]
    run(e, delta(200, 0, 1, 101, 5))                  # the top changes: the strategy quotes
    run(e, delta(300, 0, 0, 97, 1))                   # (the answers are in)
    bids = [o for o in e.om if o.side == Side.BUY]
    assert [(o.status, o.price) for o in bids] == [(OrderStatus.REJECTED, 102),
                                                   (OrderStatus.REJECTED, 101)]
    assert [(o.status, o.price) for o in e.om if o.side == Side.SELL] == [
        (OrderStatus.ACCEPTED, 106)]                  # the ask amended to the new target
