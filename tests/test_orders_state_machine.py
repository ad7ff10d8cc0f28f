"""Hypothesis state machine: any sequence of local requests and venue messages - including
ones no venue would send, and malformed calls - keeps every order in a legal state, loses none,
keeps the portfolio equal to a recomputation over the booked fills and the risk engine's
position equal to the portfolio's, and after every step the journal alone rebuilds exactly the
same state: in full, and cut at any byte of the next record (a kill at any point)."""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from trading_sim import BTC, reference_positions

from hftcore import (
    InstrumentLimits,
    Liquidity,
    OrderError,
    OrderManager,
    OrderStatus,
    RiskEngine,
    Side,
)

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

# calls that must raise TypeError/ValueError and change nothing (cid filled in)
MALFORMED: list[tuple[str, Any]] = [
    ("create size float", lambda om, c: om.create(BTC, Side.BUY, 1.5 * LOT, PX)),
    ("create price text", lambda om, c: om.create(BTC, Side.BUY, LOT, str(PX))),
    ("create side 2", lambda om, c: om.create(BTC, 2, LOT, PX)),
    ("create side text", lambda om, c: om.create(BTC, "BUY", LOT, PX)),
    ("create type 99", lambda om, c: om.create(BTC, Side.BUY, LOT, PX, 99)),
    ("create tif 9", lambda om, c: om.create(BTC, Side.BUY, LOT, PX, 0, 9)),
    ("create size 0", lambda om, c: om.create(BTC, Side.BUY, 0, PX)),
    ("fill price text", lambda om, c: om.on_fill(c, "tx", LOT, str(PX))),
    ("fill qty float", lambda om, c: om.on_fill(c, "tx", 1.0, PX)),
    ("fill liquidity 5", lambda om, c: om.on_fill(c, "tx", LOT, PX, 5)),
    ("fill fee float", lambda om, c: om.on_fill(c, "tx", LOT, PX, 1, 0.5)),
    ("fill trade id int", lambda om, c: om.on_fill(c, 7, LOT, PX)),
    ("ack vid int", lambda om, c: om.on_ack(c, 7)),
    ("ack cid int", lambda om, c: om.on_ack(7, "v")),
    ("reject reason bytes", lambda om, c: om.on_reject(c, b"x")),
    ("replaced size float", lambda om, c: om.on_replaced(c, PX, 2.0)),
    ("replace price float", lambda om, c: om.replace(c, 1.0, LOT)),
    ("cancel ts float", lambda om, c: om.cancel(c, ts=1.0)),
    ("timeouts now text", lambda om, c: om.check_timeouts("1")),
    ("submit not an order", lambda om, c: om.submit(c)),
]


def snapshot(om: OrderManager) -> tuple[object, ...]:
    orders = [(o.client_order_id, o.status, o.prior_status, o.filled, o.size, o.price,
               o.reason, o.venue_order_id, o.acked, o.sent_ns, o.fills, o.history)
              for o in om]
    positions = {k: v for k, v in om.portfolio.snapshot().items() if v["fills"]}
    return orders, positions, list(om.fills)


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        # journals in memory where there is a tmpfs: this test opens hundreds of them
        shm = Path("/dev/shm")
        self.dir = Path(tempfile.mkdtemp(prefix="hftcore-sm-",
                                         dir=shm if shm.is_dir() else None))
        self.path = self.dir / "orders.journal"
        self.risk = self.new_risk()
        self.om = OrderManager(session="sm", clock=lambda: self.now, timeout_ns=50,
                               journal=self.path, risk=self.risk)
        self.created = 0
        self.last: dict[str, OrderStatus] = {}
        self.trade = 0
        self.steps: list[tuple[int, tuple[object, ...]]] = []  # journal end, state

    @staticmethod
    def new_risk() -> RiskEngine:
        risk = RiskEngine()
        risk.add_instrument(BTC, InstrumentLimits(self_trade_prevention=False))
        return risk

    def teardown(self) -> None:
        self.om.close()
        shutil.rmtree(self.dir, ignore_errors=True)

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
            om.on_ack(cid, data.draw(st.sampled_from(["", "v"])))
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
            om.on_replaced(cid, PX - 5, data.draw(st.integers(0, 6)) * LOT)

    @precondition(lambda self: self.last)
    @rule(data=st.data(), lots=st.integers(0, 6), dup=st.booleans(),
          fee=st.one_of(st.none(), st.integers(-(2**70), 2**70)))
    def fill(self, data: st.DataObject, lots: int, dup: bool, fee: int | None) -> None:
        if not dup:
            self.trade += 1
        self.om.on_fill(self.pick(data), f"t{self.trade}", lots * LOT, PX - 5 * lots,
                        data.draw(st.sampled_from(Liquidity)), fee)

    @rule(cid=st.sampled_from(["hcsm-999", "other-1", "hcsm-0", "hcsm-01"]))
    def event_for_an_unknown_order(self, cid: str) -> None:
        assert not self.om.on_fill(cid, "tx", LOT, PX)
        self.om.on_ack(cid, "v")
        assert self.om.anomalies[-1].kind == "ack_unknown_order"

    @rule(dt=st.integers(1, 100))
    def time_passes(self, dt: int) -> None:
        self.now += dt
        self.om.check_timeouts()

    @rule(data=st.data(), which=st.sampled_from(MALFORMED))
    def malformed(self, data: st.DataObject, which: tuple[str, Any]) -> None:
        cid = self.pick(data) if self.last else "hcsm-1"
        before = snapshot(self.om)
        end = self.om._journal_writer.end_offset
        try:
            which[1](self.om, cid)
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError(f"{which[0]} was accepted")
        assert snapshot(self.om) == before, which[0]
        assert self.om._journal_writer.end_offset == end, which[0]

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
        assert pos.fees == sum(f.fee for f in om.fills if f.fee is not None)
        assert self.risk.instrument_state(BTC)["position"] == pos.net  # risk agrees

    def recovered(self, data: bytes) -> OrderManager:
        cut = self.dir / "cut.journal"
        for p in self.dir.glob("cut.journal*"):
            p.unlink()
        cut.write_bytes(data)
        return OrderManager.recover(cut, clock=lambda: self.now, timeout_ns=50,
                                    rebase_time=False, risk=self.new_risk())

    @invariant()
    def journal_rebuilds_every_prefix(self) -> None:
        om = self.om
        end = om._journal_writer.end_offset
        state = snapshot(om)
        data = self.path.read_bytes()[:end]  # what a kill now would leave
        back = self.recovered(data)
        assert snapshot(back) == state
        assert back.counts["journal_quarantined"] == 0
        assert {o.client_order_id for o in back.open_orders()} == \
            {o.client_order_id for o in om.open_orders()}
        assert self.risk.instrument_state(BTC)["open_orders"] == \
            back.risk.instrument_state(BTC)["open_orders"]
        back.close()
        self.steps.append((end, state))
        # a kill inside the first record after an earlier step: that step's state exactly
        rng = random.Random(len(self.steps))
        k = rng.randrange(len(self.steps))
        at, earlier = self.steps[k]
        if at < end:
            first = int.from_bytes(data[at:at + 4], "little")
            back = self.recovered(data[:at + rng.randrange(first)])
            assert snapshot(back) == earlier
            back.close()


OrderMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=35,
                                          deadline=None)
TestOrderMachine = OrderMachine.TestCase
