"""A child process trades through a journaled OrderManager and is SIGKILLed mid-stream; the
orders and positions rebuilt from its journal equal those of the same stream replayed here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from trading_sim import Scenario

from hftcore import FeeSchedule, OrderManager, Portfolio
from hftcore.orders import Journal

CHILD = textwrap.dedent(
    """
    import sys
    from trading_sim import Scenario
    from hftcore import FeeSchedule, Portfolio

    seed, path = int(sys.argv[1]), sys.argv[2]
    sc = Scenario(seed, n_orders=10**6, session="crash")
    om = sc.manager(journal=path, portfolio=Portfolio(FeeSchedule.from_text("0.0001", "0.0004")))
    i = 0
    while sc.step(om):
        i += 1
        if i % 100 == 0:
            print(i, flush=True)
    """
)


def snapshot(om: OrderManager) -> dict[str, tuple[object, ...]]:
    return {
        o.client_order_id: (o.status, o.filled, o.size, o.price, o.venue_order_id,
                            [(f.trade_id, f.qty, f.price, f.liquidity) for f in o.fills],
                            [h[1:] for h in o.history])
        for o in om
    }


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("seed", [7, 2024])
def test_sigkill_mid_stream_then_recover(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "journal.jsonl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), *sys.path])
    child = subprocess.Popen(
        [sys.executable, str(script), str(seed), str(path)], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 60
        steps = 0
        while steps < 1500 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            steps = int(line)
        assert steps >= 1500, "child did not get far enough"
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: it is still trading
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    records, _torn = Journal.read(path)
    n = len(records)
    # the same stream, here, up to exactly what the child journaled
    sc = Scenario(seed, n_orders=10**6, session="crash")
    ref = sc.manager(journal=tmp_path / "ref.jsonl",
                     portfolio=Portfolio(FeeSchedule.from_text("0.0001", "0.0004")))
    assert ref._journal is not None
    while ref._journal.records < n:
        assert sc.step(ref)
    assert ref._journal.records == n

    back = OrderManager.recover(path, portfolio=Portfolio(FeeSchedule.from_text("0.0001",
                                                                              "0.0004")))
    assert len(back) == len(ref) > 100
    assert snapshot(back) == snapshot(ref)
    assert back.portfolio.snapshot() == ref.portfolio.snapshot()
    assert any(p.net for p in back.portfolio)
    # the recovered manager carries on with fresh ids in the same journal
    o = back.create(next(iter(back)).instrument, next(iter(back)).side, 100, 5_000_000)
    assert o.client_order_id not in snapshot(ref)
    back.close()
    ref.close()
    again = OrderManager.recover(path)
    assert len(again) == len(ref) + 1
    again.close()
