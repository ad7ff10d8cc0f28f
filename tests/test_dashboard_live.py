"""The dashboard on a live engine: ``LiveRunner(dashboard=...)`` over the Binance loopback
venue (real websockets on 127.0.0.1), and ``demo --live-loopback --dashboard``.

Every server listens on 127.0.0.1 and is stopped by the test that started it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from loopback_helpers import (  # noqa: E402
    BINANCE_INSTRUMENTS,
    binance_session,
    pump,
    run,
    sync_all,
    wait_for,
)
from test_dashboard_server import TOKEN, receive  # noqa: E402

from hftcore import OrderStatus  # noqa: E402
from hftcore.dashboard import ControlJournal  # noqa: E402
from hftcore.live import LiveRunner  # noqa: E402
from hftcore.risk import TradingState  # noqa: E402

NKN = 2


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_a_live_runner_serves_the_dashboard_and_its_kill_switch_cancels_at_the_venue(
        tmp_path: Path) -> None:
    journal = tmp_path / "controls.jsonl"
    opts = {"token": TOKEN, "control_journal": journal, "rate": 20}

    async def main() -> int:
        async with binance_session(runner_kw={"dashboard": opts}) as s:
            dash = s.runner.dashboard
            assert dash is not None and dash.url.startswith("http://127.0.0.1:")
            await sync_all(s)
            await pump(s, 40)
            inst = BINANCE_INSTRUMENTS[NKN]
            bid = s.engine.books[NKN].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100_000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            async with aiohttp.ClientSession() as http, http.ws_connect(dash.url + "ws") as ws:
                hello = await receive(ws, "hello")
                assert hello["mode"] == "live" and hello["venues"] == ["binance"]
                snap = await receive(ws, "snapshot")
                assert snap["venues"][0]["state"] == "connected", snap["venues"]
                row = next(r for r in snap["instruments"] if r["id"] == "binance:NKNUSDT")
                assert row["book"] == "synced" and row["messages"] > 0
                assert [w["id"] for w in snap["orders"]["working"]] == [o.client_order_id]
                # the kill switch, as a script would send it: the order is canceled at the venue
                async with http.post(dash.url + "api/control",
                                     json={"action": "kill", "confirm": True},
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    body = await r.json()
                    assert r.status == 200 and body["ok"] is True, body
                    assert body["result"]["cancels_requested"] == 1
                await wait_for(lambda: o.status == OrderStatus.CANCELED, what="the cancel")
                assert s.server.by_cid[o.client_order_id].status == "CANCELED"
                assert s.engine.risk.state == TradingState.HALTED
                n = s.strategy.buy(inst, inst.qty("1"), bid - 100_000)
                assert n.status == OrderStatus.REJECTED and "KILL_SWITCH" in n.reason
                snap = await receive(ws, "snapshot")
                while snap["orders"]["working_count"]:
                    snap = await receive(ws, "snapshot")
                assert snap["risk"]["state"] == "HALTED"
            port = dash.port
        assert s.runner.dashboard is None       # stopped with the runner
        return port

    port = run(main())
    assert _refused(port)
    events = [(e["event"], e["action"]) for e in ControlJournal.read(journal)]
    assert events == [("control", "kill"), ("control_done", "kill")]


def test_live_runner_dashboard_argument_is_checked() -> None:
    async def main() -> None:
        async with binance_session(connect=False) as s:
            for bad in ("yes", 1, ["port"], {1: 2}):
                with pytest.raises(TypeError, match="dashboard"):
                    LiveRunner(s.engine, [s.venue], dashboard=bad)  # type: ignore[arg-type]
            r = LiveRunner(s.engine, [s.venue], dashboard=False)
            assert r.dashboard is None
    run(main())


def test_demo_live_loopback_with_a_dashboard(tmp_path: Path) -> None:
    import hftcore

    # the hftcore this test imports (installed, or the source tree), in a scratch directory
    env: dict[str, Any] = {**os.environ, "HFTCORE_DASHBOARD_TOKEN": TOKEN,
                           "PYTHONPATH": str(Path(hftcore.__path__[0]).parent)}
    p = subprocess.run([sys.executable, "-m", "hftcore", "demo", "--live-loopback",
                        "--dashboard", "--port", "0", "--speed", "50", "--duration", "3",
                        "--no-plot"], capture_output=True, text=True, timeout=180, env=env,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "dashboard: http://127.0.0.1:" in p.stdout
    assert "control token: " in p.stdout and TOKEN not in p.stdout
    assert "books valid at the end" in p.stdout
    assert (tmp_path / "hftcore-controls.jsonl").exists()
    bad = subprocess.run([sys.executable, "-m", "hftcore", "demo", "--live-loopback",
                          "--dashboard", "--port", "70000"], capture_output=True, text=True,
                         timeout=60, env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "--port must be in 0..65535" in bad.stderr
