"""``python -m hftcore record --venue binance --symbols BTCUSDT,ETHUSDT --out FILE [--compress]``.

Records a venue's public market data as it arrives - the raw frames, byte for byte, with the
local receive time - in the recording format of ``tests/data`` (see
:mod:`hftcore.data.recordings`)::

    <ws-url> <-> <ts>                connection opened
    <ws-url> <- <ts>: <json>         message sent (subscriptions, keep-alive answers)
    <recv_ts>: <raw json>            message received
    <recv_ts>: b'<bytes>'            binary message received (HTX gzip frames), as a Python
                                     bytes literal
    <http-url> -> <ts>: <json>       REST response (Binance and KuCoin book snapshots)

The file replays in backtests (``hftcore.backtest``, ``python -m hftcore replay``) and in
``python -m hftcore verify`` like any bundled recording.  Binance and KuCoin books need a REST
snapshot: one is taken per symbol after the symbol's first message arrived, and again after
every reconnect.  Only public endpoints are used: no key is read, so none can end up in a
recording.

Venues (:data:`VENUES`): ``binance``, ``binance_futures``, ``bybit``, ``okx``, ``kraken``,
``coinbase``, ``htx``, ``kucoin``, ``bitfinex``, ``deribit``, ``kraken_futures``; each venue
module's ``recording_plan`` says what to subscribe and how to keep the connection.  HTX's
``{"ping": n}`` is answered ``{"pong": n}`` and Deribit's ``test_request`` ``public/test`` (both
written as sent lines); KuCoin's websocket URL comes with a fresh token from
``POST /api/v1/bullet-public`` before every connect (the token is written as ``TOKEN``);
Bitfinex's ``conf`` and subscriptions are written as sent lines, and its ``subscribed`` answers
(channel ids) as received ones.  A text message with raw newlines is written on one line (they
can only be JSON whitespace); a text ping's answer that the keep-alive consumes is not written.

``--compress`` writes gzip (``.gz`` is appended when missing); a name ending in ``.zst`` is
written with zstandard.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from hftcore.cli import command
from hftcore.venues.common import RecordingPlan
from hftcore.venues.rest import RestClient, RestError
from hftcore.venues.ws import Backoff, Connection

__all__ = ["VENUES", "Recorder", "RecordingPlan", "plan", "record"]

#: the venues ``record`` accepts
VENUES = ("binance", "binance_futures", "bybit", "okx", "kraken", "coinbase", "htx", "kucoin",
          "bitfinex", "deribit", "kraken_futures")
_TOKEN = re.compile(r"([?&]token=)[^&]*")


def _ts(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def plan(venue: str, symbols: Sequence[str], ws_url: str | None = None,
         rest_url: str | None = None, streams: Sequence[str] | None = None) -> RecordingPlan:
    """The connection plan of ``venue`` for ``symbols`` (the venue module's
    ``recording_plan``)."""
    venue = venue.lower()
    syms = [s.strip() for s in symbols if s.strip()]
    if not syms:
        raise ValueError("--symbols: at least one symbol")
    if venue not in VENUES:
        raise ValueError(f"--venue: unknown venue {venue!r}; one of {', '.join(VENUES)}")
    futures = venue == "binance_futures"            # the futures market of the Binance module
    mod = importlib.import_module(f"hftcore.venues.{'binance' if futures else venue}")
    fn = getattr(mod, "futures_recording_plan" if futures else "recording_plan", None)
    if fn is None:
        raise ValueError(f"--venue: recording {venue} is not supported yet")
    p: RecordingPlan = fn(syms, ws_url, rest_url, streams)
    return p


def _binary(data: bytes) -> bool:
    """True for a message to write as a bytes literal: gzip (HTX) or not UTF-8 text."""
    if data[:2] == b"\x1f\x8b":
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _diff_seq(venue: str, data: bytes) -> tuple[str, int] | None:
    """``(symbol, last update id)`` of a book diff of a venue whose books start from a REST
    snapshot (Binance ``u``, KuCoin ``sequenceEnd``), else None."""
    try:
        if venue in ("binance", "binance_futures") and b'"depthUpdate"' in data:
            ev = orjson.loads(data)
            ev = ev.get("data", ev)
            return str(ev["s"]), int(ev["u"])
        if venue == "kucoin" and b'"trade.l2update"' in data:
            d = orjson.loads(data)["data"]
            return str(d["symbol"]), int(d["sequenceEnd"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        pass
    return None


def _snapshot_seq(venue: str, body: bytes) -> int | None:
    """The update id a REST book snapshot is at (Binance ``lastUpdateId``, KuCoin
    ``data.sequence``), None when unknown."""
    try:
        if venue in ("binance", "binance_futures"):
            return int(orjson.loads(body)["lastUpdateId"])
        if venue == "kucoin":
            return int(orjson.loads(body)["data"]["sequence"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return None


def _open_out(path: Path, compress: bool) -> tuple[Path, IO[bytes]]:
    if path.suffix in (".zst", ".zstd"):
        try:
            import zstandard
        except ImportError:
            raise ValueError("writing .zst needs the 'zstandard' package "
                             "(pip install 'hftcore[zstd]')") from None
        raw = path.open("wb")
        return path, zstandard.ZstdCompressor().stream_writer(raw)
    if compress or path.suffix == ".gz":
        if path.suffix != ".gz":
            path = path.with_name(path.name + ".gz")
        return path, gzip.open(path, "wb")  # type: ignore[return-value]
    return path, path.open("wb")


class Recorder:
    """Writes one venue's market data to a recording file (see the module docstring)."""

    def __init__(self, p: RecordingPlan, out: IO[bytes], *, flush_every: float = 1.0,
                 backoff: Backoff | None = None) -> None:
        self.plan = p
        self.out = out
        self.flush_every = flush_every
        self.messages = 0
        self.bytes = 0
        self.snapshots = 0
        self.connects = 0
        self.binary = 0             # binary frames (written as bytes literals)
        self.answered = 0           # keep-alive messages answered (HTX pings, Deribit tests)
        self.error: BaseException | None = None     # a line that could not be written
        self.url = p.url            # the URL written on the lines (KuCoin: token hidden)
        self._last_flush = time.monotonic()
        self._want_snapshot: set[str] = set()
        self._seen: set[str] = set()
        self._last_seq: dict[str, int] = {}     # Binance, KuCoin: last diff id per symbol
        self.rest = RestClient(p.rest_url) if p.rest_url else None
        self._opened = False
        self.conn = Connection(p.url, self._on_message, name=f"record {p.venue}",
                               on_open=self._on_open, on_close=self._on_close, backoff=backoff,
                               prepare=self._prepare if p.connect is not None else None,
                               ping_interval=p.ping_interval, ping_message=p.ping_message,
                               pong_exact=p.pong_exact, pong_contains=p.pong_contains,
                               ping_periodic=p.ping_periodic)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _write(self, line: bytes) -> None:
        if self.error is not None:
            raise self.error
        try:
            self.out.write(line)
        except (OSError, ValueError) as exc:    # disk full, file closed: recording stops
            self.error = exc
            raise
        self.bytes += len(line)
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every:
            self.out.flush()
            self._last_flush = now

    def _opening(self) -> None:
        if not self._opened:      # data can arrive before on_open runs: the line goes first
            self._opened = True
            self.connects += 1
            self._write(f"{self.url} <-> {_ts(time.time_ns())}\n".encode())
            self._want_snapshot = set(self.plan.snapshots)
            self._seen.clear()

    def _on_close(self, conn: Connection) -> None:
        self._opened = False

    async def _prepare(self, conn: Connection) -> None:
        """Before each connect: a fresh URL (KuCoin's token) and the venue's ping interval."""
        assert self.plan.connect is not None and self.rest is not None
        url, interval = await self.plan.connect(self.rest)
        conn.url = url
        conn.ping_interval = min(self.plan.ping_interval, interval)
        self.url = _TOKEN.sub(r"\1TOKEN", url)

    def _sent(self, msg: bytes) -> None:
        self._write(f"{self.url} <- {_ts(time.time_ns())}: ".encode() + msg + b"\n")

    async def _on_open(self, conn: Connection) -> None:
        self._opening()
        for msg in self.plan.subscriptions:
            self._sent(msg)
            conn.send(msg)

    def _on_message(self, data: bytes, ts: int) -> None:
        try:
            self._record(data, ts)
        except (OSError, ValueError):
            if self.error is None:
                raise
            self.conn.drop("the recording cannot be written")   # run() raises self.error

    def _record(self, data: bytes, ts: int) -> None:
        self._opening()
        if _binary(data):
            # gzip frames (HTX), anything not UTF-8 text: a bytes literal, read back as bytes
            self._write(_ts(ts).encode() + b": " + repr(data).encode("ascii") + b"\n")
            self.binary += 1
        else:
            text = data
            if b"\n" in text or b"\r" in text:
                # raw newlines in JSON can only be whitespace between tokens: one line per message
                text = text.replace(b"\r", b" ").replace(b"\n", b" ")
            self._write(_ts(ts).encode() + b": " + text + b"\n")
        self.messages += 1
        answer = self.plan.answer
        if answer is not None:
            reply = answer(data)
            if reply is not None:
                self._sent(reply)
                self.conn.send(reply)
                self.answered += 1
        seq = _diff_seq(self.plan.venue, data)
        if seq is not None:
            self._last_seq[seq[0]] = seq[1]
        if self._want_snapshot:
            for sym in list(self._want_snapshot):
                if sym.encode() in data and sym not in self._seen:
                    self._seen.add(sym)
                    self._want_snapshot.discard(sym)
                    task = asyncio.get_running_loop().create_task(self._snapshot(sym))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _snapshot(self, sym: str) -> None:
        assert self.rest is not None
        path = self.plan.snapshots[sym]
        p, _, q = path.partition("?")
        for attempt in range(6):
            try:
                body = await self.rest.request("GET", p, query=q)
            except RestError as exc:
                print(f"hftcore record: snapshot of {sym} failed: {exc}", file=sys.stderr)
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if attempt < 5 and self._older_than_recorded(sym, body):
                # diffs newer than this snapshot are already in the file (the REST answer came
                # after them): take another, so the file reads in the documented order
                await asyncio.sleep(0.02)
                continue
            self._write(f"{self.plan.rest_url}{path} -> {_ts(time.time_ns())}: ".encode()
                        + body.replace(b"\n", b" ") + b"\n")
            self.snapshots += 1
            return

    def _older_than_recorded(self, sym: str, body: bytes) -> bool:
        last = _snapshot_seq(self.plan.venue, body)
        return last is not None and last < self._last_seq.get(sym, -1)

    async def run(self, duration: float | None = None, messages: int | None = None) -> None:
        """Record until ``duration`` seconds or ``messages`` messages (or cancellation)."""
        self.conn.start()
        t_end = None if duration is None else time.monotonic() + duration
        try:
            while True:
                await asyncio.sleep(0.01)
                if self.error is not None:
                    raise self.error
                if t_end is not None and time.monotonic() >= t_end:
                    break
                if messages is not None and self.messages >= messages and not self._tasks:
                    break
        finally:
            await self.conn.stop()
            for t in list(self._tasks):
                t.cancel()
            if self.rest is not None:
                await self.rest.close()
            self.out.flush()


