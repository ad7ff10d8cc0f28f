"""Binance spot end to end against its loopback server on 127.0.0.1: the recorded stream synced
with REST snapshots, WebSocket API orders with Ed25519 logon and with HMAC signatures, private
execution reports, amends, the REST cancel fallback, reconnects, recording, paper mode."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from loopback_helpers import (
    API_KEY,
    BINANCE_INSTRUMENTS,
    BINANCE_RECORDING,
    Probe,
    all_trades,
    assert_books,
    assert_orders_accounted,
    binance_session,
    book_matches_server,
    pump,
    run,
    sync_all,
    wait_for,
)

from hftcore import OrderStatus, Side, backtest
from hftcore.venues.binance import BinanceVenue, stream_names
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback import BinanceLoopback, binance_frames_from_recording

NKN = 2  # engine index of NKNUSDT


def test_recording_parsed_for_the_server() -> None:
    frames, snaps = binance_frames_from_recording(BINANCE_RECORDING)
    assert sorted(snaps) == ["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]
    depth = [f for f in frames if f.bids is not None]
    assert len(depth) == 177
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(frames))
    assert stream_names(["BTCUSDT"]) == ["btcusdt@depth@100ms", "btcusdt@trade"]


def test_market_data_syncs_and_matches_the_server_book() -> None:
    async def main() -> None:
        async with binance_session(credentials=False) as s:
            # nothing sent yet: the snapshots alone make the books valid
            await sync_all(s)
            assert s.server.stats["snapshots"] == 4
            await pump(s)
            assert s.venue.listener is not None
            assert s.venue.listener.data_messages == s.server.stats["frames_sent"]
            assert s.venue.feed is not None and s.venue.feed.gaps == 0
            assert s.venue.feed.decode_errors == 0
            for i in s.venue.indices:
                assert s.engine.core.is_valid(i)
                assert book_matches_server(s, i, 1000)
            assert s.strategy.bbo > 0
            assert sorted(x for x, v in s.strategy.status if v) == \
                sorted(i.symbol for i in BINANCE_INSTRUMENTS)
    run(main())


def test_stream_before_snapshot_is_bridged() -> None:
    """Diffs that arrive before the snapshot are buffered and bridged (Binance's procedure):
    the snapshot the server gives is newer than the first diffs."""
    async def main() -> None:
        async with binance_session(credentials=False, connect=False) as s:
            s.server.send_next(30)   # nobody listens yet: the server's book moves on
            await s.runner.start()
            await sync_all(s)
            await pump(s)
            for i in s.venue.indices:
                assert s.engine.core.is_valid(i) and book_matches_server(s, i, 1000)
    run(main())


@pytest.mark.parametrize("auth", ["ed25519", "hmac"])
def test_orders_place_amend_cancel_fill(auth: str) -> None:
    async def main() -> None:
        async with binance_session(auth=auth) as s:
            await sync_all(s)
            v, st = s.venue, s.strategy
            assert v.trading and v.user_stream
            assert v.logged_on is (auth == "ed25519")
            inst = BINANCE_INSTRUMENTS[NKN]
            book = s.engine.books[NKN]
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None
            # a resting bid below the market: acknowledged, then amended, then canceled
            o = st.buy(inst, inst.qty("100"), bid - 100_000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            assert o.venue_order_id
            assert st.amend(o, price=bid - 50_000, size=inst.qty("150"))
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED and o.price == bid - 50_000,
                           what="amend")
            so = s.server.by_cid[o.client_order_id]
            assert (so.price, so.qty, so.status) == (bid - 50_000, inst.qty("150"), "NEW")
            assert st.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="cancel")
            # a marketable buy takes the ask: filled at the server's prices
            t = st.buy(inst, inst.qty("10"), ask)
            await wait_for(lambda: t.status == OrderStatus.FILLED, what="fill")
            trades = all_trades(s, t.client_order_id)
            assert [f.trade_id for f in t.fills] == [str(x["id"]) for x in trades]
            assert s.engine.position(st, inst) == inst.qty("10")
            assert st.fill_list and st.fill_list[-1].qty == t.fills[-1].qty
            assert_orders_accounted(s)
            # requests carried the right authentication
            methods = s.server.requests_seen
            if auth == "ed25519":
                assert methods[:2] == ["session.logon", "userDataStream.subscribe"]
            else:
                assert methods[0] == "userDataStream.subscribe.signature"
            assert s.server.stats["bad_signatures"] == 0
    run(main())


def test_sell_post_only_and_ioc() -> None:
    async def main() -> None:
        async with binance_session() as s:
            await sync_all(s)
            st = s.strategy
            inst = BINANCE_INSTRUMENTS[NKN]
            bid = s.engine.books[NKN].best_bid
            assert bid is not None
            # a post-only sell at the bid would take: the venue rejects it, with the reason
            p = st.sell(inst, inst.qty("10"), bid, post_only=True)
            await wait_for(lambda: p.status == OrderStatus.REJECTED, what="post-only reject")
            assert "-2010" in p.reason
            # an IOC sell below the bid fills what the bid has, the rest expires
            from hftcore import TimeInForce
            q = s.engine.books[NKN].best_bid_size
            o = st.sell(inst, q + inst.qty("1"), bid, tif=TimeInForce.IOC)
            await wait_for(lambda: not o.is_open, what="ioc")
            assert o.status == OrderStatus.EXPIRED and o.filled == q
            assert_orders_accounted(s)
    run(main())


def test_reconnect_resyncs_books_and_reconciles_orders() -> None:
    async def main() -> None:
        async with binance_session() as s:
            await sync_all(s)
            await pump(s, 40)
            inst = BINANCE_INSTRUMENTS[NKN]
            bid = s.engine.books[NKN].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100_000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            assert s.server.drop_connections() == 2
            # books are marked invalid while the connection is down
            await wait_for(lambda: not any(s.engine.core.is_valid(i) for i in s.venue.indices),
                           what="books invalid")
            s.server.send_next(30)                  # the market moves while we are away
            s.server.exchange_fill(o.client_order_id)
            await wait_for(lambda: s.venue.trading, what="order entry back")
            await sync_all(s)
            assert o.status == OrderStatus.FILLED and o.filled == inst.qty("100")
            assert s.venue.md is not None and s.venue.md.connects == 2
            await pump(s)
            assert_books(s)
            assert all(s.engine.core.is_valid(i) for i in s.venue.indices)
            assert_orders_accounted(s)
            assert s.venue.reconciliations >= 1
    run(main())


def test_rest_cancel_while_order_entry_is_down() -> None:
    async def main() -> None:
        async with binance_session(auth="hmac") as s:
            await sync_all(s)
            inst = BINANCE_INSTRUMENTS[NKN]
            bid = s.engine.books[NKN].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100_000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            api = s.venue.api
            assert api is not None
            await api.stop()                         # order entry gone, market data stays
            s.venue.trading = False
            assert s.strategy.cancel(o)
            await wait_for(lambda: o.status == OrderStatus.CANCELED, what="REST cancel")
            assert s.server.by_cid[o.client_order_id].status == "CANCELED"
            # a new order is refused while order entry is down, with the reason
            n = s.strategy.buy(inst, inst.qty("1"), bid - 100_000)
            await wait_for(lambda: n.status == OrderStatus.REJECTED, what="refusal")
            assert "not ready" in n.reason
    run(main())


def test_timers_run_on_the_loop_in_live_mode() -> None:
    async def main() -> None:
        async with binance_session(credentials=False) as s:
            s.strategy.set_timer("tick", 20_000_000)
            await wait_for(lambda: len(s.strategy.timers) >= 3, what="timers")
            ts = [t for _, t in s.strategy.timers]
            assert all(b > a for a, b in itertools.pairwise(ts))
            s.strategy.set_timer("tick", 0)
            n = len(s.strategy.timers)
            await asyncio.sleep(0.06)
            assert len(s.strategy.timers) == n
    run(main())


def test_paper_mode_fills_in_the_simulator_and_sends_nothing() -> None:
    def quote(st: Probe, inst, book) -> None:  # type: ignore[no-untyped-def]
        if inst.symbol == "NKNUSDT" and not st.open_orders(inst) and book.best_ask:
            st.buy(inst, inst.qty("5"), book.best_ask)      # marketable: fills in the sim

    async def main() -> None:
        async with binance_session(credentials=False, strategy=Probe(quote),
                                   engine_kw={"mode": "paper"}) as s:
            await sync_all(s)
            await pump(s)
            await wait_for(lambda: s.strategy.fill_list, what="a simulated fill")
            assert s.server.stats["orders"] == 0 and s.server.stats["requests"] == 0
            assert s.engine.position(s.strategy, BINANCE_INSTRUMENTS[NKN]) > 0
    run(main())


def test_record_then_replay_and_verify(tmp_path: Path) -> None:
    out = tmp_path / "binance.txt"

    async def main() -> None:
        server = BinanceLoopback(BINANCE_INSTRUMENTS, BINANCE_RECORDING, speed=200.0)
        async with server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hftcore", "record", "--venue", "binance", "--symbols",
                "BLZETH,LRCBTC,NKNUSDT,RUNEEUR", "--out", str(out), "--compress",
                "--messages", "177", "--ws-url", server.ws_url, "--rest-url", server.rest_url,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            so, se = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, se.decode()
            assert b"177 messages, 4 snapshots" in so

    run(main(), 90)
    path = out.with_name(out.name + ".gz")
    text = gzip.decompress(path.read_bytes()).decode()
    lines = text.splitlines()
    assert lines[0].startswith("ws://127.0.0.1:") and " <-> " in lines[0]
    assert sum(1 for x in lines if " -> " in x and "/api/v3/depth?symbol=" in x) == 4
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(path), "--venue",
                           "binance", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["sequence_gaps"] == 0 and report["book_updates"] > 177
    r = backtest(Probe(), [path], BINANCE_INSTRUMENTS)
    assert not r.stats["invalid_books"] and r.stats["gaps"] == 0


def test_demo_live_loopback_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "hftcore", "demo", "--live-loopback", "--json"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["books_valid"] == r["instruments"] == 10
    assert r["frames_sent"] > 4000 and r["orders"] > 0 and r["fills"] == r["server_fills"]
    assert r["open_orders_left"] == 0 and r["rate_limited"] == 0 and r["decode_errors"] == 0
    assert set(r["order_status"]) <= {"CANCELED", "FILLED", "REJECTED", "EXPIRED"}


def test_venue_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="auth"):
        BinanceVenue(auth="rsa")
    with pytest.raises(ValueError, match="snapshot_limit"):
        BinanceVenue(snapshot_limit=0)
    with pytest.raises(ValueError, match="api_secret"):
        BinanceVenue(credentials=Credentials.of("binance", API_KEY), auth="hmac")
    with pytest.raises(TypeError):
        BinanceVenue(credentials="key")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a PEM"):
        BinanceVenue(credentials=Credentials.of("binance", API_KEY, private_key="nope"))


def test_without_credentials_orders_are_refused() -> None:
    async def main() -> None:
        async with binance_session(credentials=False) as s:
            await sync_all(s)
            inst = BINANCE_INSTRUMENTS[NKN]
            o = s.strategy.submit(inst, Side.BUY, inst.qty("1"), inst.price("0.3"))
            await wait_for(lambda: o.status == OrderStatus.REJECTED, what="refusal")
            assert "no order entry" in o.reason
    run(main())


def test_amend_answer_before_its_execution_reports() -> None:
    """The cancel-replace answer may come before the private reports of the replaced venue
    order: its CANCELED report must not close the order, which lives on as the new one."""
    async def main() -> None:
        async with binance_session() as s:
            await sync_all(s)
            s.server.faults.reports_after_answers = True
            inst = BINANCE_INSTRUMENTS[NKN]
            bid = s.engine.books[NKN].best_bid
            assert bid is not None
            o = s.strategy.buy(inst, inst.qty("100"), bid - 100_000)
            await wait_for(lambda: o.status == OrderStatus.ACCEPTED, what="ack")
            first_vid = o.venue_order_id
            assert s.strategy.amend(o, price=bid - 90_000)
            await wait_for(lambda: o.price == bid - 90_000, what="replaced")
            await asyncio.sleep(0.1)                  # the late CANCELED report arrives
            assert o.status == OrderStatus.ACCEPTED and o.venue_order_id != first_vid
            assert s.server.by_cid[o.client_order_id].status == "NEW"
            assert_orders_accounted(s)
    run(main())
