"""Order manager: state machine, venue quirks, timeouts, reconciliation, journal recovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trading_sim import BTC, ETH, Scenario, reference_positions

from hftcore import (
    FeeSchedule,
    Fill,
    InstrumentLimits,
    OrderError,
    OrderManager,
    OrderStatus,
    Portfolio,
    Reason,
    RiskEngine,
    Side,
    VenueOrder,
)
from hftcore.orders import Journal

S = OrderStatus
PX = BTC.price("50000")
LOT = BTC.lot

ALLOWED_STATUS = set(OrderStatus)


def new_om(**kw: object) -> OrderManager:
    clock = iter(range(1, 10**9))
    return OrderManager(session="t1", clock=lambda: next(clock), **kw)  # type: ignore[arg-type]


def sent(om: OrderManager, size: int = 5 * LOT, side: Side = Side.BUY, price: int = PX) -> str:
    o = om.create(BTC, side, size, price)
    assert om.submit(o) is Reason.OK
    return o.client_order_id


# -- the happy path and ids --
def test_life_cycle_and_history() -> None:
    om = new_om()
    cid = sent(om)
    o = om[cid]
    assert o.status is S.PENDING_NEW
    om.on_ack(cid, "v1")
    om.on_fill(cid, "t1", 2 * LOT, PX)
    assert o.status is S.PARTIALLY_FILLED and o.remaining == 3 * LOT
    om.on_fill(cid, "t2", 3 * LOT, PX - 5)
    assert o.status is S.FILLED and o.venue_order_id == "v1"
    assert [h[2] for h in o.history] == ["new", "submit", "ack", "fill", "fill"]
    assert [h[1] for h in o.history][-1] is S.FILLED
    assert om.open_orders() == []


def test_client_ids_unique_per_session_and_venue() -> None:
    om = new_om()
    ids = {om.create(BTC, Side.BUY, LOT, PX).client_order_id for _ in range(50)}
    ids |= {om.create(ETH, Side.BUY, 1, 1).client_order_id for _ in range(50)}
    assert len(ids) == 100
    other = OrderManager()
    assert other.session != om.session
    assert all(len(i) <= 36 and i.replace("-", "").isalnum() for i in ids)


def test_illegal_local_requests_raise() -> None:
    om = new_om()
    cid = sent(om)
    with pytest.raises(OrderError):
        om.submit(om[cid])
    with pytest.raises(OrderError):
        om.replace(cid, PX, 6 * LOT)  # not yet live
    om.on_ack(cid, "v")
    om.on_fill(cid, "t", 5 * LOT, PX)
    with pytest.raises(OrderError):
        om.cancel(cid)
    with pytest.raises(OrderError):
        om.cancel("nope")
    with pytest.raises(OrderError):
        om.create(BTC, Side.BUY, 0, PX)


# -- venues being venues --
def test_fill_before_ack() -> None:
    om = new_om()
    cid = sent(om)
    om.on_fill(cid, "t1", LOT, PX)
    assert om[cid].status is S.PARTIALLY_FILLED
    om.on_ack(cid, "v1")  # late ack does not move it back
    assert om[cid].status is S.PARTIALLY_FILLED and om[cid].venue_order_id == "v1"
    assert om.counts["late_ack"] == 1


def test_cancel_ack_after_fill_is_ignored() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    om.cancel(cid)
    om.on_fill(cid, "t1", 5 * LOT, PX)
    assert om[cid].status is S.FILLED
    om.on_canceled(cid)
    assert om[cid].status is S.FILLED
    assert om.counts["late_canceled"] == 1


def test_fill_after_cancel_ack_is_booked() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    om.cancel(cid)
    om.on_canceled(cid)
    assert om.on_fill(cid, "t1", 2 * LOT, PX)
    assert om[cid].status is S.CANCELED and om[cid].filled == 2 * LOT
    assert om.portfolio.position(BTC).net == 2 * LOT
    assert om.on_fill(cid, "t2", 3 * LOT, PX)  # it was in fact filled completely
    assert om[cid].status is S.FILLED


def test_duplicate_fills_by_trade_id() -> None:
    om = new_om()
    cid = sent(om)
    assert om.on_fill(cid, "t1", LOT, PX)
    assert not om.on_fill(cid, "t1", LOT, PX)
    assert om[cid].filled == LOT and om.counts["duplicate_fill"] == 1
    assert om.portfolio.position(BTC).net == LOT


def test_overfill_refused_and_reported() -> None:
    om = new_om()
    cid = sent(om)
    om.on_fill(cid, "t1", 4 * LOT, PX)
    assert not om.on_fill(cid, "t2", 2 * LOT, PX)
    assert om[cid].filled == 4 * LOT
    assert om.anomalies[-1].kind == "illegal_overfill"


def test_illegal_venue_events_are_refused_and_reported() -> None:
    om = new_om()
    o = om.create(BTC, Side.BUY, LOT, PX)
    om.on_ack(o.client_order_id)  # never sent
    assert o.status is S.NEW
    assert not om.on_fill(o.client_order_id, "t", LOT, PX)
    cid = sent(om)
    om.on_ack(cid)
    om.on_reject(cid, "late nonsense")  # a reject after an ack does not exist
    assert om[cid].status is S.ACCEPTED
    om.on_fill("unknown", "tx", 1, 1)
    kinds = [a.kind for a in om.anomalies]
    assert kinds == ["illegal_ack_unsent", "illegal_fill_unsent", "illegal_reject",
                     "fill_unknown_order"]


def test_reject_and_cancel_reject() -> None:
    om = new_om()
    a = sent(om)
    om.on_reject(a, "insufficient balance")
    assert om[a].status is S.REJECTED and om[a].reason == "insufficient balance"
    b = sent(om)
    om.on_ack(b)
    om.on_fill(b, "t", LOT, PX)
    om.cancel(b)
    assert om[b].status is S.PENDING_CANCEL
    om.on_cancel_reject(b, "too late")
    assert om[b].status is S.PARTIALLY_FILLED


def test_cancel_before_ack_then_reject() -> None:
    om = new_om()
    a = sent(om)
    om.cancel(a)
    om.on_reject(a)
    assert om[a].status is S.REJECTED


def test_cancel_new_order_never_sent() -> None:
    om = new_om()
    o = om.create(BTC, Side.BUY, LOT, PX)
    om.cancel(o.client_order_id)
    assert o.status is S.CANCELED


def test_replace() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    om.on_fill(cid, "t1", LOT, PX)
    om.replace(cid, PX - 50, 3 * LOT)
    assert om[cid].status is S.PENDING_REPLACE
    om.on_replaced(cid, PX - 50, 3 * LOT)
    assert om[cid].status is S.PARTIALLY_FILLED and om[cid].price == PX - 50
    om.replace(cid, PX - 100, 4 * LOT)
    om.on_replace_reject(cid, "no")
    assert om[cid].status is S.PARTIALLY_FILLED and om[cid].size == 3 * LOT
    with pytest.raises(OrderError):
        om.replace(cid, PX, LOT)  # not above filled


def test_expired() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    om.on_fill(cid, "t1", LOT, PX)
    om.on_expired(cid)
    assert om[cid].status is S.EXPIRED and om[cid].filled == LOT


# -- risk wiring --
def test_manager_runs_risk_and_feeds_it() -> None:
    risk = RiskEngine()
    risk.add_instrument(BTC, InstrumentLimits(max_position=6 * LOT))
    om = new_om(risk=risk)
    a = sent(om, 5 * LOT)
    o = om.create(BTC, Side.BUY, 2 * LOT, PX)
    assert om.submit(o) is Reason.POSITION_LIMIT
    assert o.status is S.REJECTED and "POSITION_LIMIT" in o.reason
    om.on_ack(a)
    om.on_fill(a, "t1", 2 * LOT, PX)
    assert risk.instrument_state(BTC)["position"] == 2 * LOT
    assert risk.instrument_state(BTC)["open_buy_qty"] == 3 * LOT
    om.cancel(a)
    om.on_canceled(a)
    assert risk.instrument_state(BTC)["open_orders"] == 0
    b = om.create(BTC, Side.BUY, 4 * LOT, PX)
    assert om.submit(b) is Reason.OK
    # the kill switch asks the manager to cancel every open order
    risk.on_cancel_all = om.cancel_all
    assert risk.kill() == [b.client_order_id]
    assert b.status is S.PENDING_CANCEL
    assert om.cancel_all() == [b.client_order_id]  # already pending: asked again, no new state


# -- timeouts and reconciliation --
def test_timeout_then_reconcile() -> None:
    now = [0]
    om = OrderManager(session="r1", clock=lambda: now[0], timeout_ns=1000)
    lost = sent(om)  # the venue never got it
    live = sent(om)  # got it, ack lost, partly filled
    done = sent(om)  # filled, every message lost
    canc = sent(om)
    om.on_ack(canc, "vc")
    om.cancel(canc)  # cancel sent, answer lost: the venue did cancel it
    now[0] = 999
    assert om.check_timeouts() == []
    now[0] = 1000
    assert {o.client_order_id for o in om.check_timeouts()} == {lost, live, done, canc}
    assert all(om[c].status is S.UNKNOWN for c in (lost, live, done, canc))
    from hftcore import Fill

    report = om.reconcile(
        "sim",
        open_orders=[VenueOrder(live, "vl", PX, 5 * LOT, LOT), VenueOrder("foreign1", "vf")],
        fills=[Fill(live, "f1", Side.BUY, LOT, PX), Fill(done, "f2", Side.BUY, 5 * LOT, PX)],
    )
    assert om[lost].status is S.REJECTED and om[lost].reason == "not found at venue"
    assert om[live].status is S.PARTIALLY_FILLED and om[live].venue_order_id == "vl"
    assert om[done].status is S.FILLED
    assert om[canc].status is S.CANCELED
    assert report.fills_applied == 2
    assert [v.client_order_id for v in report.foreign_orders] == ["foreign1"]
    assert om.portfolio.position(BTC).net == 6 * LOT


def test_reconcile_reports_missing_fills_without_inventing_them() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    report = om.reconcile("sim", [VenueOrder(cid, "v", PX, 5 * LOT, 2 * LOT)])
    assert report.missing_fills == {cid: 2 * LOT}
    assert om[cid].filled == 0 and om[cid].status is S.ACCEPTED


# -- random streams --
def check_invariants(om: OrderManager, sc: Scenario) -> None:
    booked = []
    for o in om:
        assert o.status in ALLOWED_STATUS
        assert 0 <= o.filled <= o.size
        assert o.filled == sum(f.qty for f in o.fills)
        assert len({f.trade_id for f in o.fills}) == len(o.fills)
        assert (o.client_order_id in {x.client_order_id for x in om.open_orders()}) == o.is_open
        booked += o.fills
    assert len(om) == sc.created  # never lose an order
    # portfolio == a from-scratch recomputation over the booked fills (in booking order)
    def key(f: Fill) -> tuple[str, str]:
        return f.client_order_id, f.trade_id

    assert sorted(booked, key=key) == sorted(om.fills, key=key)
    booked = list(om.fills)
    fee_of = om.portfolio.default_fees
    ref = reference_positions([
        (om[f.client_order_id].instrument, f.side, f.qty, f.price,
         fee_of.fee(f.price * f.qty, f.liquidity)) for f in booked
    ])
    for pos in om.portfolio:
        r = ref.get(pos.instrument.symbol, {"net": 0, "cost": 0, "realized": 0, "fees": 0,
                                            "turnover": 0, "cash": 0})
        assert (pos.net, pos.cost, pos.realized_pnl, pos.fees, pos.turnover) == (
            r["net"], r["cost"], r["realized"], r["fees"], r["turnover"]
        )
        mark = pos.mark or 0
        assert pos.realized_pnl + (pos.net * mark - pos.cost) == r["cash"] + pos.net * mark


@given(seed=st.integers(0, 2**32), n=st.integers(1, 25), dup=st.sampled_from([0.0, 0.2]),
       reorder=st.sampled_from([0.0, 0.3, 0.8]))
@settings(max_examples=60)
def test_random_streams_never_reach_an_illegal_state(
    seed: int, n: int, dup: float, reorder: float, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("j") / "journal.jsonl"
    sc = Scenario(seed, n_orders=n, p_dup=dup, p_reorder=reorder)
    pf = Portfolio(FeeSchedule.from_text("0.0001", "0.0004"))
    om = sc.manager(portfolio=pf, journal=path)
    steps = 0
    while sc.step(om):
        steps += 1
        if steps % 7 == 0:
            check_invariants(om, sc)
    sc.drain(om)
    check_invariants(om, sc)
    # every order ends where the venue says it is, with exactly the venue's fills
    for cid, t in sc.truth.items():
        o = om[cid]
        assert o.status is t.final, (cid, o.history, t)
        assert sorted(f.trade_id for f in o.fills) == sorted(f[0] for f in t.fills)
    # the journal rebuilds the same orders and the same portfolio
    om.close()
    back = OrderManager.recover(path, portfolio=Portfolio(FeeSchedule.from_text("0.0001",
                                                                              "0.0004")))
    assert snapshot(back) == snapshot(om)
    assert back.portfolio.snapshot() == om.portfolio.snapshot()
    back.close()


@given(seed=st.integers(0, 2**32), n=st.integers(1, 20), keep=st.floats(0, 1))
@settings(max_examples=40)
def test_lost_messages_are_recovered_by_timeout_and_reconcile(
    seed: int, n: int, keep: float
) -> None:
    sc = Scenario(seed, n_orders=n, p_dup=0.1, p_drop=1 - keep)
    om = sc.manager(timeout_ns=1)
    while sc.step(om):
        pass
    sc.t += 10**9
    om.check_timeouts()
    om.reconcile("sim", sc.venue_open_orders(), sc.venue_fills(), sc.venue_closed())
    for cid, t in sc.truth.items():
        o = om[cid]
        assert o.status is t.final, (cid, o.history, t)
        assert sorted(f.trade_id for f in o.fills) == sorted(f[0] for f in t.fills)
    check_invariants(om, sc)


def snapshot(om: OrderManager) -> dict[str, tuple[object, ...]]:
    return {
        o.client_order_id: (o.status, o.filled, o.size, o.price, o.venue_order_id,
                            [(f.trade_id, f.qty, f.price) for f in o.fills], len(o.history))
        for o in om
    }


def test_journal_torn_tail_and_damage(tmp_path: Path) -> None:
    path = tmp_path / "orders.journal"
    om = OrderManager(session="tt", journal=path)
    cid = sent(om)
    om.on_ack(cid, "v")
    om.close()
    with open(path, "ab") as f:
        f.write(b"\x30\x00\x00\x00partial record")  # killed mid-write: no complete record
    back = OrderManager.recover(path)
    assert back[cid].status is S.ACCEPTED and back.counts["journal_torn_tail"] == 1
    torn = (tmp_path / "orders.journal.torn").read_bytes()
    assert torn.endswith(b"\x30\x00\x00\x00partial record")
    c2 = back.create(BTC, Side.BUY, LOT, PX).client_order_id
    assert c2 != cid
    back.close()
    records, torn = Journal.read(path)
    assert not torn and records[-1]["e"] == "new" and records[-1]["id"] == c2
    # a damaged record in the middle (a page lost in a power cut): reported, the rest rebuilt
    scan = Journal.scan(path)
    ack = next(r for r in scan.records if r.name == "ack")
    data = bytearray(scan.data)
    data[ack.offset + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    again = OrderManager.recover(path)
    assert again.counts["journal_damaged"] == 1
    assert again[cid].status is S.PENDING_NEW  # its ack went with the damaged record
    assert again[c2].status is S.NEW
    aside = (tmp_path / "orders.journal.quarantine").read_bytes()
    assert bytes(data[ack.offset:ack.offset + ack.length]).hex().encode() in aside
    again.close()
    # the damaged span is gone from the journal: the next recovery is clean
    third = OrderManager.recover(path)
    assert third.counts["journal_damaged"] == 0 and third[cid].status is S.PENDING_NEW
    third.close()


def test_prune_forgets_old_terminal_orders_only() -> None:
    now = [0]
    om = OrderManager(session="p1", clock=lambda: now[0])
    done = sent(om)
    om.on_fill(done, "t1", 5 * LOT, PX)
    now[0] = 100
    live = sent(om)
    late = sent(om)
    om.on_reject(late)  # terminal but recent
    assert om.prune(older_than_ns=50) == 1
    assert om.get(done) is None and om.get(live) is not None and om.get(late) is not None
    assert om.fills == [] and om.portfolio.position(BTC).net == 5 * LOT
    assert not om.on_fill(done, "t2", LOT, PX)  # reported, not lost: it is in the anomalies
    assert om.anomalies[-1].kind == "fill_unknown_order"


def test_reconcile_never_assumes_a_fill() -> None:
    om = new_om()
    cid = sent(om)
    om.on_ack(cid)
    om.on_fill(cid, "t1", 2 * LOT, PX)
    report = om.reconcile("sim", [], closed={cid: S.FILLED})  # but only 2 of 5 lots known
    assert om[cid].status is S.UNKNOWN and report.missing_fills == {cid: 3 * LOT}
    assert om[cid].filled == 2 * LOT and om.portfolio.position(BTC).net == 2 * LOT
    from hftcore import Fill

    om.reconcile("sim", [], fills=[Fill(cid, "t2", Side.BUY, 3 * LOT, PX)],
                 closed={cid: S.FILLED})
    assert om[cid].status is S.FILLED


def test_duplicate_fills_caught_on_an_order_with_many_fills(tmp_path: Path) -> None:
    path = tmp_path / "orders.journal"
    om = OrderManager(session="mf", journal=path)
    o = om.create(BTC, Side.BUY, 5000 * LOT, PX)
    om.submit(o)
    cid = o.client_order_id
    for k in range(3000):  # past the point where trade ids move into a set
        assert om.on_fill(cid, f"t{k}", LOT, PX)
    for k in (0, 6, 7, 8, 2999):  # every earlier trade id is still recognized
        assert not om.on_fill(cid, f"t{k}", LOT, PX)
    assert om.counts["duplicate_fill"] == 5
    assert o.filled == 3000 * LOT and len(o.fills) == 3000
    om.close()
    back = OrderManager.recover(path)
    assert not back.on_fill(cid, "t1234", LOT, PX)  # the recovered order knows them too
    assert back.on_fill(cid, "t3000", LOT, PX)
    assert back[cid].filled == 3001 * LOT
    back.close()


def test_pruned_orders_free_their_memory_and_their_views_say_so() -> None:
    now = [0]
    om = OrderManager(session="pm", clock=lambda: now[0])
    done = []
    for k in range(3000):  # across several chunks of the order table
        cid = sent(om, LOT)
        om.on_fill(cid, f"t{k}", LOT, PX)
        done.append(om[cid])
    now[0] = 10
    keep = sent(om)
    assert om.prune(5) == 3000 and len(om) == 1 and len(om.fills) == 0
    with pytest.raises(OrderError, match="pruned"):
        _ = done[0].status
    assert "pruned" in repr(done[-1])
    assert om.get(done[0].client_order_id) is None
    assert om.portfolio.position(BTC).net == 3000 * LOT
    o = om.create(BTC, Side.BUY, LOT, PX)  # numbering goes on
    assert o.client_order_id.endswith("-3002") and om[keep].status is S.PENDING_NEW


def test_fill_log_is_a_sequence_in_booking_order() -> None:
    om = new_om()
    a, b = sent(om), sent(om)
    om.on_fill(b, "t1", LOT, PX)
    om.on_fill(a, "t2", 2 * LOT, PX - 5)
    log = om.fills
    assert len(log) == 2 and [f.trade_id for f in log] == ["t1", "t2"]
    assert log[-1].client_order_id == a and log[0:1][0].client_order_id == b
    assert log == list(log) and list(log) == om[a].fills[:0] + om[b].fills + om[a].fills
    with pytest.raises(IndexError):
        log[2]


def test_a_failing_risk_engine_is_reported_not_half_applied() -> None:
    class Flaky(RiskEngine):
        def on_order_fill(self, *a: object) -> None:
            raise RuntimeError("risk store unavailable")

    risk = Flaky()
    risk.add_instrument(BTC)
    om = new_om(risk=risk)
    cid = sent(om)
    assert om.on_fill(cid, "t1", 5 * LOT, PX)  # booked: the venue traded
    assert om[cid].status is S.FILLED and om.portfolio.position(BTC).net == 5 * LOT
    assert om.anomalies[-1].kind == "risk_update_failed"
    assert "risk store unavailable" in om.anomalies[-1].detail


def test_threads_sharing_a_manager_never_corrupt_it() -> None:
    """The manager is meant for one thread; used from several (each call holding the GIL, the
    risk engine's Python code letting them interleave) it stays consistent."""
    import threading

    risk = RiskEngine()
    risk.add_instrument(BTC, InstrumentLimits(self_trade_prevention=False))
    om = OrderManager(session="th", risk=risk)
    o = om.create(BTC, Side.BUY, 10**6 * LOT, PX)
    om.submit(o)
    cid = o.client_order_id
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(2000):
                om.on_fill(cid, f"t{k}-{i}", LOT, PX)
                om.on_fill(cid, f"t{k}-{i}", LOT, PX)  # a duplicate, from any thread
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert o.filled == 8000 * LOT and len(o.fills) == 8000 and len(om.fills) == 8000
    assert om.counts["duplicate_fill"] == 8000
    assert om.portfolio.position(BTC).net == risk.instrument_state(BTC)["position"] == 8000 * LOT


def test_an_instrument_the_risk_engine_does_not_know_is_rejected() -> None:
    risk = RiskEngine()
    om = new_om(risk=risk)
    o = om.create(ETH, Side.BUY, 1, 1)
    assert om.submit(o) is Reason.UNKNOWN_INSTRUMENT and o.status is S.REJECTED
    risk.add_instrument(ETH)  # registered later: the next order goes through
    p = om.create(ETH, Side.BUY, 1, 1)
    assert om.submit(p) is Reason.OK


def test_a_replace_can_give_the_order_a_new_venue_id() -> None:
    """Binance's cancel-replace makes a new venue order: the order takes its id."""
    from hftcore import Instrument, OrderManager, Side

    inst = Instrument("binance", "BTCUSDT", 2, 5)
    om = OrderManager(session="vid")
    o = om.create(inst, Side.BUY, 100, 5_000_000)
    om.submit(o, ts=1)
    om.on_ack(o.client_order_id, "111", ts=2)
    om.replace(o.client_order_id, 4_999_000, 100, ts=3)
    om.on_replaced(o.client_order_id, 4_999_000, 100, "222", ts=4)
    assert o.venue_order_id == "222" and o.price == 4_999_000


def test_the_risk_engines_compiled_bookkeeping_matches_its_methods() -> None:
    """A plain RiskEngine is told of order events by one C call each (its compiled book); one
    whose ``on_order_*`` methods are overridden is called through them.  Both keep the same
    open orders, open sizes, position and own best prices through any run of events."""
    import random

    calls: list[str] = []

    class Watched(RiskEngine):
        def on_order_open(self, *a: object) -> None:
            calls.append("open")
            super().on_order_open(*a)  # type: ignore[arg-type]

        def on_order_fill(self, *a: object) -> None:
            calls.append("fill")
            super().on_order_fill(*a)  # type: ignore[arg-type]

        def on_order_replaced(self, *a: object) -> None:
            calls.append("replaced")
            super().on_order_replaced(*a)  # type: ignore[arg-type]

        def on_order_closed(self, *a: object) -> None:
            calls.append("closed")
            super().on_order_closed(*a)  # type: ignore[arg-type]

    assert RiskEngine()._tracking_core() is not None and Watched()._tracking_core() is None
    patched = RiskEngine()
    patched.on_order_closed = lambda order_id: None  # type: ignore[method-assign]
    assert patched._tracking_core() is None

    def state(risk: RiskEngine) -> object:
        return (risk.instrument_state(BTC), risk.book_state(), risk.open_order_ids(),
                [(o.index, o.side, o.price, o.remaining) for o in risk._open.values()])

    rng = random.Random(7)
    risks = [RiskEngine(), Watched()]
    oms = []
    for risk in risks:
        risk.add_instrument(BTC, InstrumentLimits(self_trade_prevention=False))
        oms.append(new_om(risk=risk))
    live: list[str] = []
    for step in range(600):
        act = rng.random()
        if act < 0.25 or not live:
            side, px = rng.choice((Side.BUY, Side.SELL)), PX + 5 * rng.randrange(-4, 5)
            size = LOT * rng.randrange(1, 6)
            cids = [sent(om, size, side, px) for om in oms]
            assert cids[0] == cids[1]
            live.append(cids[0])
            continue
        cid = rng.choice(live)
        o = oms[0][cid]
        new_px, new_size = PX + 5 * rng.randrange(-4, 5), o.filled + LOT
        qty = min(o.remaining, LOT * (1 + step % 3))
        if act < 0.4:
            event = "ack"
        elif act < 0.6 and o.status in (S.ACCEPTED, S.PARTIALLY_FILLED):
            event = "replace"
        elif act < 0.85 and o.remaining:
            event = "fill"
        elif act < 0.95 and o.is_open:
            event = "canceled"
        elif o.status is S.PENDING_NEW:
            event = "reject"
        else:
            continue
        for om in oms:
            if event == "ack":
                om.on_ack(cid, "v")
            elif event == "replace":
                om.replace(cid, new_px, new_size)
                om.on_replaced(cid, new_px, new_size)
            elif event == "fill":
                om.on_fill(cid, f"t{step}", qty, PX)
            elif event == "canceled":
                om.on_canceled(cid)
            else:
                om.on_reject(cid, "no")
        if not o.is_open:
            live.remove(cid)
        assert state(risks[0]) == state(risks[1]), step
        assert [a.kind for a in oms[0].anomalies] == [a.kind for a in oms[1].anomalies]
    assert {"open", "fill", "replaced", "closed"} <= set(calls)
    assert risks[0].open_order_ids() and risks[0].instrument_state(BTC)["position"]