async def record(venue: str, symbols: Sequence[str], out: str | Path, *, compress: bool = False,
                 duration: float | None = None, messages: int | None = None,
                 ws_url: str | None = None, rest_url: str | None = None,
                 streams: Sequence[str] | None = None) -> dict[str, Any]:
    """Record ``venue``'s market data of ``symbols`` to ``out``; returns what was written."""
    p = plan(venue, symbols, ws_url, rest_url, streams)
    path, fh = _open_out(Path(out), compress)
    try:
        rec = Recorder(p, fh)
        await rec.run(duration, messages)
    finally:
        fh.close()
    return {"file": str(path), "messages": rec.messages, "snapshots": rec.snapshots,
            "connects": rec.connects, "bytes": rec.bytes, "binary": rec.binary,
            "answered": rec.answered}


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venue", required=True, help=" | ".join(VENUES))
    p.add_argument("--symbols", required=True, help="comma-separated venue symbols")
    p.add_argument("--out", required=True, metavar="FILE", help="the recording to write")
    p.add_argument("--compress", action="store_true", help="gzip the file (.gz)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--messages", type=int, default=None, metavar="N",
                   help="stop after N messages")
    p.add_argument("--streams", default=None,
                   help="channels per symbol (default: the venue's book and trades; Binance "
                        "depth@100ms,trade, HTX depth.step0,trade.detail, KuCoin "
                        "/market/level2,/market/match, Bitfinex book,trades, Deribit "
                        "book,trades, Kraken Futures book,trade)")
    p.add_argument("--ws-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rest-url", default=None, help=argparse.SUPPRESS)


@command("record", "record a venue's market data (raw frames, receive times) to a file", _args)
def _record(args: argparse.Namespace) -> int:
    from hftcore.live import run

    try:
        symbols = args.symbols.split(",")
        streams = args.streams.split(",") if args.streams else None
        plan(args.venue, symbols, args.ws_url, args.rest_url, streams)   # validate first
    except ValueError as exc:
        print(f"hftcore record: {exc}", file=sys.stderr)
        return 2
    try:
        r = run(record(args.venue, symbols, args.out, compress=args.compress,
                       duration=args.duration, messages=args.messages, ws_url=args.ws_url,
                       rest_url=args.rest_url, streams=streams))
    except KeyboardInterrupt:
        return 0
    except (ValueError, OSError) as exc:
        print(f"hftcore record: {exc}", file=sys.stderr)
        return 2
    print(f"hftcore record: {r['messages']:,} messages, {r['snapshots']} snapshots, "
          f"{r['connects']} connection(s) -> {r['file']}")
    return 0

