"""Issue 8: every entry point takes ints (and IntEnums) only, validates before it touches state
or the journal, and a refused call changes nothing; recovery quarantines what it cannot replay.

Each test here fails on the code before the issue (0.1): floats truncated, text accepted, a
refused request written to the journal first, half-applied fills.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from trading_sim import BTC

from hftcore import (
    InstrumentLimits,
    Liquidity,
    OrderManager,
    OrderStatus,
    OrderType,
    Portfolio,
    Reason,
    RiskEngine,
    Side,
    TimeInForce,
)
from hftcore.orders import Journal

S = OrderStatus
PX = BTC.price("50000")
LOT = BTC.lot
INT64_MAX = 2**63 - 1


def manager(tmp_path: Path, **kw: Any) -> OrderManager:
    clock = iter(range(1, 10**9))
    return OrderManager(session="v1", journal=tmp_path / "orders.journal",
                        clock=lambda: next(clock), **kw)


def state(om: OrderManager) -> list[tuple[object, ...]]:
    """Everything observable about the orders and the portfolio."""
    orders = [(o.client_order_id, o.status, o.filled, o.size, o.price, o.reason,
               o.venue_order_id, o.fills, o.history) for o in om]
    return [*orders, ("pf", om.portfolio.snapshot()), ("fills", list(om.fills))]


def records(path: Path) -> int:
    return len(Journal.read(path)[0])


# -- create ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "exc", "name"), [
    ({"size": 1000.5}, TypeError, "size"),
    ({"size": "1000"}, TypeError, "size"),
    ({"size": True}, TypeError, "size"),
    ({"size": 2**63}, ValueError, "size"),
    ({"price": "100"}, TypeError, "price"),
    ({"price": 100.0}, TypeError, "price"),
    ({"price": None}, TypeError, "price"),
    ({"side": 2}, ValueError, "side"),
    ({"side": "BUY"}, TypeError, "side"),
    ({"side": 0.0}, TypeError, "side"),
    ({"order_type": 99}, ValueError, "order_type"),
    ({"order_type": "LIMIT"}, TypeError, "order_type"),
    ({"time_in_force": 7}, ValueError, "time_in_force"),
    ({"time_in_force": -1}, ValueError, "time_in_force"),
    ({"ts": 1.5}, TypeError, "ts"),
    ({"instrument": "BTCUSDT"}, TypeError, "instrument"),
])
def test_create_refuses_bad_arguments_before_the_journal(
    tmp_path: Path, kwargs: dict[str, Any], exc: type[Exception], name: str
) -> None:
    om = manager(tmp_path)
    ok = om.create(BTC, Side.BUY, LOT, PX)
    before, n = state(om), records(tmp_path / "orders.journal")
    args: dict[str, Any] = {"instrument": BTC, "side": Side.BUY, "size": 3 * LOT, "price": PX}
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        om.create(**args)
    assert state(om) == before and len(om) == 1
    assert records(tmp_path / "orders.journal") == n  # nothing journaled
    om.close()
    # the journal is not poisoned: it rebuilds every order, and the numbering goes on
    back = OrderManager.recover(tmp_path / "orders.journal")
    assert [o.client_order_id for o in back] == [ok.client_order_id]
    assert back.counts["journal_quarantined"] == 0
    assert back.create(BTC, Side.SELL, LOT, PX).client_order_id.endswith("-2")
    back.close()


def test_create_with_a_fractional_size_never_reaches_risk(tmp_path: Path) -> None:
    risk = RiskEngine()
    risk.add_instrument(BTC, InstrumentLimits())
    om = manager(tmp_path, risk=risk)
    with pytest.raises(TypeError, match="size"):
        om.create(BTC, Side.BUY, 1000.5, PX)  # type: ignore[arg-type]
    assert risk.counts()[Reason.OK] == 0 and len(om) == 0


def test_enum_members_and_plain_ints_are_accepted() -> None:
    om = OrderManager(session="e1")
    a = om.create(BTC, Side.SELL, LOT, PX, OrderType.LIMIT_MAKER, TimeInForce.GTX, ts=5)
    b = om.create(BTC, 1, LOT, PX, 4, 3, ts=5)
    assert (a.side, a.order_type, a.time_in_force) == (b.side, b.order_type, b.time_in_force)
    assert a.side is Side.SELL and a.order_type is OrderType.LIMIT_MAKER
    assert repr(a).startswith(f"Order({a.client_order_id} BTCUSDT SELL")


def test_orders_are_read_only_views() -> None:
    om = OrderManager(session="ro")
    o = om.create(BTC, Side.BUY, LOT, PX)
    with pytest.raises(AttributeError):
        o.price = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        type(o)()
    assert om[o.client_order_id] == o and hash(om[o.client_order_id]) == hash(o)


# -- venue events ---------------------------------------------------------------------------------
def live_order(om: OrderManager) -> str:
    o = om.create(BTC, Side.BUY, 5 * LOT, PX)
    assert om.submit(o) is Reason.OK
    om.on_ack(o.client_order_id, "v1")
    om.on_fill(o.client_order_id, "t1", LOT, PX)
    return o.client_order_id


@pytest.mark.parametrize(("call", "exc", "name"), [
    (lambda om, c: om.on_fill(c, "t2", LOT, "50000"), TypeError, "price"),
    (lambda om, c: om.on_fill(c, "t2", LOT, 50000.0), TypeError, "price"),
    (lambda om, c: om.on_fill(c, "t2", LOT, 2**64), ValueError, "price"),
    (lambda om, c: om.on_fill(c, "t2", 1.0, PX), TypeError, "qty"),
    (lambda om, c: om.on_fill(c, "t2", LOT, PX, 5), ValueError, "liquidity"),
    (lambda om, c: om.on_fill(c, "t2", LOT, PX, "MAKER"), TypeError, "liquidity"),
    (lambda om, c: om.on_fill(c, "t2", LOT, PX, fee=0.5), TypeError, "fee"),
    (lambda om, c: om.on_fill(c, 2, LOT, PX), TypeError, "trade_id"),
    (lambda om, c: om.on_fill(c, "t" * 300, LOT, PX), ValueError, "trade_id"),
    (lambda om, c: om.on_fill(c, "t2", LOT, PX, ts="now"), TypeError, "ts"),
    (lambda om, c: om.on_fill(7, "t2", LOT, PX), TypeError, "client_order_id"),
    (lambda om, c: om.on_ack(c, 123), TypeError, "venue_order_id"),
    (lambda om, c: om.on_reject(c, b"no"), TypeError, "reason"),
    (lambda om, c: om.on_replaced(c, "1", LOT), TypeError, "price"),
    (lambda om, c: om.on_replaced(c, PX, 2.5), TypeError, "size"),
    (lambda om, c: om.replace(c, PX, 2.5), TypeError, "size"),
    (lambda om, c: om.on_canceled(c, ts=1.0), TypeError, "ts"),
    (lambda om, c: om.cancel(None), TypeError, "client_order_id"),
])
def test_malformed_venue_events_raise_before_anything_changes(
    tmp_path: Path, call: Any, exc: type[Exception], name: str
) -> None:
    om = manager(tmp_path)
    cid = live_order(om)
    before, n = state(om), records(tmp_path / "orders.journal")
    with pytest.raises(exc, match=name):
        call(om, cid)
    assert state(om) == before
    assert records(tmp_path / "orders.journal") == n
    om.close()
    back = OrderManager.recover(tmp_path / "orders.journal", rebase_time=False)
    assert state(back) == before and back.counts["journal_quarantined"] == 0
    back.close()


def test_fill_with_a_bad_price_leaves_order_portfolio_and_risk_untouched() -> None:
    risk = RiskEngine()
    risk.add_instrument(BTC)
    om = OrderManager(session="hp", risk=risk)
    cid = live_order(om)
    with pytest.raises(TypeError, match="price"):
        om.on_fill(cid, "t2", 2 * LOT, "50000.00")
    assert om[cid].filled == LOT and om[cid].status is S.PARTIALLY_FILLED
    assert om.portfolio.position(BTC).net == LOT
    assert risk.instrument_state(BTC)["position"] == LOT


def test_refused_events_are_reported_not_journaled(tmp_path: Path) -> None:
    om = manager(tmp_path)
    cid = live_order(om)
    n = records(tmp_path / "orders.journal")
    assert not om.on_fill(cid, "t1", LOT, PX)  # duplicate
    assert not om.on_fill(cid, "t9", 10 * LOT, PX)  # over-fill
    assert not om.on_fill(cid, "t8", 0, PX)  # size 0
    om.on_reject(cid, "after an ack")  # impossible
    om.on_ack("someone-else-1", "v")  # not ours
    assert records(tmp_path / "orders.journal") == n
    assert [a.kind for a in om.anomalies] == [
        "illegal_overfill", "illegal_fill_size", "illegal_reject", "ack_unknown_order"]
    assert om.counts["duplicate_fill"] == 1
    assert om[cid].filled == LOT


# -- the portfolio refuses ------------------------------------------------------------------------
def test_fill_past_int64_is_refused_whole(tmp_path: Path) -> None:
    risk = RiskEngine(notional_decimals=0)
    risk.add_instrument(BTC)
    om = manager(tmp_path, risk=risk)
    size = 5 * 10**18  # twice that passes INT64_MAX
    a = om.create(BTC, Side.BUY, size, 5)
    b = om.create(BTC, Side.BUY, size, 5)
    for o in (a, b):
        assert om.submit(o) is Reason.OK
        om.on_ack(o.client_order_id, "v")
    assert om.on_fill(a.client_order_id, "t1", size, 5)
    n = records(tmp_path / "orders.journal")
    assert not om.on_fill(b.client_order_id, "t2", size, 5)  # 10**19 does not fit
    assert b.status is S.ACCEPTED and b.filled == 0 and b.fills == []
    assert om.portfolio.position(BTC).net == size
    assert risk.instrument_state(BTC)["position"] == size  # portfolio and risk agree
    assert om.anomalies[-1].kind == "fill_refused"
    assert records(tmp_path / "orders.journal") == n
    om.close()
    back = OrderManager.recover(tmp_path / "orders.journal")
    assert back[b.client_order_id].filled == 0
    assert back.portfolio.position(BTC).net == size
    back.close()


@pytest.mark.parametrize(("args", "exc", "name"), [
    ((Side.BUY, -5, PX), ValueError, "qty"),
    ((Side.BUY, 0, PX), ValueError, "qty"),
    ((Side.BUY, 1.5, PX), TypeError, "qty"),
    (("BUY", 5, PX), TypeError, "side"),
    ((2, 5, PX), ValueError, "side"),
    ((Side.BUY, 5, "1"), TypeError, "price"),
    ((Side.BUY, 5, 2**63), ValueError, "price"),
])
def test_portfolio_apply_validates(args: tuple[Any, ...], exc: type[Exception],
                                   name: str) -> None:
    pf = Portfolio()
    pf.apply(BTC, Side.BUY, 7, PX)
    before = pf.snapshot()
    with pytest.raises(exc, match=name):
        pf.apply(BTC, *args)
    assert pf.snapshot() == before
    with pytest.raises(ValueError, match="liquidity"):
        pf.apply(BTC, Side.SELL, 1, PX, liquidity=5)
    with pytest.raises(TypeError, match="fee"):
        pf.apply(BTC, Side.SELL, 1, PX, fee=0.1)
    assert pf.snapshot() == before


# -- recovery quarantines what it cannot replay ---------------------------------------------------
def test_recover_quarantines_an_unreplayable_record(tmp_path: Path) -> None:
    path = tmp_path / "orders.journal"
    om = OrderManager(session="q1", journal=path)
    a = live_order(om)
    b = om.create(BTC, Side.SELL, LOT, PX + 5).client_order_id
    om.close()
    # records no manager writes: a new order with side 7, a submit of an unknown order
    j = Journal(path)
    j.append({"e": "new", "seq": 3, "inst": 0, "side": 7, "size": LOT, "price": PX,
              "type": 0, "tif": 0, "ts": 99})
    j.append({"e": "submit", "seq": 42, "ts": 100})
    j.append({"e": "fill", "seq": 1, "qty": LOT, "px": PX, "liq": 1, "fee": None, "ts": 101,
              "tid": "t3"})
    j.close()
    seen = []
    back = OrderManager.recover(path, on_anomaly=seen.append)
    assert [o.client_order_id for o in back] == [a, b]
    assert back[a].filled == 2 * LOT  # the good record after the bad ones is replayed
    assert back.counts["journal_quarantined"] == 2
    assert [x.kind for x in seen] == ["journal_quarantined"] * 2
    assert "side" in seen[0].detail and seen[1].client_order_id.endswith("-42")
    aside = [orjson.loads(line) for line in (tmp_path / "orders.journal.quarantine")
             .read_bytes().splitlines()]
    assert [x["name"] for x in aside] == ["new", "submit"]
    back.close()
    # they were taken out of the journal: recovering again is clean and gives the same orders
    again = OrderManager.recover(path)
    assert again.counts["journal_quarantined"] == 0 and again[a].filled == 2 * LOT
    again.close()


LEGACY_POISONED = [
    {"e": "session", "session": "old1", "prefix": "hc", "v": 1},
    {"e": "inst", "venue": "sim", "symbol": "BTCUSDT", "pd": 2, "sd": 5, "tick": 5, "lot": 100,
     "base": "BTC", "quote": "USDT", "min_size": 0, "max_size": None, "min_notional": 0,
     "iid": 0},
    {"e": "new", "id": "hcold1-1", "venue": "sim", "symbol": "BTCUSDT", "side": 0,
     "size": 500, "price": 5000000, "type": 0, "tif": 0, "ts": 10},
    {"e": "submit", "id": "hcold1-1", "ts": 11},
    # 0.1 wrote this record, then raised: its create had side 2
    {"e": "new", "id": "hcold1-2", "venue": "sim", "symbol": "BTCUSDT", "side": 2,
     "size": 500, "price": 5000000, "type": 0, "tif": 0, "ts": 12},
    {"e": "ack", "id": "hcold1-1", "vid": "V1", "ts": 13},
    # and this one: a fill with the price as text
    {"e": "fill", "id": "hcold1-1", "tid": "T1", "qty": 100, "px": "5000000", "liq": 1,
     "fee": None, "ts": 14},
    {"e": "fill", "id": "hcold1-1", "tid": "T2", "qty": 200, "px": 5000000, "liq": 0,
     "fee": None, "ts": 15},
]


def test_a_journal_poisoned_by_version_0_1_recovers(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in LEGACY_POISONED))
    back = OrderManager.recover(path, rebase_time=False)
    o = back["hcold1-1"]
    assert o.status is S.PARTIALLY_FILLED and o.filled == 200 and o.venue_order_id == "V1"
    assert back.get("hcold1-2") is None
    assert back.counts["journal_quarantined"] == 2
    assert (tmp_path / "orders.jsonl.v1").exists()
    assert back.create(BTC, Side.BUY, LOT, PX).client_order_id == "hcold1-3"
    back.close()
    records, torn = Journal.read(path)  # binary now
    assert not torn and records[0]["e"] == "session" and records[0]["session"] == "old1"


def test_liquidity_enum_and_fee_round_trip_through_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "orders.journal"
    om = OrderManager(session="rt", journal=path)
    cid = live_order(om)
    big_fee = 2**70 + 3  # value decimals can be many: fees beyond int64 are kept exactly
    assert om.on_fill(cid, "t2", LOT, PX, Liquidity.MAKER, fee=big_fee)
    assert om.on_fill(cid, "t3", LOT, PX, Liquidity.TAKER, fee=-17)
    om.close()
    back = OrderManager.recover(path)
    assert [(f.liquidity, f.fee) for f in back[cid].fills] == [
        (Liquidity.TAKER, None), (Liquidity.MAKER, big_fee), (Liquidity.TAKER, -17)]
    assert back.portfolio.position(BTC).fees == big_fee - 17
    back.close()
