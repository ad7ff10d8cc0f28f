"""SIGKILL a trading child process and recover from its journal: exactly what docs/trading.md
promises.

* Every call that returned before the kill is in the journal (the child reports how many
  records it had written; at least that many come back), in every sync mode.
* The recovered orders and positions equal the same stream replayed here up to exactly the
  records the child wrote: nothing half-written is replayed.
* A call killed after its record was written is recovered as if it had completed; a call
  killed before is recovered as if it had never been made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from trading_sim import BTC, Scenario

from hftcore import FeeSchedule, OrderManager, OrderStatus, Portfolio
from hftcore.orders import Journal

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

STREAM = textwrap.dedent(
    """
    import sys
    from trading_sim import Scenario
    from hftcore import FeeSchedule, Portfolio

    seed, path = int(sys.argv[1]), sys.argv[2]
    fsync, interval = sys.argv[3] == "1", int(sys.argv[4])
    sc = Scenario(seed, n_orders=10**6, session="crash")
    om = sc.manager(journal=path, portfolio=Portfolio(FeeSchedule.from_text("0.0001", "0.0004")),
                    fsync=fsync, sync_interval_ns=interval)
    i = 0
    while sc.step(om):
        i += 1
        if i % 50 == 0:
            # every call so far has returned: its records must survive the kill
            print(i, om._journal_writer.records, flush=True)
    """
)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), *sys.path])
    return e


def snapshot(om: OrderManager) -> dict[str, tuple[object, ...]]:
    return {
        o.client_order_id: (o.status, o.filled, o.size, o.price, o.venue_order_id, o.reason,
                            [(f.trade_id, f.qty, f.price, f.liquidity, f.fee) for f in o.fills],
                            o.history)
        for o in om
    }


@pytest.mark.parametrize(("seed", "fsync", "interval"), [
    (7, False, 0), (2024, False, 0), (11, False, 2_000_000), (5, True, 0)])
def test_sigkill_mid_stream_then_recover(tmp_path: Path, seed: int, fsync: bool,
                                         interval: int) -> None:
    path = tmp_path / "orders.journal"
    script = tmp_path / "child.py"
    script.write_text(STREAM)
    child = subprocess.Popen(
        [sys.executable, str(script), str(seed), str(path), "1" if fsync else "0",
         str(interval)], stdout=subprocess.PIPE, env=env())
    promised = 0
    try:
        assert child.stdout is not None
        steps = 0
        target = 400 if fsync else 1500
        while steps < target:
            line = child.stdout.readline()
            if not line:
                break
            steps, promised = map(int, line.split())
        assert steps >= target, "child did not get far enough"
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: it is still trading
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    scan = Journal.scan(path)
    n = len(scan.records)
    assert n >= promised > 100  # nothing a returned call wrote is lost
    assert not scan.damaged
    # the same stream, here, up to exactly what the child journaled
    sc = Scenario(seed, n_orders=10**6, session="crash")
    ref = sc.manager(journal=tmp_path / "ref.journal",
                     portfolio=Portfolio(FeeSchedule.from_text("0.0001", "0.0004")))
    expected = None
    while ref._journal_writer.records < n:
        if ref._journal_writer.records >= n - 4:  # a call writes at most 3 records
            expected = snapshot(ref), ref.portfolio.snapshot()
        assert sc.step(ref)
    if ref._journal_writer.records == n:
        expected = snapshot(ref), ref.portfolio.snapshot()
    # else the kill fell between the records of one call (a clock or instrument record and
    # the event's): the event's record is missing, so the call never happened
    assert expected is not None

    # the scenario's clock, times kept as recorded: they compare exactly
    back = OrderManager.recover(path, portfolio=Portfolio(FeeSchedule.from_text("0.0001",
                                                                              "0.0004")),
                                clock=lambda: sc.t, rebase_time=False)
    assert back.counts["journal_quarantined"] == 0
    assert len(back) > 50
    assert (snapshot(back), back.portfolio.snapshot()) == expected
    assert any(p.net for p in back.portfolio)
    # the recovered manager carries on with fresh ids in the same journal
    first = next(iter(back))
    o = back.create(first.instrument, first.side, first.instrument.lot, first.price)
    assert o.client_order_id not in expected[0]
    back.close()
    ref.close()
    again = OrderManager.recover(path)
    assert len(again) == len(expected[0]) + 1 and again.counts["journal_torn_tail"] == 0
    again.close()


KILL_INSIDE = textwrap.dedent(
    """
    import os, signal, sys
    from hftcore import Instrument, InstrumentLimits, OrderManager, RiskEngine, Side

    where, path = sys.argv[1], sys.argv[2]
    btc = Instrument("sim", "BTCUSDT", 2, 5)

    class Risk(RiskEngine):
        # the risk engine is called at known points of a call: before the journal write
        # (check), and after the state changed (on_order_open, on_order_fill)
        def die(self, at):
            if at == where:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_order_open(self, *a):
            self.die("after_submit_record")
            return super().on_order_open(*a)

        def on_order_fill(self, *a):
            self.die("after_fill_record")
            return super().on_order_fill(*a)

    risk = Risk()
    i = risk.add_instrument(btc, InstrumentLimits())
    check = risk.check

    def checked(*a):
        risk.die("before_submit_record")
        return check(*a)

    om = OrderManager(session="k1", journal=path, risk=risk)
    a = om.create(btc, Side.BUY, 5, 100)
    if where != "after_fill_record":
        risk.check = checked
        om.risk = risk      # the manager binds the risk engine's methods once
        om.submit(a)
    else:
        om.submit(a)
        om.on_ack(a.client_order_id, "v")
        om.on_fill(a.client_order_id, "t1", 2, 100)
    sys.exit(3)  # not reached
    """
)


@pytest.mark.parametrize(("where", "status", "filled"), [
    ("before_submit_record", OrderStatus.NEW, 0),
    ("after_submit_record", OrderStatus.PENDING_NEW, 0),
    ("after_fill_record", OrderStatus.PARTIALLY_FILLED, 2),
])
def test_a_call_killed_half_way(tmp_path: Path, where: str, status: OrderStatus,
                                filled: int) -> None:
    path = tmp_path / "orders.journal"
    script = tmp_path / "child.py"
    script.write_text(KILL_INSIDE)
    proc = subprocess.run([sys.executable, str(script), where, str(path)], env=env(),
                          timeout=60, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    back = OrderManager.recover(path)
    (o,) = list(back)
    assert o.status is status and o.filled == filled
    assert back.portfolio.position(o.instrument).net == filled
    back.close()


def test_journal_modes_sync_their_records(tmp_path: Path) -> None:
    for fsync, interval in ((True, 0), (False, 1_000_000)):
        path = tmp_path / f"j{int(fsync)}.journal"
        om = OrderManager(session="s1", journal=path, fsync=fsync, sync_interval_ns=interval)
        o = om.create(BTC, 0, BTC.lot, BTC.price("50000"))
        om.submit(o)
        w = om._journal_writer
        assert w.mode == (2 if fsync else 1)
        if not fsync:
            import time

            deadline = time.monotonic() + 10
            while w.synced_records < w.records and time.monotonic() < deadline:
                time.sleep(0.002)
        assert w.synced_records == w.records > 0
        om.close()
