"""``python -m hftcore top``: the terminal view of the dashboard's snapshots."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

rich = pytest.importorskip("rich")
aiohttp = pytest.importorskip("aiohttp")

from rich.console import Console  # noqa: E402

from hftcore.dashboard import SnapshotBuilder, serve  # noqa: E402
from hftcore.dashboard.demo import demo_engine  # noqa: E402
from hftcore.data import sample  # noqa: E402
from hftcore.data.sources import DataSources  # noqa: E402
from hftcore.top import format_ns, render, sparkline, ws_url  # noqa: E402

SRC = str(Path(__import__("hftcore").__file__).parents[1])
TOKEN = "top-test-token-0123456789"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFTCORE_DASHBOARD")}
    env["PYTHONPATH"] = SRC
    env["COLUMNS"] = "180"
    return env


@pytest.fixture(scope="module")
def snap():
    engine, _replay, tape = demo_engine(pace=None)
    b = SnapshotBuilder(engine, tape=tape)
    b.build()
    last = 0
    for ev in DataSources(sample.paths(), engine.instruments):
        tape.add_events(ev)
        engine.process(ev)
        last = int(ev["local_ts"][-1])
    engine.advance(last)
    engine.risk.kill()
    return {"type": "snapshot", **b.build()}


def _text(renderable, width: int) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_render_shows_the_figures_of_the_page(snap):
    text = _text(render(snap, None, 8, 180), 180)
    for r in snap["instruments"]:
        assert r["id"] in text and r["bid"] in text and r["ask"] in text
    assert "HALTED" in text and "kill switch engaged" in text
    assert snap["pnl"]["total"] in text and snap["pnl"]["turnover"] in text
    for row in snap["latency"]:
        assert row["stage"] in text
    tt = next(r for r in snap["latency"] if r["stage"] == "tick_to_trade")
    assert format_ns(tt["p99"]) in text
    assert "replay" in text and "bid size" in text
    assert f"{snap['orders']['working_count']} working" in text
    assert "equity " in text


def test_render_narrow_terminal_keeps_the_essentials(snap):
    text = _text(render(snap, None, 4, 80), 80)
    assert "bid size" not in text
    assert "SKL-USD" in text and "coinbase:SKL-USD" not in text   # one venue: symbols
    assert "HALTED" in text


def test_helpers():
    assert format_ns(None) == "-" and format_ns(950) == "950 ns"
    assert format_ns(1234) == "1.23 µs" and format_ns(2.5e6) == "2.5 ms"
    assert sparkline([]) == "" and sparkline([1, 1, 1]) == "▄▄▄"
    line = sparkline([0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert line[0] == "▁" and line[-1] == "█" and len(line) == 9
    assert len(sparkline(list(range(100)), width=10)) == 10
    assert ws_url("http://127.0.0.1:8765/") == ("ws://127.0.0.1:8765/ws", None)
    assert ws_url("127.0.0.1:9/#token=abc") == ("ws://127.0.0.1:9/ws", "abc")
    assert ws_url("https://h/dash") == ("wss://h/dash/ws", None)
    assert ws_url("ws://h:1/ws") == ("ws://h:1/ws", None)
    with pytest.raises(ValueError, match="URL"):
        ws_url("ftp://h/")


async def _top(*args: str) -> tuple[int, str, str]:
    p = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hftcore", "top", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_env())
    out, err = await asyncio.wait_for(p.communicate(), 120)
    assert p.returncode is not None
    return p.returncode, out.decode(), err.decode()


def test_top_once_against_a_running_dashboard(tmp_path):
    async def main():
        engine, replay, tape = demo_engine(pace=None, laps=0)
        dash = await serve(engine, tape=tape, token=TOKEN, control_journal=tmp_path / "c")
        task = asyncio.get_running_loop().create_task(replay.run())
        try:
            code, out, err = await _top(dash.url, "--once")
            assert code == 0, err
            assert "coinbase:SKL-USD" in out and "ACTIVE" in out and "tick_to_trade" in out
        finally:
            replay.stop()
            await task
            await dash.stop()
        dash = await serve(engine, tape=tape, token=TOKEN, allow_viewers=False,
                           control_journal=tmp_path / "c")
        try:
            code, out, err = await _top(dash.url, "--once")
            assert code == 2 and "without its token" in err
            code, out, err = await _top(dash.control_url, "--once")
            assert code == 0 and "coinbase:SKL-USD" in out, err
            assert TOKEN not in out
            code, out, err = await _top(dash.url, "--once", "--token", "wrong-token-1234567")
            assert code == 2 and "refused the token" in err
        finally:
            await dash.stop()

    asyncio.run(main())


def test_top_demo_once_and_errors():
    run = lambda *a: subprocess.run([sys.executable, "-m", "hftcore", "top", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120, env=_env())
    p = run("--demo", "--once", "--pace", "50")
    assert p.returncode == 0, p.stderr
    assert "coinbase:BAND-BTC" in p.stdout and "latency per stage" in p.stdout
    p = run("http://127.0.0.1:1/", "--once")
    assert p.returncode == 3 and "cannot reach the dashboard" in p.stderr
    p = run("--demo", "--pace", "0")
    assert p.returncode == 2
    p = run("ftp://x/")
    assert p.returncode == 2 and "URL" in p.stderr
