"""Shared order-entry checks of the venues of issue 13 (HTX, KuCoin, Bitfinex, Deribit, Kraken
Futures) against their loopback servers: an engine in live mode with order entry only, every
request answered, nothing lost."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from loopback_helpers import Probe, wait_for

from hftcore import Instrument, OrderStatus
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.loopback_more import AccountLoopback
from hftcore.venues.orderentry import OrderEntryVenue
from hftcore.venues.ws import Backoff


@dataclass
class OeSession:
    server: AccountLoopback
    engine: LiveEngine
    venue: OrderEntryVenue
    runner: LiveRunner
    strategy: Probe


@contextlib.asynccontextmanager
async def oe_session(instruments: list[Instrument], server: AccountLoopback,
                     make_venue: Callable[[AccountLoopback], OrderEntryVenue]
                     ) -> AsyncIterator[OeSession]:
    """``server`` started, an engine and the venue (order entry only) connected to it; both
    stopped on exit."""
    await server.start()
    runner: LiveRunner | None = None
    try:
        engine = LiveEngine(instruments, mode="live")
        probe = Probe()
        engine.add_strategy(probe)
        venue = make_venue(server)
        runner = LiveRunner(engine, [venue])
        await runner.start(venue.connect_timeout)
        yield OeSession(server, engine, venue, runner, probe)
    finally:
        if runner is not None and runner.started:
            await runner.stop()
        elif runner is not None:
            for v in runner.venues:
                await v.close()
        await server.stop()


def venue_kw(server: AccountLoopback) -> dict[str, Any]:
    return {"ws_url": server.ws_url, "rest_url": server.rest_url, "market_data": False,
            "backoff": Backoff(0.02, 0.2)}


async def order_round_trip(s: OeSession, inst: Instrument, price: str, *,
                           amend: bool = True, server_cid: Callable[[str], str] = str) -> None:
    """Place, amend, cancel; a fill the exchange makes; duplicate fill reports booked once; a
    refused signature comes back as a reject with the venue's reason; wrong types refused."""
    st, server, venue = s.strategy, s.server, s.venue
    px = inst.price(price)
    o = st.buy(inst, inst.qty("0.5"), px)
    await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
    so = server.by_cid[server_cid(o.client_order_id)]
    assert (so.price, so.qty, so.side) == (px, inst.qty("0.5"), 0)
    if amend:
        assert st.amend(o, price=px - inst.price("1"), size=inst.qty("0.7"))
        await wait_for(lambda: o.status == OrderStatus.ACCEPTED and o.price == px -
                       inst.price("1"), what="amend")
        so = server.by_cid[server_cid(o.client_order_id)]
        assert (so.price, so.qty) == (px - inst.price("1"), inst.qty("0.7"))
        assert o.size == inst.qty("0.7")
    assert st.cancel(o)
    await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
    assert server.by_cid[server_cid(o.client_order_id)].status == "CANCELED"

    # the exchange fills a resting sell; the duplicate report is booked once
    server.faults.duplicate_fills = True
    pos0 = s.engine.position(st, inst)
    r = st.sell(inst, inst.qty("0.25"), px + inst.price("100"))
    await wait_for(lambda: r.status == OrderStatus.ACCEPTED, what="ack 2")
    server.exchange_fill(server_cid(r.client_order_id))
    await wait_for(lambda: r.status == OrderStatus.FILLED, what="fill")
    server.faults.duplicate_fills = False
    assert len(r.fills) == 1 and r.fills[0].price == px + inst.price("100")
    assert r.fills[0].qty == inst.qty("0.25")
    assert s.engine.position(st, inst) == pos0 - inst.qty("0.25")

    # a cancel of an order that is gone comes back as a cancel reject or a cancel
    n = st.buy(inst, inst.qty("0.5"), px)
    await wait_for(lambda: n.status == OrderStatus.ACCEPTED, what="ack 3")
    server.exchange_fill(server_cid(n.client_order_id))
    await wait_for(lambda: n.status == OrderStatus.FILLED, what="fill 2")

    # wrong types are refused naming the parameter
    with pytest.raises(TypeError, match="order"):
        venue.submit("not an order", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="flags"):
        venue.submit(o, "ioc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="price"):
        venue.amend(o, 1.5, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="order"):
        venue.cancel(None)  # type: ignore[arg-type]

    # every order accounted for: the engine agrees with the server
    for order in s.engine.om:
        assert not order.is_open or order.status == OrderStatus.ACCEPTED, order.history
        srv = server.by_cid.get(server_cid(order.client_order_id))
        if srv is None:            # never reached the exchange: rejected with a reason
            assert order.status == OrderStatus.REJECTED and order.reason, order.history
            continue
        assert order.filled == srv.filled


async def refused_signature(s: OeSession, inst: Instrument, price: str,
                            reason: str) -> None:
    """With the server refusing signatures, a new order is rejected with the venue's reason."""
    s.server.faults.reject_signature = True
    o = s.strategy.buy(inst, inst.qty("0.5"), inst.price(price))
    await wait_for(lambda: o.status == OrderStatus.REJECTED, what="reject")
    assert reason in o.reason, o.reason
    assert s.server.stats["bad_signatures"] >= 1
    s.server.faults.reject_signature = False


async def lost_answer(s: OeSession, inst: Instrument, price: str,
                      server_cid: Callable[[str], str] = str) -> None:
    """The answer to a new order is lost (the exchange placed it): the venue asks the exchange
    and acks it; then it cancels normally."""
    n0, q0 = s.venue.unsettled, s.server.stats.get("queries", 0)
    s.server.lose_answers = 1
    o = s.strategy.buy(inst, inst.qty("0.5"), inst.price(price))
    await wait_for(lambda: o.status == OrderStatus.ACCEPTED and s.venue.unsettled == n0 + 1
                   and s.venue.trading, what="ack after a lost answer, settled by a query")
    assert s.server.lose_answers == 0
    await wait_for(lambda: s.server.stats.get("queries", 0) > q0, what="the order queried")
    assert o.venue_order_id == str(s.server.by_cid[server_cid(o.client_order_id)].order_id)
    assert s.strategy.cancel(o)
    await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")


async def canceled_while_away(s: OeSession, inst: Instrument, price: str,
                              server_cid: Callable[[str], str] = str) -> None:
    """The exchange cancels a resting order while the private stream is down: after the
    reconnect the venue reconciles its open orders and reports the cancel."""
    o = s.strategy.buy(inst, inst.qty("0.5"), inst.price(price))
    await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
    r0 = s.venue.reconciliations
    s.server.faults.silent = True
    s.server.exchange_cancel(server_cid(o.client_order_id))
    s.server.faults.silent = False
    s.server.drop_connections()
    await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel found by reconciling")
    assert s.venue.reconciliations > r0
    await wait_for(lambda: s.venue.trading, what="trading again")


async def filled_while_away(s: OeSession, inst: Instrument, price: str,
                            server_cid: Callable[[str], str] = str) -> None:
    """The exchange fills a resting order while the private stream is down: after the
    reconnect the venue asks for the order's trades and books the fill once."""
    o = s.strategy.sell(inst, inst.qty("0.5"), inst.price(price))
    await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
    pos = s.engine.position(s.strategy, inst)
    s.server.faults.silent = True
    s.server.exchange_fill(server_cid(o.client_order_id))
    s.server.faults.silent = False
    s.server.drop_connections()
    await wait_for(lambda: o.status == OrderStatus.FILLED, what="fill found by reconciling")
    assert len(o.fills) == 1 and o.fills[0].price == inst.price(price)
    assert s.engine.position(s.strategy, inst) == pos - inst.qty("0.5")
    await wait_for(lambda: s.venue.trading, what="trading again")
