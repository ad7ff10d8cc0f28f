"""``python -m hftcore record`` for HTX, KuCoin, Bitfinex, Deribit and Kraken Futures against
their loopback servers on 127.0.0.1: the recorder subscribes each venue's way and keeps its
connection (HTX pongs, Deribit ``public/test``, KuCoin token and client pings), every frame the
server sent is in the file byte for byte (HTX's gzip frames as bytes literals), and the file
passes ``python -m hftcore verify`` (exit 0, no gap, no decode error)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback_helpers import DATA, run, wait_for

from hftcore import Instrument
from hftcore.data.recordings import read_messages
from hftcore.record import VENUES, Recorder, plan
from hftcore.venues.loopback import _ServerListener
from hftcore.venues.loopback_more import (
    AccountLoopback,
    BitfinexLoopback,
    DeribitLoopback,
    HtxLoopback,
    KrakenFuturesLoopback,
    KucoinLoopback,
    _Md,
)
from hftcore.venues.ws import Backoff

CASES: dict[str, tuple[str, list[str], type[AccountLoopback], dict[str, Any]]] = {
    "htx": ("htx/ws_spot_gzip_2021-04-17.txt", ["trioeth", "dogeeth", "zeneth"], HtxLoopback, {}),
    "kucoin": ("kucoin/ws_2021-04-25_part1.txt", ["SNX-BTC", "FET-BTC", "NRG-BTC"],
               KucoinLoopback,
               {"rest_snapshots": DATA / "kucoin" / "rest_level2_2021-04-25.txt"}),
    "bitfinex": ("bitfinex/ws_v2_2021-04-17.txt", ["tBFTUSD", "tIOTETH", "tDOGUSD"],
                 BitfinexLoopback, {}),
    "deribit": ("deribit/ws_v2_2021-07-22.txt",
                ["BTC-24SEP21-8000-P", "BTC-31DEC21-34000-P", "ETH-30JUL21-2800-C"],
                DeribitLoopback, {}),
    "kraken_futures": ("kraken_futures/ws_v1_2021-07-22_part1.txt",
                       ["PI_ETHUSD", "FI_XBTUSD_210924", "PI_LTCUSD"], KrakenFuturesLoopback, {}),
}


@contextlib.contextmanager
def capture_md_sends() -> Iterator[list[bytes]]:
    """Every message the loopback servers send on market-data connections, in order (binary
    frames as the bytes that went out: HTX's compressed ones)."""
    sent: list[bytes] = []
    text_send = _ServerListener.send
    binary_send = _Md.send_binary

    def send(self: _ServerListener, data: bytes) -> None:
        if isinstance(self, _Md) and self.transport is not None:
            sent.append(bytes(data))
        text_send(self, data)

    def send_binary(self: Any, data: bytes) -> None:
        if self.transport is not None:
            sent.append(bytes(data))
        binary_send(self, data)

    _ServerListener.send = send  # type: ignore[method-assign]
    _Md.send_binary = send_binary  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        _ServerListener.send = text_send  # type: ignore[method-assign]
        _Md.send_binary = binary_send  # type: ignore[method-assign]


def verify(path: Path, venue: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(path), "--venue",
                           venue, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


@pytest.mark.parametrize("venue", sorted(CASES))
def test_record_venue_against_its_loopback(venue: str, tmp_path: Path) -> None:
    rec_file, symbols, server_cls, server_kw = CASES[venue]
    instruments = [Instrument(venue, s, 10, 8) for s in symbols]
    out = tmp_path / f"{venue}.txt"
    stats: dict[str, Any] = {}

    async def main() -> None:
        server = server_cls(instruments, [DATA / rec_file], manual=True, **server_kw)
        with capture_md_sends() as sent:
            async with server:
                p = plan(venue, symbols, None if venue == "kucoin" else server.ws_url,
                         server.rest_url)
                if venue == "kucoin":
                    p.ping_interval = 1.0          # client pings seen within the test
                with out.open("wb") as fh:
                    rec = Recorder(p, fh, backoff=Backoff(0.05, 0.2))
                    task = asyncio.get_running_loop().create_task(rec.run())
                    try:
                        await wait_for(lambda: any(getattr(c, "subscribed", False)
                                                   for c in server._clients),
                                       what="a subscription")
                        pending = set(symbols) if venue == "kucoin" else set()
                        while server.position < len(server.frames):
                            payload = server.frames[server.position].payload
                            hit = {s for s in pending if s.encode() in payload}
                            server.send_next(1)
                            if hit:      # its REST snapshot is taken before the next frames
                                pending -= hit
                                n = len(symbols) - len(pending)
                                await wait_for(lambda n=n: rec.snapshots >= n,  # type: ignore
                                               what="a snapshot")
                            elif server.position % 64 == 0:
                                await asyncio.sleep(0)
                        await wait_for(lambda: rec.messages >= len(
                            [m for m in sent if b'"type":"pong"' not in m]),
                            what="every frame recorded")
                        if venue in ("htx", "deribit", "kucoin"):
                            await wait_for(lambda: server.stats["pings"] >= 1,
                                           what="a keep-alive answered / sent")
                        if venue == "kucoin":     # a new token for every connection
                            before = rec.connects
                            server.drop_connections()
                            await wait_for(lambda: rec.connects > before and
                                           rec.conn.ready.is_set(), what="a reconnect")
                            stats["tokens"] = len(server.tokens)
                            stats["connects"] = rec.connects
                        await asyncio.sleep(0.05)
                    finally:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                stats.update(messages=rec.messages, binary=rec.binary,
                             answered=rec.answered, snapshots=rec.snapshots,
                             frames=len(server.frames), pings=server.stats["pings"],
                             sent=list(sent))

    run(main(), 90)
    sent: list[bytes] = [m for m in stats["sent"] if b'"type":"pong"' not in m]
    msgs = list(read_messages(out))
    recv = [data for kind, _ts, data, _url in msgs if kind == "recv"]
    assert recv == sent                       # byte for byte, in order
    assert stats["messages"] == len(recv) > stats["frames"]
    sent_lines = [data for kind, _ts, data, _url in msgs if kind == "sent"]
    p = plan(venue, symbols, None if venue == "kucoin" else "ws://127.0.0.1:1",
             "http://127.0.0.1:1")
    assert sent_lines[:len(p.subscriptions)] == p.subscriptions
    text = out.read_bytes()
    if venue == "htx":
        assert stats["binary"] == len(recv) and all(r[:2] == b"\x1f\x8b" for r in recv)
        assert b"\n1" in text and b": b'\\x1f\\x8b" in text
        assert stats["answered"] >= 1 and b'{"pong":' in b"".join(sent_lines)
    else:
        assert stats["binary"] == 0
    if venue == "deribit":
        assert stats["answered"] >= 1 and any(b"public/test" in s for s in sent_lines)
        assert b"public/set_heartbeat" in sent_lines[0]
    if venue == "kucoin":
        assert stats["pings"] >= 1 and stats["tokens"] == stats["connects"] >= 2
        assert b"?token=TOKEN&" in text and b"token=pub-" not in text
        assert stats["snapshots"] >= len(symbols)
        rest = [url for kind, _ts, _d, url in msgs if kind == "rest"]
        assert {u.rsplit("=", 1)[1] for u in rest} == set(symbols)
    if venue == "bitfinex":
        # sequence numbers and checksums asked for: the recording's checksums verify
        assert sent_lines[0] == b'{"event":"conf","flags":196608}'
        assert sum(b'"event":"subscribed"' in r for r in recv) >= len(symbols)
        assert sum(b',"cs",' in r for r in recv) > 0
    report = verify(out, venue)
    if venue == "bitfinex":
        assert report["checksums_verified"] == sum(b',"cs",' in r for r in recv)
    assert report["ok"] and report["sequence_gaps"] == 0 and report["decode_errors"] == 0
    assert report["messages"] >= len(recv) and report["book_updates"] > 0
    assert set(symbols) <= set(report["decimals"])
    if venue == "kucoin":
        assert report["data_messages"].get("book_snapshot", 0) >= len(symbols)


def test_record_cli_htx_end_to_end(tmp_path: Path) -> None:
    """The command line: HTX's gzip frames into a compressed file that verify reads."""
    out = tmp_path / "htx.txt"
    inst = [Instrument("htx", s, 10, 8) for s in CASES["htx"][1]]

    async def main() -> None:
        server = HtxLoopback(inst, [DATA / CASES["htx"][0]], speed=None)
        async with server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hftcore", "record", "--venue", "HTX", "--symbols",
                ",".join(CASES["htx"][1]), "--out", str(out), "--compress", "--messages", "300",
                "--ws-url", server.ws_url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            so, se = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, se.decode()
            assert b"messages, 0 snapshots, 1 connection(s)" in so, so
            assert server.stats["pings"] >= 1          # the ping was answered

    run(main(), 90)
    path = out.with_name(out.name + ".gz")
    report = verify(path, "htx")
    assert report["messages"] >= 300 and report["sequence_gaps"] == 0


def test_record_refuses_bad_venues_and_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--venue: unknown venue 'mtgox'; one of .*kucoin"):
        plan("mtgox", ["BTCUSD"])
    with pytest.raises(ValueError, match="ws_url"):
        plan("kucoin", ["BTC-USDT"], "ws://127.0.0.1:1")
    assert {"htx", "kucoin", "bitfinex", "deribit", "kraken_futures"} <= set(VENUES)
    proc = subprocess.run([sys.executable, "-m", "hftcore", "record", "--venue", "nope",
                           "--symbols", "X", "--out", str(tmp_path / "x.txt")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown venue 'nope'" in proc.stderr and "kraken_futures" in proc.stderr
    assert not (tmp_path / "x.txt").exists()
    kf = plan("kraken_futures", ["PI_XBTUSD"])
    assert kf.ping_interval == 30.0 and not kf.ping_periodic
    assert kf.subscriptions[0] == b'{"event":"subscribe","feed":"heartbeat"}'
    kc = plan("kucoin", ["BTC-USDT"])
    assert kc.connect is not None and kc.ping_periodic and kc.ping_interval == 18.0
