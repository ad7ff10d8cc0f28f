"""The dashboard server's HTTP and websocket protocol, driven directly (no browser).

Every server listens on 127.0.0.1 with port 0 and is stopped by the test that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import Any

import orjson
import pytest

aiohttp = pytest.importorskip("aiohttp")

from hftcore.dashboard import ControlJournal, serve  # noqa: E402
from hftcore.dashboard.demo import demo_engine  # noqa: E402
from hftcore.risk import TradingState  # noqa: E402

TOKEN = "test-token-0123456789abcdef"


@contextlib.asynccontextmanager
async def running(tmp_path, *, pace=None, laps=0, **options):
    """The demo engine replaying on this loop (unpaced by default: as fast as it goes) with a
    dashboard; both stopped on exit."""
    engine, replay, tape = demo_engine(pace=pace, laps=laps)
    options.setdefault("control_journal", tmp_path / "controls.jsonl")
    options.setdefault("token", TOKEN)
    dash = await serve(engine, tape=tape, gaps=replay.gap_counts, **options)
    task = asyncio.get_running_loop().create_task(replay.run())
    try:
        yield engine, replay, dash
    finally:
        replay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await dash.stop()


async def receive(ws, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of ``kind`` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = orjson.loads(msg.data)
        if data["type"] == kind:
            return data


async def until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_page_and_static_files_are_served_with_a_strict_policy(tmp_path):
    async def main():
        async with running(tmp_path) as (_e, _r, dash), aiohttp.ClientSession() as s:
            async with s.get(dash.url) as r:
                page = await r.text()
                assert r.status == 200 and r.content_type == "text/html"
                csp = r.headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp and "script-src 'self'" in csp
                assert r.headers["X-Frame-Options"] == "DENY"
                assert r.headers["Cache-Control"] == "no-store"
            assert '<script src="/static/app.js">' in page
            assert "http://" not in page and "https://" not in page, "no CDN, no internet"
            for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
                async with s.get(dash.url + "static/" + name) as r:
                    assert r.status == 200 and r.content_type == ctype
                    body = await r.text()
                    assert "https://" not in body and "http://" not in body
            for bad in ("static/../server.py", "static/index.html", "static/nope.js", "x"):
                async with s.get(dash.url + bad) as r:
                    assert r.status == 404, bad

    asyncio.run(main())


def test_no_client_no_snapshot_and_the_push_task_follows_subscribers(tmp_path):
    async def main():
        async with running(tmp_path, rate=20) as (engine, replay, dash):
            await until(lambda: replay.events > 20_000)
            assert dash.stats["snapshots"] == 0, "nothing is read while nobody watches"
            assert not dash.pushing and dash.builder.seq == 0
            async with aiohttp.ClientSession() as s, s.ws_connect(dash.url + "ws") as ws:
                hello = await receive(ws, "hello")
                assert hello["protocol"] == 1 and hello["mode"] == "backtest"
                assert len(hello["instruments"]) == len(engine.instruments)
                assert hello["authenticated"] is False and hello["viewers_allowed"] is True
                await receive(ws, "snapshot")
                assert dash.pushing
            await until(lambda: not dash.pushing and dash.clients == 0)
            built = dash.stats["snapshots"]
            events = replay.events
            await until(lambda: replay.events > events + 20_000)
            assert dash.stats["snapshots"] == built, "the last client left: no more reads"

    asyncio.run(main())


def test_updates_are_coalesced_and_the_rate_is_bounded(tmp_path):
    rate = 10.0

    async def main():
        async with running(tmp_path, rate=rate) as (_engine, _replay, dash), \
                aiohttp.ClientSession() as s, s.ws_connect(dash.url + "ws") as ws:
            await receive(ws, "hello")
            first = await receive(ws, "snapshot")
            t0 = time.monotonic()
            seqs, events = [first["seq"]], [first["engine"]["events"]]
            while time.monotonic() - t0 < 1.5:
                snap = await receive(ws, "snapshot")
                seqs.append(snap["seq"])
                events.append(snap["engine"]["events"])
            elapsed = time.monotonic() - t0
            n_updates = len(seqs) - 1
            # never more than the rate allows (one build per interval, whatever the engine does)
            assert n_updates <= rate * elapsed + 2
            assert dash.stats["snapshots"] <= rate * (time.monotonic() - t0) + 3
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            # thousands of market events between two updates: one message for all of them
            per_update = (events[-1] - events[0]) / max(n_updates, 1)
            assert per_update > 100
            assert events[-1] - events[0] > 10 * n_updates

    asyncio.run(main())


def _small_receive_buffer_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    return sock


async def _raw_ws(port: int, sock: socket.socket) -> tuple[Any, Any]:
    """A websocket handshake on ``sock`` by hand, then nothing read: a stalled client."""
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n" % port)
    await writer.drain()
    status = await reader.readline()
    assert b"101" in status, status
    return reader, writer


def test_a_slow_client_is_dropped_and_the_engine_and_others_carry_on(tmp_path):
    async def main():
        async with running(tmp_path, rate=50, send_timeout=0.3, sndbuf=8192,
                           max_buffer=64 * 1024) as (engine, replay, dash), \
                aiohttp.ClientSession() as s, s.ws_connect(dash.url + "ws") as fast:
            await receive(fast, "snapshot")
            sock = _small_receive_buffer_socket()
            _reader, writer = await _raw_ws(dash.port, sock)   # never reads again
            await until(lambda: dash.clients == 2)
            events_at_connect = replay.events
            await until(lambda: dash.stats["dropped_slow"] == 1, timeout=30)
            assert dash.clients == 1
            # the engine went on at full speed meanwhile, and the other viewer still gets news
            assert replay.events > events_at_connect
            later = await receive(fast, "snapshot")       # (it may have a few queued)
            while later["dashboard"]["dropped_slow"] == 0:
                later = await receive(fast, "snapshot")
            after = await receive(fast, "snapshot")       # built after the drop
            assert after["seq"] > later["seq"]
            assert after["engine"]["events"] > events_at_connect
            writer.close()
            assert engine.failures == []

    asyncio.run(main())


def test_a_client_behind_gets_the_newest_state_not_a_backlog(tmp_path):
    """A reader that cannot keep up is sent the latest update only; the ones in between are
    dropped for it (coalesced), not queued."""
    async def main():
        async with running(tmp_path, rate=50, send_timeout=30.0, sndbuf=8192,
                           max_buffer=1 << 24) as (_engine, _replay, dash):
            sock = _small_receive_buffer_socket()
            _reader, writer = await _raw_ws(dash.port, sock)
            await until(lambda: dash.clients == 1)
            (client,) = dash._clients
            # reads nothing: the server's send blocks, and the updates made meanwhile replace
            # each other (a debug build under the sanitizers takes far longer to get there)
            await until(lambda: client.skipped > 0, timeout=60)
            assert dash.stats["coalesced"] >= client.skipped
            assert client.sent < dash.stats["snapshots"]
            writer.close()

    asyncio.run(main())


def test_controls_are_refused_without_the_token(tmp_path):
    async def main():
        async with running(tmp_path) as (engine, _replay, dash), aiohttp.ClientSession() as s:
            await until(lambda: len(engine.om.open_orders()) > 0)
            async with s.ws_connect(dash.url + "ws") as ws:
                await receive(ws, "hello")
                await ws.send_json({"type": "control", "id": 1, "action": "kill",
                                    "confirm": True})
                res = await receive(ws, "control_result")
                assert res == {"type": "control_result", "id": 1, "ok": False,
                               "error": "forbidden: controls need the token"}
                await ws.send_json({"type": "auth", "token": "not-the-token-0123456"})
                assert (await receive(ws, "auth"))["ok"] is False
                await ws.send_json({"type": "control", "id": 2, "action": "kill",
                                    "confirm": True, "token": TOKEN})   # a token in a control
                res = await receive(ws, "control_result")
                assert res["ok"] is False, "only the auth message unlocks a connection"
            async with s.post(dash.url + "api/control", json={"action": "kill",
                                                               "confirm": True}) as r:
                assert r.status == 403
            async with s.post(dash.url + "api/control", json={"action": "kill", "confirm": True},
                              headers={"Authorization": "Bearer wrong-token-12345678"}) as r:
                assert r.status == 403
            assert engine.risk.state == TradingState.ACTIVE and not engine.risk.killed
            assert len(engine.om.open_orders()) > 0
            entries = ControlJournal.read(dash.journal_path)
            assert [e["event"] for e in entries] == ["control_refused"] * 4
            assert dash.stats["auth_failures"] == 1

    asyncio.run(main())


def test_repeated_wrong_tokens_close_the_connection(tmp_path):
    async def main():
        async with running(tmp_path) as (_e, _r, dash), aiohttp.ClientSession() as s, \
                s.ws_connect(dash.url + "ws") as ws:
            for _ in range(5):
                await ws.send_json({"type": "auth", "token": "guess-guess-guess-guess"})
            closed = False
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.ERROR):
                    closed = True
                    break
            assert closed
            await until(lambda: dash.clients == 0)

    asyncio.run(main())


def test_controls_with_the_token_act_and_are_journaled(tmp_path):
    async def main():
        async with running(tmp_path) as (engine, _replay, dash), aiohttp.ClientSession() as s, \
                s.ws_connect(dash.url + "ws") as ws:
            await receive(ws, "hello")
            await until(lambda: len(engine.om.open_orders()) > 0)
            await ws.send_json({"type": "auth", "token": TOKEN})
            assert (await receive(ws, "auth")) == {"type": "auth", "ok": True, "controls": True}
            # a control the operator did not confirm is refused
            await ws.send_json({"type": "control", "id": "a", "action": "kill"})
            res = await receive(ws, "control_result")
            assert res["ok"] is False and "not confirmed" in res["error"]
            assert not engine.risk.killed
            await ws.send_json({"type": "control", "id": "k", "action": "kill",
                                "confirm": True})
            res = await receive(ws, "control_result")
            assert res["ok"] is True and res["id"] == "k", res
            assert res["result"]["state"] == "HALTED" and res["result"]["cancels_requested"] > 0
            assert engine.risk.killed and engine.risk.state == TradingState.HALTED
            # the replay goes on: the simulated exchange confirms the cancels, nothing reopens
            await until(lambda: not engine.om.open_orders())
            halted = await receive(ws, "snapshot")
            while not halted["risk"]["killed"] or halted["orders"]["working_count"]:
                halted = await receive(ws, "snapshot")
            assert halted["risk"]["state"] == "HALTED"
            assert halted["controls"][-1]["action"] == "kill"
            await ws.send_json({"type": "control", "id": 3, "action": "set_limit",
                                "confirm": True, "params": {"scope": "coinbase:SKL-USD",
                                                            "name": "max_position",
                                                            "value": "250.5"}})
            res = await receive(ws, "control_result")
            assert res["ok"] and res["result"]["new"] == "250.5"
            skl = next(i for i in engine.instruments if i.symbol == "SKL-USD")
            assert engine.risk.limits(skl).max_position == skl.qty("250.5")
            await ws.send_json({"type": "control", "id": 4, "action": "set_limit",
                                "confirm": True, "params": {"scope": "coinbase:SKL-USD",
                                                            "name": "max_position",
                                                            "value": 1.5}})
            res = await receive(ws, "control_result")
            assert not res["ok"] and "float" in res["error"]
            assert engine.risk.limits(skl).max_position == skl.qty("250.5")
            await ws.send_json({"type": "control", "id": 5, "action": "resume",
                                "confirm": True, "params": {"state": "ACTIVE"}})
            res = await receive(ws, "control_result")
            assert res["ok"] and engine.risk.state == TradingState.ACTIVE
            assert not engine.risk.killed
            await until(lambda: len(engine.om.open_orders()) > 0)   # quoting again
            # the HTTP control API, for scripts: the same controls with a bearer token
            async with s.post(dash.url + "api/control",
                              json={"action": "kill", "confirm": True},
                              headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                body = await r.json()
                assert r.status == 200 and body["ok"] is True
            assert engine.risk.killed
            events = [(e["event"], e["action"]) for e in ControlJournal.read(dash.journal_path)]
            assert events == [
                ("control_refused", "kill"),
                ("control", "kill"), ("control_done", "kill"),
                ("control", "set_limit"), ("control_done", "set_limit"),
                ("control_refused", "set_limit"),
                ("control", "resume"), ("control_done", "resume"),
                ("control", "kill"), ("control_done", "kill")]
            assert all(e["by"].startswith(("ws#", "http ")) for e in
                       ControlJournal.read(dash.journal_path))

    asyncio.run(main())


def test_no_secret_in_any_page_message_or_journal(tmp_path):
    async def main():
        seen: list[bytes] = []
        async with running(tmp_path) as (_engine, _r, dash), aiohttp.ClientSession() as s:
            for path in ("", "static/app.js", "static/style.css", "api/snapshot"):
                async with s.get(dash.url + path) as r:
                    seen.append(await r.read())
            async with s.ws_connect(dash.url + "ws") as ws:
                await ws.send_json({"type": "auth", "token": TOKEN})
                await ws.send_json({"type": "control", "id": 1, "action": "kill",
                                    "confirm": True})
                await ws.send_json({"type": "control", "id": 2, "action": "set_limit",
                                    "confirm": True, "params": {"token": TOKEN}})
                await ws.send_json({"type": "ping", "id": 3})
                got = 0
                while got < 3:
                    msg = await ws.receive(timeout=10)
                    seen.append(msg.data.encode())
                    got += orjson.loads(msg.data)["type"] in ("control_result", "pong")
                for _ in range(3):
                    seen.append((await ws.receive(timeout=10)).data.encode())
            assert TOKEN not in repr(dash) and TOKEN not in str(dash.stats)
        seen.append(dash.journal_path.read_bytes())
        assert all(TOKEN.encode() not in blob for blob in seen)
        assert any(b'"control_result"' in blob for blob in seen)

    asyncio.run(main())


def test_token_only_dashboards_show_nothing_before_the_token(tmp_path):
    async def main():
        async with running(tmp_path, allow_viewers=False) as (_e, _r, dash), \
                aiohttp.ClientSession() as s:
            async with s.get(dash.url + "api/snapshot") as r:
                assert r.status == 401
            async with s.get(dash.url + "api/snapshot",
                             headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 200 and (await r.json())["type"] == "snapshot"
            async with s.ws_connect(dash.url + "ws") as ws:
                hello = await receive(ws, "hello")
                assert hello["viewers_allowed"] is False
                with pytest.raises(asyncio.TimeoutError):
                    await receive(ws, "snapshot", timeout=0.8)
                await ws.send_json({"type": "auth", "token": TOKEN})
                await receive(ws, "auth")
                await receive(ws, "snapshot")

    asyncio.run(main())


def test_foreign_hosts_and_origins_are_refused(tmp_path):
    async def main():
        async with running(tmp_path) as (_e, _r, dash), aiohttp.ClientSession() as s:
            # DNS rebinding: a page from another name pointing at 127.0.0.1
            async with s.get(dash.url, headers={"Host": "evil.example:80"}) as r:
                assert r.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await s.ws_connect(dash.url + "ws", origin="http://evil.example")
            assert err.value.status == 403
            async with s.ws_connect(dash.url + "ws",
                                    origin=f"http://127.0.0.1:{dash.port}") as ws:
                await receive(ws, "hello")
            async with s.get(f"http://localhost:{dash.port}/") as r:
                assert r.status == 200

    asyncio.run(main())


def test_bad_messages_get_errors_and_change_nothing(tmp_path):
    async def main():
        async with running(tmp_path) as (engine, _r, dash), aiohttp.ClientSession() as s, \
                s.ws_connect(dash.url + "ws") as ws:
            await receive(ws, "hello")
            await ws.send_str("not json")
            assert "JSON object" in (await receive(ws, "error"))["error"]
            await ws.send_str("[1, 2]")
            assert "JSON object" in (await receive(ws, "error"))["error"]
            await ws.send_json({"type": "shutdown"})
            assert "unknown message type" in (await receive(ws, "error"))["error"]
            await ws.send_bytes(b"\x00\x01")
            assert "text JSON" in (await receive(ws, "error"))["error"]
            await ws.send_json({"type": "ping", "id": "p1"})
            assert (await receive(ws, "pong"))["id"] == "p1"
            assert engine.risk.state == TradingState.ACTIVE

    asyncio.run(main())


def test_server_arguments_are_checked(tmp_path):
    engine, _r, _t = demo_engine(pace=None)

    async def main():
        with pytest.raises(ValueError, match="rate"):
            await serve(engine, rate=500, control_journal=tmp_path / "c")
        with pytest.raises(ValueError, match="token"):
            await serve(engine, token="short", control_journal=tmp_path / "c")
        with pytest.raises(TypeError, match="token"):
            await serve(engine, token=12345678901234567890, control_journal=tmp_path / "c")
        with pytest.raises(ValueError, match="port"):
            await serve(engine, port=True, control_journal=tmp_path / "c")
        with pytest.raises(TypeError, match="engine"):
            await serve("engine", control_journal=tmp_path / "c")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="allow_viewers"):
            await serve(engine, allow_viewers=1, control_journal=tmp_path / "c")

    asyncio.run(main())


def test_generated_token_and_default_journal_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine, _r, _t = demo_engine(pace=None)

    async def main():
        dash = await serve(engine)
        try:
            assert len(dash.token) >= 32 and dash.control_url.endswith("#token=" + dash.token)
            assert dash.journal_path == tmp_path / "hftcore-controls.jsonl"
            assert dash.url == f"http://127.0.0.1:{dash.port}/" and dash.port > 0
        finally:
            await dash.stop()
        other = await serve(demo_engine(pace=None, journal=tmp_path / "o.journal")[0])
        try:
            assert other.journal_path == tmp_path / "o.journal.controls.jsonl"
            assert other.token != dash.token
        finally:
            await other.stop()

    asyncio.run(main())


def test_watch_trades_fills_the_tape_from_a_live_style_engine(tmp_path):
    from hftcore.data import sample
    from hftcore.data.sources import DataSources
    from hftcore.engine import Engine

    insts = sample.instruments()
    engine = Engine(insts, mode="paper")

    async def main():
        dash = await serve(engine, watch_trades=True, control_journal=tmp_path / "c.jsonl")
        try:
            for ev in DataSources(sample.paths(), insts):
                engine.process(ev)
            trades = sum(engine.core.counters(i)["trades"] for i in range(len(insts)))
            assert dash.tape.count == trades > 0
            snap = orjson.loads(await dash._snapshot_payload())
            shown = sum(len(r["trades"]) for r in snap["instruments"])
            assert shown == sum(min(engine.core.counters(i)["trades"], dash.tape.size)
                                for i in range(len(insts)))
            assert snap["venues"][0]["state"] == "simulated"
        finally:
            await dash.stop()

    asyncio.run(main())


def test_the_kill_sweep_cancels_what_a_rate_limit_held_back(tmp_path):
    """Cancels a venue's rate limit refused at the kill are sent by the dashboard's sweep as
    tokens come back, until nothing is working."""
    from hftcore.risk import VenueRateLimit

    async def main():
        async with running(tmp_path) as (engine, _replay, dash):
            await until(lambda: len(engine.om.open_orders()) > 5)
            engine.risk.set_rate_limit("coinbase", VenueRateLimit(cancel_rate=50,
                                                                  cancel_burst=2))
            reply = dash._control({"action": "kill", "confirm": True}, "test")
            assert reply["ok"] and reply["result"]["cancels_requested"] == 2
            assert reply["result"]["open_orders"] > 2
            await until(lambda: not engine.om.open_orders(), timeout=20)
            assert engine.risk.killed

    asyncio.run(main())


def test_demo_command_serves_a_dashboard_and_reports(tmp_path):
    import subprocess
    import sys

    # the environment as it is (a sanitizer run's preloads included), the hftcore imported here
    env = {**os.environ, "PYTHONPATH": str(__import__("hftcore").__path__[0].rsplit("/", 1)[0])}
    p = subprocess.run([sys.executable, "-m", "hftcore", "demo", "--dashboard", "--port", "0",
                        "--pace", "40", "--laps", "1", "--no-plot", "--control-journal",
                        str(tmp_path / "c.jsonl")], capture_output=True, text=True,
                       timeout=120, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "dashboard: http://127.0.0.1:" in out and "control token: " in out
    assert "replayed 13,328 events in 1 full lap(s) at 40x" in out
    assert "books valid at the end         10/10" in out
    assert (tmp_path / "c.jsonl").exists()
    bad = subprocess.run([sys.executable, "-m", "hftcore", "demo", "--dashboard", "--pace",
                          "0"], capture_output=True, text=True, timeout=60, env=env,
                         cwd=tmp_path)
    assert bad.returncode == 2 and "--pace must be > 0" in bad.stderr


def test_dashboard_example_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import hftcore

    root = Path(__file__).resolve().parents[1]
    # the hftcore this test imports (installed, or the source tree)
    env = {**os.environ, "PYTHONPATH": str(Path(hftcore.__path__[0]).parent)}
    p = subprocess.run([sys.executable, str(root / "examples" / "dashboard_replay.py"),
                        "--pace", "20", "--duration", "2", "--port", "0", "--workdir",
                        str(tmp_path)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert "dashboard: http://127.0.0.1:" in p.stdout and "control token: " in p.stdout
    assert "risk rejections 0" in p.stdout and " fills;" in p.stdout
    assert (tmp_path / "orders.journal").stat().st_size > 0
    assert (tmp_path / "orders.journal.controls.jsonl").exists()
