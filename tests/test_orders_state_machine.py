"""Hypothesis state machine: any sequence of local requests and venue messages - including
ones no venue would send - keeps every order in a legal state, loses none, and keeps the
portfolio equal to a recomputation over the booked fills."""

from __future__ import annotations

import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from trading_sim import BTC, reference_positions

from hftcore import Liquidity, OrderError, OrderManager, OrderStatus, Side

S = OrderStatus
PX = BTC.price("50000")
LOT = BTC.lot
# what may follow what: every status reachable from the previous one by one event
LEGAL = {
    S.NEW: {S.NEW, S.PENDING_NEW, S.CANCELED, S.REJECTED},
    S.PENDING_NEW: {S.PENDING_NEW, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED,
                    S.CANCELED, S.EXPIRED, S.PENDING_CANCEL, S.UNKNOWN},
    S.ACCEPTED: {S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED,
                 S.PENDING_CANCEL, S.PENDING_REPLACE, S.UNKNOWN},
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.PENDING_CANCEL,
                         S.PENDING_REPLACE, S.UNKNOWN},
    S.PENDING_CANCEL: {S.PENDING_CANCEL, S.CANCELED, S.FILLED, S.ACCEPTED, S.PARTIALLY_FILLED,
                       S.PENDING_NEW, S.REJECTED, S.EXPIRED, S.UNKNOWN},
    S.PENDING_REPLACE: {S.PENDING_REPLACE, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED,
                        S.CANCELED, S.EXPIRED, S.PENDING_CANCEL, S.UNKNOWN},
    S.UNKNOWN: {S.UNKNOWN, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELED,
                S.EXPIRED, S.PENDING_CANCEL},
    S.FILLED: {S.FILLED},
    S.CANCELED: {S.CANCELED, S.FILLED},  # a late fill may complete it
    S.EXPIRED: {S.EXPIRED, S.FILLED},
    S.REJECTED: {S.REJECTED, S.FILLED, S.UNKNOWN},  # a venue contradicting itself
}


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.om = OrderManager(session="sm", clock=lambda: self.now, timeout_ns=50)
        self.created = 0
        self.last: dict[str, OrderStatus] = {}
        self.trade = 0

    def pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.last)))

    @rule(lots=st.integers(1, 5), side=st.sampled_from(Side))
    def create(self, lots: int, side: Side) -> None:
        o = self.om.create(BTC, side, lots * LOT, PX)
        self.created += 1
        self.last[o.client_order_id] = o.status

    @precondition(lambda self: self.last)
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        o = self.om[self.pick(data)]
        try:
            self.om.submit(o)
        except OrderError:
            assert o.status is not S.NEW

    @precondition(lambda self: self.last)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        with contextlib.suppress(OrderError):
            self.om.cancel(self.pick(data))

    @precondition(lambda self: self.last)
    @rule(data=st.data(), lots=st.integers(1, 6))
    def replace(self, data: st.DataObject, lots: int) -> None:
        with contextlib.suppress(OrderError):
            self.om.replace(self.pick(data), PX - 5, lots * LOT)

    @precondition(lambda self: self.last)
    @rule(data=st.data(), event=st.sampled_from(
        ["ack", "reject", "canceled", "expired", "cancel_reject", "replace_reject", "replaced"]))
    def venue_event(self, data: st.DataObject, event: str) -> None:
        cid = self.pick(data)
        om = self.om
        if event == "ack":
            om.on_ack(cid, "v")
        elif event == "reject":
            om.on_reject(cid, "no")
        elif event == "canceled":
            om.on_canceled(cid)
        elif event == "expired":
            om.on_expired(cid)
        elif event == "cancel_reject":
            om.on_cancel_reject(cid)
        elif event == "replace_reject":
            om.on_replace_reject(cid)
        else:
            om.on_replaced(cid, PX - 5, data.draw(st.integers(1, 6)) * LOT)

    @precondition(lambda self: self.last)
    @rule(data=st.data(), lots=st.integers(0, 6), dup=st.booleans())
    def fill(self, data: st.DataObject, lots: int, dup: bool) -> None:
        if not dup:
            self.trade += 1
        self.om.on_fill(self.pick(data), f"t{self.trade}", lots * LOT, PX - 5 * lots,
                        data.draw(st.sampled_from(Liquidity)))

    @rule(dt=st.integers(1, 100))
    def time_passes(self, dt: int) -> None:
        self.now += dt
        self.om.check_timeouts()

    @invariant()
    def legal(self) -> None:
        om = self.om
        assert len(om) == self.created  # never loses an order
        open_ids = {o.client_order_id for o in om.open_orders()}
        for o in om:
            before = self.last[o.client_order_id]
            assert o.status in LEGAL[before], (before, o.status, o.history)
            self.last[o.client_order_id] = o.status
            assert 0 <= o.filled <= o.size
            assert o.filled == sum(f.qty for f in o.fills)
            assert (o.client_order_id in open_ids) == o.is_open
            if o.status is S.FILLED:
                assert o.filled == o.size
        ref = reference_positions([(BTC, f.side, f.qty, f.price, 0) for f in om.fills])
        pos = om.portfolio.position(BTC)
        r = ref.get(BTC.symbol, {"net": 0, "cost": 0, "realized": 0})
        assert (pos.net, pos.cost, pos.realized_pnl) == (r["net"], r["cost"], r["realized"])


OrderMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                          deadline=None)
TestOrderMachine = OrderMachine.TestCase
