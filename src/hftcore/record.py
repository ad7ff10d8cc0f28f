"""``python -m hftcore record --venue binance --symbols BTCUSDT,ETHUSDT --out FILE [--compress]``.

Records a venue's public market data as it arrives - the raw frames, byte for byte, with the
local receive time - in the recording format of ``tests/data`` (see
:mod:`hftcore.data.recordings`)::

    <ws-url> <-> <ts>                connection opened
    <ws-url> <- <ts>: <json>         message sent (subscriptions)
    <recv_ts>: <raw json>            message received
    <http-url> -> <ts>: <json>       REST response (Binance depth snapshots)

The file replays in backtests (``hftcore.backtest``, ``python -m hftcore replay``) and in
``python -m hftcore verify`` like any bundled recording.  Binance books need a REST snapshot: one
is taken per symbol after its first diff arrived, and again after every reconnect.  Only public
endpoints are used: no key is read, so none can end up in a recording.

``--compress`` writes gzip (``.gz`` is appended when missing); a name ending in ``.zst`` is
written with zstandard.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import importlib
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

__all__ = ["Recorder", "RecordingPlan", "plan", "record"]


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
    if venue not in ("binance", "binance_futures", "bybit", "okx", "kraken", "coinbase"):
        raise ValueError(f"--venue: unknown venue {venue!r}")
    futures = venue == "binance_futures"            # the futures market of the Binance module
    mod = importlib.import_module(f"hftcore.venues.{'binance' if futures else venue}")
    fn = getattr(mod, "futures_recording_plan" if futures else "recording_plan", None)
    if fn is None:
        raise ValueError(f"--venue: recording {venue} is not supported yet")
    p: RecordingPlan = fn(syms, ws_url, rest_url, streams)
    return p


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
        self._last_flush = time.monotonic()
        self._want_snapshot: set[str] = set()
        self._seen: set[str] = set()
        self._last_seq: dict[str, int] = {}     # Binance: last diff id recorded per symbol
        self.rest = RestClient(p.rest_url) if p.rest_url else None
        self._opened = False
        self.conn = Connection(p.url, self._on_message, name=f"record {p.venue}",
                               on_open=self._on_open, on_close=self._on_close, backoff=backoff,
                               ping_message=p.ping_message, pong_exact=p.pong_exact,
                               pong_contains=p.pong_contains, ping_periodic=p.ping_periodic)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _write(self, line: bytes) -> None:
        self.out.write(line)
        self.bytes += len(line)
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every:
            self.out.flush()
            self._last_flush = now

    def _opening(self) -> None:
        if not self._opened:      # data can arrive before on_open runs: the line goes first
            self._opened = True
            self.connects += 1
            self._write(f"{self.plan.url} <-> {_ts(time.time_ns())}\n".encode())
            self._want_snapshot = set(self.plan.snapshots)
            self._seen.clear()

    def _on_close(self, conn: Connection) -> None:
        self._opened = False

    async def _on_open(self, conn: Connection) -> None:
        self._opening()
        for msg in self.plan.subscriptions:
            self._write(f"{self.plan.url} <- {_ts(time.time_ns())}: ".encode() + msg + b"\n")
            conn.send(msg)

    def _on_message(self, data: bytes, ts: int) -> None:
        self._opening()
        if b"\n" in data or b"\r" in data:
            # raw newlines in JSON can only be whitespace between tokens: one line per message
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        self._write(_ts(ts).encode() + b": " + data + b"\n")
        self.messages += 1
        if self.plan.venue in ("binance", "binance_futures") and b'"depthUpdate"' in data:
            try:
                ev = orjson.loads(data)
                ev = ev.get("data", ev)
                self._last_seq[ev["s"]] = int(ev["u"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                pass
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
        if self.plan.venue not in ("binance", "binance_futures"):
            return False
        try:
            last = int(orjson.loads(body)["lastUpdateId"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return False
        return last < self._last_seq.get(sym, -1)

    async def run(self, duration: float | None = None, messages: int | None = None) -> None:
        """Record until ``duration`` seconds or ``messages`` messages (or cancellation)."""
        self.conn.start()
        t_end = None if duration is None else time.monotonic() + duration
        try:
            while True:
                await asyncio.sleep(0.01)
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
            "connects": rec.connects, "bytes": rec.bytes}


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venue", required=True,
                   help="binance | binance_futures | bybit | okx | kraken | coinbase")
    p.add_argument("--symbols", required=True, help="comma-separated venue symbols")
    p.add_argument("--out", required=True, metavar="FILE", help="the recording to write")
    p.add_argument("--compress", action="store_true", help="gzip the file (.gz)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--messages", type=int, default=None, metavar="N",
                   help="stop after N messages")
    p.add_argument("--streams", default=None,
                   help="Binance streams per symbol (default depth@100ms,trade)")
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

