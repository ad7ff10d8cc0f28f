"""The binary order journal: every record type round-trips, torn and damaged bytes are told
apart from records, wall-clock time is journaled, and recovery puts recorded times on the
recovering clock (issue 8: after a reboot timeouts must still fire)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trading_sim import BTC

from hftcore import OrderManager, OrderStatus, Side
from hftcore._ext import orders as _c
from hftcore.orders import Journal

S = OrderStatus
PX = BTC.price("50000")
LOT = BTC.lot
SCHEMA = _c.RECORD_SCHEMA
SUBMIT = next(t for t, s in SCHEMA.items() if s[0] == "submit")


def sample(rtype: int, k: int) -> dict[str, object]:
    name, fields, strs = SCHEMA[rtype]
    rec: dict[str, object] = {"e": name}
    for i, f in enumerate(fields):
        rec[f] = (k * 1_000_003 + i) * (-1 if i % 3 == 2 else 1)
    for s in strs:
        rec[s] = f"{s}-{k}-é"
    if name == "fill":
        for f in ("has_fee", "fee_hi", "fee_lo"):
            rec.pop(f)
        rec["fee"] = -(2**90) + k
    return rec


def test_every_record_type_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    j = Journal(path)
    written = [sample(t, k) for k in range(3) for t in sorted(SCHEMA)]
    for rec in written:
        j.append(rec)
    assert j.records == len(written)
    j.close()
    back, torn = Journal.read(path)
    assert not torn
    for w, r in zip(written, back, strict=True):
        r.pop("wall", None)
        r.pop("id", None)
        assert r == w


@given(st.lists(st.tuples(st.sampled_from(sorted(SCHEMA)), st.integers(0, 10**6)),
                min_size=1, max_size=30),
       st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_any_cut_of_a_journal_keeps_the_complete_records(
    tmp_path_factory: pytest.TempPathFactory, recs: list[tuple[int, int]], cut: int
) -> None:
    path = tmp_path_factory.mktemp("cut") / "j.journal"
    j = Journal(path)
    for rtype, k in recs:
        j.append(sample(rtype, k))
    j.close()
    full = Journal.scan(path)
    data = full.data[:16 + cut % (full.end - 15)]  # cut anywhere after the file header
    path.write_bytes(data)
    scan = Journal.scan(path)
    complete = [r for r in full.records if r.offset + r.length <= len(data)]
    assert [(r.offset, r.type, r.fields, r.strings) for r in scan.records] == \
        [(r.offset, r.type, r.fields, r.strings) for r in complete]
    assert scan.torn == data[scan.end:].rstrip(b"\0")
    assert not scan.damaged


def test_flipped_bits_are_damage_not_records(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    j = Journal(path)
    for k in range(20):
        j.append(sample(SUBMIT, k))
    j.close()
    full = Journal.scan(path)
    data = bytearray(full.data)
    hit = full.records[7]
    data[hit.offset + 17] ^= 0x40
    path.write_bytes(bytes(data))
    scan = Journal.scan(path)
    assert len(scan.records) == 19 and [o for o, _ in scan.damaged] == [hit.offset]
    with pytest.raises(ValueError, match="torn or damaged"):
        Journal(path)


def test_not_a_journal(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(ValueError, match="not an hftcore order journal"):
        Journal.scan(p)
    with pytest.raises(ValueError, match="not an hftcore order journal"):
        OrderManager.recover(p)


def test_a_new_manager_refuses_an_existing_journal(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    OrderManager(session="a1", journal=p).close()
    with pytest.raises(ValueError, match="recover"):
        OrderManager(session="a2", journal=p)


def test_records_carry_wall_clock_time(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    before = time.time_ns()
    om = OrderManager(session="w1", journal=p)
    o = om.create(BTC, Side.BUY, LOT, PX)
    om.submit(o)
    om.close()
    after = time.time_ns()
    records, _ = Journal.read(p)
    timed = [r for r in records if "ts" in r]
    assert [r["e"] for r in timed] == ["new", "submit"]
    for r in timed:
        assert before - 10**9 <= r["wall"] <= after + 10**9
        assert r["id"] == o.client_order_id


class FakeClock:
    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def test_recovery_after_a_reboot_rebases_times_and_timeouts_fire(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    before_reboot = FakeClock(11 * 86_400 * 10**9)  # a monotonic clock 11 days after boot
    om = OrderManager(session="rb", journal=p, clock=before_reboot, timeout_ns=10**9)
    lost = om.create(BTC, Side.BUY, LOT, PX)
    om.submit(lost)  # sent; the answer never comes: the machine goes down
    sent_wall = time.time_ns()
    om.close()
    after_reboot = FakeClock(4 * 10**9)  # the machine is back: 4 s since boot
    back = OrderManager.recover(p, clock=after_reboot, timeout_ns=1)
    waited = time.time_ns() - sent_wall
    o = back[lost.client_order_id]
    assert o.status is S.PENDING_NEW
    # sent as long ago as the wall clock says, on the new clock's time line
    assert after_reboot.t - waited - 10**9 <= o.sent_ns <= after_reboot.t
    assert all(0 < ts <= after_reboot.t for ts, _, _ in o.history)
    assert [x.client_order_id for x in back.check_timeouts()] == [lost.client_order_id]
    assert o.status is S.UNKNOWN
    back.close()


def test_recovery_in_the_same_boot_keeps_monotonic_times(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    om = OrderManager(session="sb", journal=p)  # time.monotonic_ns
    o = om.create(BTC, Side.BUY, LOT, PX)
    om.submit(o)
    sent = o.sent_ns
    om.close()
    back = OrderManager.recover(p)
    assert back[o.client_order_id].sent_ns == sent
    assert back[o.client_order_id].history == o.history
    back.close()


def test_rebase_can_be_turned_off(tmp_path: Path) -> None:
    p = tmp_path / "j.journal"
    om = OrderManager(session="nr", journal=p, clock=FakeClock(123_456))
    o = om.create(BTC, Side.BUY, LOT, PX)
    om.close()
    back = OrderManager.recover(p, clock=FakeClock(7), rebase_time=False)
    assert back[o.client_order_id].history[0][0] == 123_456
    back.close()


def test_sync_modes_and_explicit_sync(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="fsync"):
        OrderManager(journal=tmp_path / "a", fsync=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sync_interval_ns"):
        OrderManager(journal=tmp_path / "b", sync_interval_ns=-1)
    om = OrderManager(session="sy", journal=tmp_path / "c")
    om.create(BTC, Side.BUY, LOT, PX)
    om.sync_journal()  # no error, every record on the device
    om.close()
    with pytest.raises(ValueError, match="closed"):
        om.create(BTC, Side.BUY, LOT, PX)  # refused: nothing in memory that is not journaled
    assert len(om) == 1


def test_a_journal_grows_while_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "big.journal"
    om = OrderManager(session="gr", journal=path, clock=FakeClock(1))
    o = om.create(BTC, Side.BUY, 10**9, PX, ts=1)
    om.submit(o, ts=1)
    cid = o.client_order_id
    for k in range(60_000):  # ~4 MB: the file is extended many times under the writer
        assert om.on_fill(cid, f"trade-{k}", 1, PX, ts=2)
    om.close()
    scan = Journal.scan(path)
    assert not scan.torn and not scan.damaged
    assert sum(r.name == "fill" for r in scan.records) == 60_000
    back = OrderManager.recover(path, rebase_time=False, clock=FakeClock(3))
    assert back[cid].filled == 60_000 and len(back.fills) == 60_000
    back.close()
