"""Local servers that speak a venue's protocol on 127.0.0.1: for tests, the demo and benchmarks.

A loopback server replays market data - a recording of that venue byte for byte, or any
recording's events re-encoded in the venue's format - at the recorded speed (scaled) or as fast
as it can, to every client subscribed to the symbols; it keeps the venue's book so REST
snapshots and resubscriptions answer with the state the stream reached; and it runs the
simulated exchange (:class:`hftcore._ext.sim.SimCore`, the matcher of backtests) for the
orders its clients send, against the book it replays, answering in the venue's format (acks,
fills, cancels, private execution reports).  It checks signatures the venue's way.

It can be told to misbehave (:class:`Faults`): drop every connection, go silent without
closing, skip a sequence number, corrupt a checksum, send a malformed frame, delay or never send
an order's acknowledgement, send fills twice, reject signatures, enforce a rate limit.

Nothing here touches the internet: servers listen on ``127.0.0.1`` on free ports.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from hftcore._ext.book import L2Book
from hftcore._ext.engine import EngineCore
from hftcore._ext.feed import EV_DELTA, EV_TRADE, EVENT_LAST, Feed
from hftcore._ext.sim import (
    RSP_ACK,
    RSP_CANCEL_REJECT,
    RSP_CANCELED,
    RSP_EXPIRED,
    RSP_FILL,
    RSP_REJECT,
    SO_FOK,
    SO_IOC,
    SO_MARKET,
    SO_POST_ONLY,
)
from hftcore.data.recordings import open_recording
from hftcore.decoders import decoder_for
from hftcore.fixed import format as format_fixed
from hftcore.model import Instrument, Side
from hftcore.venues.binance import signature_payload
from hftcore.venues.sim import SimExchange
from hftcore.venues.ws import RedactingLogger

__all__ = [
    "BinanceFuturesLoopback",
    "BinanceLoopback",
    "BybitLoopback",
    "CoinbaseLoopback",
    "Faults",
    "KrakenLoopback",
    "LoopbackServer",
    "MarketFrame",
    "OkxLoopback",
    "binance_frames_from_events",
    "binance_frames_from_recording",
    "bybit_frames_from_recording",
    "coinbase_frames_from_recording",
    "kraken_frames_from_recording",
    "okx_frames_from_recording",
    "received_lines",
]

log = logging.getLogger("hftcore.loopback")

_TEXT = WSMsgType.TEXT


@dataclass
class Faults:
    """What a loopback server does wrong; change the fields at any time.

    Attributes
    ----------
    silent : bool
        Send nothing (market data, answers), answer no ping and leave requests unprocessed (a
        hung server); connections stay open.
    skip : set of str
        Symbols whose next book update is not sent (the book still moves: a sequence gap).
    corrupt_checksum : set of str
        Symbols whose next book update carries a wrong checksum (Kraken, OKX; Bitfinex: the
        next ``cs`` message).
    malformed : int
        Malformed frames to send before the next market-data frame.
    ack_delay : float
        Seconds to hold each order acknowledgement (answer and private report).
    never_ack : bool
        Orders placed now are never acknowledged (they rest and trade normally).
    duplicate_fills : bool
        Send every private fill report twice.
    reject_signature : bool
        Answer every signed request as if its signature were wrong.
    fragment : int
        Send every message in websocket fragments of this many bytes (0: whole frames).
    reports_after_answers : bool
        Private reports caused by a request go out after its answer (the default sends them
        first); venues promise no order between the two.
    """

    silent: bool = False
    skip: set[str] = field(default_factory=set)
    corrupt_checksum: set[str] = field(default_factory=set)
    malformed: int = 0
    ack_delay: float = 0.0
    never_ack: bool = False
    duplicate_fills: bool = False
    reject_signature: bool = False
    fragment: int = 0
    reports_after_answers: bool = False


@dataclass(slots=True)
class MarketFrame:
    """One market-data message to replay: receive time (ns), symbol, stream/channel, the exact
    bytes, and for book updates the levels as text pairs and the sequence numbers."""

    ts: int
    symbol: str
    stream: str
    payload: bytes
    bids: list[tuple[str, str]] | None = None
    asks: list[tuple[str, str]] | None = None
    first: int = 0
    last: int = 0


class _TextBook:
    """A venue book kept as the exchange's text (for REST snapshots and resubscriptions)."""

    __slots__ = ("asks", "bids", "keys", "last")

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.keys: dict[str, Decimal] = {}
        self.last = 0

    def set(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]], last: int) -> None:
        self.bids.clear()
        self.asks.clear()
        self.apply(bids, asks)
        self.last = last

    def apply(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for lv in levels:
                px, qty = lv[0], lv[1]
                if Decimal(qty) == 0:
                    side.pop(px, None)
                else:
                    side[px] = qty
                    if px not in self.keys:
                        self.keys[px] = Decimal(px)

    def top(self, n: int) -> tuple[list[list[str]], list[list[str]]]:
        k = self.keys
        bids = sorted(self.bids, key=lambda p: k[p], reverse=True)[:n]
        asks = sorted(self.asks, key=lambda p: k[p])[:n]
        return [[p, self.bids[p]] for p in bids], [[p, self.asks[p]] for p in asks]


class _Matcher:
    """The simulated exchange of a loopback server: its own feed and books, fed with the frames
    the server sends, and SimCore matching the clients' orders against them."""

    def __init__(self, venue: str, instruments: Sequence[Instrument],
                 on_response: Callable[[int, int, int, int, int, int], None]) -> None:
        n = len(instruments)
        self.feed: Feed | None = None
        try:
            dec = decoder_for(venue)
        except ValueError:          # no decoder for this venue in this build: orders rest and
            pass                    # trade only through exchange_fill (no market data here)
        else:
            for i, inst in enumerate(instruments):
                dec.add_symbol(inst.symbol, i, inst.price_decimals, inst.size_decimals)
            self.feed = Feed(dec, venue, n)
        self.books = [L2Book(inst.price_decimals, inst.size_decimals) for inst in instruments]
        self.sim = SimExchange().make_core(n)
        self.core = EngineCore(self, list(instruments), self.books, self.sim,
                               (Side.BUY, Side.SELL), False)
        self.on_response = on_response

    def now(self) -> int:
        return max(time.time_ns(), int(self.core.now))

    def frame(self, payload: bytes, ts: int) -> None:
        if self.feed is None:
            return
        self.feed.feed(payload, ts)
        if self.feed.n_events:
            self.core.run_feed(self.feed)

    def rest(self, url: str, body: bytes, ts: int) -> None:
        if self.feed is None:
            return
        self.feed.feed_rest(url, body, ts)
        if self.feed.n_events:
            self.core.run_feed(self.feed)

    def submit(self, handle: int, index: int, side: int, price: int, size: int,
               flags: int) -> int:
        now = self.now()
        slot = int(self.sim.submit(handle, index, side, price, size, flags, now))
        self.core.advance(now)
        return slot

    def cancel(self, handle: int, slot: int, index: int) -> None:
        now = self.now()
        self.sim.cancel(handle, slot, now, index)
        self.core.advance(now)

    # EngineCore host interface
    def _on_response(self, kind: int, handle: int, price: int, qty: int, aux: int,
                     ts: int) -> None:
        self.on_response(kind, handle, price, qty, aux, ts)

    def _on_timer(self, tid: int, ts: int) -> None:
        pass

    def _hook_failed(self, strategy: Any, hook: str, exc: BaseException) -> None:
        pass

    def _flush(self) -> None:
        pass


class _ServerListener(WSListener):
    """A server-side connection: pings answered by hand (so a silent server can ignore them)."""

    def __init__(self, server: LoopbackServer, path: str) -> None:
        super().__init__()
        self.server = server
        self.path = path
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.server._clients.add(self)
        self.connected()

    def connected(self) -> None:
        pass

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.server._clients.discard(self)
        self.transport = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        t = frame.msg_type
        if t == WSMsgType.PING:
            if not self.server.faults.silent:
                transport.send_pong(frame.get_payload_as_bytes())
        elif t == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif (t == _TEXT or t == WSMsgType.BINARY) and not self.server.faults.silent:
            self.on_text(frame.get_payload_as_bytes())

    def on_text(self, data: bytes) -> None:
        pass

    def send(self, data: bytes) -> None:
        tr = self.transport
        faults = self.server.faults
        if tr is None or faults.silent:
            return
        n = faults.fragment
        if n <= 0 or len(data) <= n:
            tr.send(_TEXT, data)
            return
        parts = [data[k:k + n] for k in range(0, len(data), n)]
        tr.send(_TEXT, parts[0], False)
        for k, part in enumerate(parts[1:], 2):
            tr.send(WSMsgType.CONTINUATION, part, k == len(parts))

    def wants(self, frame: MarketFrame) -> bool:
        return False


@dataclass(slots=True)
class _SOrder:
    """An order on a loopback server."""

    handle: int
    cid: str
    order_id: int
    inst: Instrument
    index: int
    side: int
    type: str
    tif: str
    price: int
    qty: int
    flags: int
    time_ms: int
    filled: int = 0
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    slot: int = -1
    cancel_cid: str = ""
    hidden_ack: bool = False
    trades: list[dict[str, Any]] = field(default_factory=list)


class LoopbackServer:
    """Base of the venue loopback servers (see the module docstring).

    Parameters
    ----------
    instruments : sequence of Instrument
        What the server lists and matches (its symbols, decimals).
    frames : sequence of MarketFrame
        The market data to replay, in time order.
    speed : float, optional
        Replay speed: 1.0 is the recorded pace, 10.0 ten times faster; None sends as fast as
        it can.  The replay starts with the first market-data subscription, or
        :meth:`start_replay`; ``manual=True`` leaves it to :meth:`send_next`.
    manual : bool
        Frames go out only when :meth:`send_next` is called.
    start_on_subscribe : bool
        Start the replay with the first market-data client (else at :meth:`start_replay`).
    order_limit : (int, float)
        Orders accepted per window (s) per account; more are refused as the venue does.
    host : str
        Listening address (127.0.0.1).
    """

    venue = ""

    def __init__(self, instruments: Sequence[Instrument], frames: Sequence[MarketFrame] = (),
                 *, speed: float | None = None, manual: bool = False,
                 start_on_subscribe: bool = True, order_limit: tuple[int, float] = (50, 10.0),
                 host: str = "127.0.0.1") -> None:
        self.instruments = list(instruments)
        self.index = {inst.symbol: i for i, inst in enumerate(self.instruments)}
        self.frames = list(frames)
        self.speed = speed
        self.manual = manual
        self.start_on_subscribe = start_on_subscribe
        self.order_limit = order_limit
        self.host = host
        self.faults = Faults()
        self.books = {inst.symbol: _TextBook() for inst in self.instruments}
        self.matcher = _Matcher(self.venue, self.instruments, self._on_sim)
        self._clients: set[_ServerListener] = set()
        self._ws_server: asyncio.base_events.Server | None = None
        self._rest_runner: web.AppRunner | None = None
        self.ws_port = 0
        self.rest_port = 0
        self.position = 0
        self.done = asyncio.Event()
        self._replay_task: asyncio.Task[None] | None = None
        self._go = asyncio.Event()
        self._handles = itertools.count(1)
        self._order_ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self.orders: dict[int, _SOrder] = {}           # by handle
        self._quiet: set[int] = set()
        self.by_cid: dict[str, _SOrder] = {}           # open or last order of a client id
        self._window: tuple[int, int] = (0, 0)         # (window number, orders in it)
        self.stats: dict[str, int] = {
            "frames_sent": 0, "frames_skipped": 0, "malformed_sent": 0, "orders": 0,
            "rejected_orders": 0, "cancels": 0, "fills": 0, "rate_limited": 0,
            "bad_signatures": 0, "requests": 0, "snapshots": 0, "connections": 0, "pings": 0,
        }

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> LoopbackServer:
        """Listen on free ports of ``host``; returns self."""
        self._ws_server = await ws_create_server(
            self._route, self.host, 0, enable_auto_pong=False, websocket_handshake_timeout=5,
            logger_name=RedactingLogger(logging.getLogger("hftcore.loopback.ws"), {}))
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        app = web.Application()
        self.rest_routes(app)
        self._rest_runner = web.AppRunner(app, access_log=None)
        await self._rest_runner.setup()
        site = web.TCPSite(self._rest_runner, self.host, 0)
        await site.start()
        addr = self._rest_runner.addresses[0]
        self.rest_port = int(addr[1])
        self.on_start()
        if not self.manual:
            self._replay_task = asyncio.get_running_loop().create_task(self._replay())
        return self

    def on_start(self) -> None:
        """Set up the matcher's books (subclasses)."""

    async def stop(self) -> None:
        """Close every connection and both listeners."""
        if self._replay_task is not None:
            self._replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay_task
        for c in list(self._clients):
            if c.transport is not None:
                c.transport.disconnect(False)
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 2)
        if self._rest_runner is not None:
            await self._rest_runner.cleanup()

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:port`` of the websocket endpoints."""
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:port`` of the REST endpoints."""
        return f"http://{self.host}:{self.rest_port}"

    def rest_routes(self, app: web.Application) -> None:
        """Add the venue's REST routes (subclasses)."""

    def _route(self, request: WSUpgradeRequest) -> WSListener | None:
        self.stats["connections"] += 1
        return self.listener_for(request.path.decode("utf-8", "replace"))

    def listener_for(self, path: str) -> WSListener | None:
        """The listener of a websocket path (subclasses); None answers 404."""
        return None

    # -- faults that act at once -----------------------------------------------------------------
    def drop_connections(self) -> int:
        """Cut every client connection at once (no close handshake); returns how many."""
        n = 0
        for c in list(self._clients):
            if c.transport is not None:
                c.transport.disconnect(False)
                n += 1
        return n

    @property
    def clients(self) -> int:
        """Connected clients."""
        return len(self._clients)

    # -- replay ----------------------------------------------------------------------------------
    def start_replay(self) -> None:
        """Start the replay now (it otherwise starts with the first market-data client)."""
        self._go.set()

    async def _replay(self) -> None:
        await self._go.wait()
        frames = self.frames
        if not frames:
            self.done.set()
            return
        t0 = time.monotonic()
        r0 = frames[self.position].ts if self.position < len(frames) else 0
        n = 0
        while self.position < len(frames):
            f = frames[self.position]
            if self.speed:
                due = t0 + (f.ts - r0) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                n += 1
                if n % 64 == 0:
                    await asyncio.sleep(0)
            self.send_next(1)
        self.done.set()

    def send_next(self, n: int = 1) -> int:
        """Send the next ``n`` frames now; returns how many were left to send."""
        frames = self.frames
        sent = 0
        while sent < n and self.position < len(frames):
            self._emit(frames[self.position])
            self.position += 1
            sent += 1
        if self.position >= len(frames):
            self.done.set()
        return sent

    def _emit(self, f: MarketFrame) -> None:
        payload = self.before_send(f)
        self.matcher.frame(f.payload, time.time_ns())
        if payload is None:
            self.stats["frames_skipped"] += 1
            return
        if self.faults.silent:
            return
        targets = [c for c in self._clients if c.wants(f)]
        if not targets:
            return
        while self.faults.malformed > 0:
            self.faults.malformed -= 1
            self.stats["malformed_sent"] += 1
            for c in targets:
                c.send(self.malformed_frame(f))
        for c in targets:
            self.deliver(c, payload)
        self.stats["frames_sent"] += 1

    def deliver(self, conn: _ServerListener, payload: bytes) -> None:
        """Send one replayed frame to one client (subclasses: per-connection numbering)."""
        conn.send(payload)

    def before_send(self, f: MarketFrame) -> bytes | None:
        """Update the server's book; the bytes to send (None: skip this frame)."""
        book = self.books.get(f.symbol)
        if f.bids is not None and book is not None:
            if f.last > book.last:
                book.apply(f.bids, f.asks or ())
                book.last = f.last
            if f.symbol in self.faults.skip:
                self.faults.skip.discard(f.symbol)
                return None
        return f.payload

    def malformed_frame(self, f: MarketFrame) -> bytes:
        """A frame the venue's client must refuse (a truncated copy of ``f``)."""
        return f.payload[: max(1, len(f.payload) // 2)]

    # -- orders ----------------------------------------------------------------------------------
    def _rate_ok(self) -> bool:
        limit, window = self.order_limit
        w = int(time.monotonic() / window)
        num, count = self._window
        if num != w:
            num, count = w, 0
        if count >= limit:
            self.stats["rate_limited"] += 1
            self._window = (num, count)
            return False
        self._window = (num, count + 1)
        return True

    def orders_in_window(self) -> int:
        """Orders counted in the current rate-limit window."""
        _limit, window = self.order_limit
        num, count = self._window
        return count if num == int(time.monotonic() / window) else 0

    def new_order(self, cid: str, inst: Instrument, side: int, type_: str, tif: str, price: int,
                  qty: int, flags: int) -> _SOrder:
        """Place an order in the matcher (answers come through :meth:`on_order_event`)."""
        o = _SOrder(next(self._handles), cid, next(self._order_ids), inst, self.index[inst.symbol],
                    side, type_, tif, price, qty, flags, time.time_ns() // 1_000_000)
        self.orders[o.handle] = o
        self.by_cid[cid] = o
        self.stats["orders"] += 1
        o.hidden_ack = self.faults.never_ack
        o.slot = self.matcher.submit(o.handle, o.index, side, price, qty, flags)
        return o

    def cancel_order(self, o: _SOrder) -> None:
        """Ask the matcher to cancel ``o``."""
        self.stats["cancels"] += 1
        self.matcher.cancel(o.handle, o.slot, o.index)

    def exchange_fill(self, cid: str) -> None:
        """Fill what is left of a resting order at its price, as if another participant traded
        with it (what happens while a client is away)."""
        o = self.by_cid[cid]
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ValueError(f"{cid} is not resting ({o.status})")
        self._quiet.add(o.handle)              # take it off the matcher's book silently
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        self._on_sim(RSP_FILL, o.handle, o.price, o.qty - o.filled, 0, time.time_ns())

    def exchange_cancel(self, cid: str) -> None:
        """Cancel a resting order on the exchange's side (expiry, self-trade prevention, an
        operator): reported like any cancel."""
        o = self.by_cid[cid]
        self.cancel_order(o)

    def _on_sim(self, kind: int, handle: int, price: int, qty: int, aux: int, ts: int) -> None:
        o = self.orders.get(handle)
        if o is None or handle in self._quiet:
            return
        if kind == RSP_ACK:
            o.status = "NEW"
        elif kind == RSP_FILL:
            o.filled += qty
            o.quote += Decimal(format_fixed(price, o.inst.price_decimals)) * \
                Decimal(format_fixed(qty, o.inst.size_decimals))
            o.status = "FILLED" if o.filled >= o.qty else "PARTIALLY_FILLED"
            self.stats["fills"] += 1
        elif kind == RSP_CANCELED:
            o.status = "CANCELED"
        elif kind == RSP_EXPIRED:
            o.status = "EXPIRED"
        elif kind == RSP_REJECT:
            o.status = "REJECTED"
            self.stats["rejected_orders"] += 1
        elif kind == RSP_CANCEL_REJECT:
            pass
        self.on_order_event(o, kind, price, qty, aux, ts)

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        """Report an order event in the venue's format (subclasses)."""

    def open_orders(self, symbol: str | None = None) -> list[_SOrder]:
        """Orders resting now."""
        return [o for o in self.by_cid.values() if o.status in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o.inst.symbol == symbol)]

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay`` s (0: now)."""
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, fn)
        else:
            fn()


# -- Binance ------------------------------------------------------------------------------------

_BN_ERRORS = {
    -1022: "Signature for this request is not valid.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -1015: "Too many new orders; current limit is {limit} orders per {window} SECOND.",
    -2010: "Order would immediately match and take.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -1102: "Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    -1100: "Illegal characters found in parameter '{name}'.",
    -1121: "Invalid symbol.",
    -1013: "Filter failure: {name}",
    -1000: "An unknown error occurred while processing the request.",
    -2021: "Order cancel-replace partially failed.",
    -2022: "Order cancel-replace failed.",
    -1003: "Too much request weight used.",
}


class _BnError(Exception):
    def __init__(self, code: int, status: int = 400, data: Any = None, **fmt: object) -> None:
        self.code = code
        self.status = status
        self.msg = _BN_ERRORS.get(code, "error").format(**fmt)
        self.data = data
        super().__init__(self.msg)


def _bn_parse_frame(payload: bytes, ts: int) -> MarketFrame | None:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    stream = obj.get("stream", "")
    data = obj.get("data", obj)
    if not isinstance(data, dict):
        return None
    sym = data.get("s", "")
    if not stream:
        stream = f"{sym.lower()}@{data.get('e', '')}"
    if data.get("e") == "depthUpdate":
        return MarketFrame(ts, sym, stream, payload, [tuple(x) for x in data["b"]],
                           [tuple(x) for x in data["a"]], int(data["U"]), int(data["u"]))
    return MarketFrame(ts, sym, stream, payload)


def binance_frames_from_recording(paths: str | Path | Sequence[str | Path]
                                  ) -> tuple[list[MarketFrame], dict[str, bytes]]:
    """Frames and the first REST depth snapshot per symbol of Binance recordings (format of
    tests/data: ``<ts>: <json>`` lines and ``<url> -> <ts>: <json>`` REST lines)."""
    plist = [paths] if isinstance(paths, str | Path) else list(paths)
    frames: list[MarketFrame] = []
    snaps: dict[str, bytes] = {}
    for p in plist:
        with open_recording(p) as fh:
            for raw in fh:
                line = raw.rstrip(b"\r\n")
                if not line:
                    continue
                if line[:1].isdigit():
                    ts_text, _, body = line.partition(b": ")
                    whole, _, frac = ts_text.partition(b".")
                    ts = int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9] or b"0")
                    f = _bn_parse_frame(body, ts)
                    if f is not None:
                        frames.append(f)
                    continue
                url, _, rest = line.partition(b" ")
                arrow, _, rest = rest.partition(b" ")
                if arrow != b"->" or b"depth" not in url:
                    continue
                _, _, body = rest.partition(b": ")
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(url.decode()).query)
                sym = q.get("symbol", [""])[0].upper()
                if sym and sym not in snaps and body:
                    snaps[sym] = body
    frames.sort(key=lambda f: f.ts)
    return frames, snaps


def binance_frames_from_events(events: Iterable[np.ndarray[Any, Any]],
                               instruments: Sequence[Instrument],
                               depth_stream: str = "depth@100ms") -> list[MarketFrame]:
    """Re-encode engine events (of any venue's recording, e.g. ``Replay``) as Binance
    ``depthUpdate`` and ``trade`` messages of ``instruments`` (same order as the events'
    instrument indices).  A snapshot becomes the diff from the previous book."""
    books: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
    seq: dict[int, int] = {}
    frames: list[MarketFrame] = []
    trade_ids = itertools.count(1)
    pending: dict[int, dict[str, Any]] = {}

    def flush(ts: int) -> None:
        for i, m in pending.items():
            inst = instruments[i]
            bids, asks = books.setdefault(i, ({}, {}))
            if m["clear"]:
                new_b, new_a = m["snap"]
                changes = []
                for side, old, new in ((0, bids, new_b), (1, asks, new_a)):
                    for px in list(old):
                        if px not in new:
                            changes.append((side, px, 0))
                    for px, q in new.items():
                        if old.get(px) != q:
                            changes.append((side, px, q))
                    old.clear()
                    old.update(new)
            else:
                changes = []
                for side, px, q in m["deltas"]:
                    book = bids if side == 0 else asks
                    if q:
                        book[px] = q
                    else:
                        book.pop(px, None)
                    changes.append((side, px, q))
            if changes:
                first = seq.get(i, 0) + 1
                last = first + len(changes) - 1
                seq[i] = last
                pd, sd = inst.price_decimals, inst.size_decimals
                b = [(format_fixed(px, pd), format_fixed(q, sd)) for s, px, q in changes if s == 0]
                a = [(format_fixed(px, pd), format_fixed(q, sd)) for s, px, q in changes if s == 1]
                ms = m["exch"] // 1_000_000
                stream = f"{inst.symbol.lower()}@{depth_stream}"
                data = {"e": "depthUpdate", "E": ms, "s": inst.symbol, "U": first, "u": last,
                        "b": [list(x) for x in b], "a": [list(x) for x in a]}
                frames.append(MarketFrame(ts, inst.symbol, stream,
                                          orjson.dumps({"stream": stream, "data": data}),
                                          b, a, first, last))
            for px, q, side, exch in m["trades"]:
                ms = exch // 1_000_000
                stream = f"{inst.symbol.lower()}@trade"
                data = {"e": "trade", "E": ms, "s": inst.symbol, "t": next(trade_ids),
                        "p": format_fixed(px, inst.price_decimals),
                        "q": format_fixed(q, inst.size_decimals), "T": ms, "m": side == 1,
                        "M": True}
                frames.append(MarketFrame(ts, inst.symbol, stream,
                                          orjson.dumps({"stream": stream, "data": data})))
        pending.clear()

    for arr in events:
        for e in arr:
            kind = int(e["kind"])
            i = int(e["instrument"])
            if i >= len(instruments):
                continue
            m = pending.get(i)
            if m is None:
                m = pending[i] = {"clear": False, "snap": ({}, {}), "deltas": [], "trades": [],
                                  "exch": int(e["exchange_ts"]) or int(e["local_ts"])}
            flags = int(e["flags"])
            if kind == EV_DELTA and not flags & 8:          # BBO rows (clear-side) are skipped
                side, px, q = int(e["side"]), int(e["price"]), int(e["size"])
                if flags & 2:
                    m["clear"] = True
                    m["snap"] = ({}, {})
                if m["clear"]:
                    if q:
                        m["snap"][side][px] = q
                else:
                    m["deltas"].append((side, px, q))
            elif kind == EV_TRADE:
                m["trades"].append((int(e["price"]), int(e["size"]), int(e["side"]),
                                    int(e["exchange_ts"]) or int(e["local_ts"])))
            if flags & EVENT_LAST:
                flush(int(e["local_ts"]))
    return frames


class _BnMarket(_ServerListener):
    def __init__(self, server: BinanceLoopback, path: str) -> None:
        super().__init__(server, path)
        q = urllib.parse.urlsplit(path)
        qs = urllib.parse.parse_qs(q.query)
        names = qs.get("streams", [""])[0]
        if q.path.startswith("/ws/"):
            names = q.path[4:]
        self.streams = {s for s in names.split("/") if s}

    def connected(self) -> None:
        if self.server.start_on_subscribe:
            self.server.start_replay()

    def wants(self, frame: MarketFrame) -> bool:
        return frame.stream in self.streams

    def on_text(self, data: bytes) -> None:
        try:
            req = orjson.loads(data)
            method, params, rid = req["method"], req.get("params", []), req.get("id")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(b'{"error":{"code":2,"msg":"Invalid request"}}')
            return
        if method == "SUBSCRIBE":
            self.streams.update(params)
        elif method == "UNSUBSCRIBE":
            self.streams.difference_update(params)
        self.send(orjson.dumps({"result": None, "id": rid}))


class _BnApi(_ServerListener):
    server: BinanceLoopback

    def __init__(self, server: BinanceLoopback, path: str) -> None:
        super().__init__(server, path)
        self.logged_on = False
        self.subscription: int | None = None

    def on_text(self, data: bytes) -> None:
        self.server._api_request(self, data)


class BinanceLoopback(LoopbackServer):
    """Binance spot on 127.0.0.1: the combined stream (``/stream?streams=``), the WebSocket
    API (``/ws-api/v3``: ``session.logon``, ``userDataStream.subscribe[.signature]``,
    ``order.place``, ``order.cancel``, ``order.cancelReplace``, ``order.status``,
    ``openOrders.status``, ``myTrades``) and REST (``/api/v3/depth``, ``/api/v3/order``).

    Parameters
    ----------
    instruments : sequence of Instrument
    recording : path or paths, optional
        Binance recordings replayed byte for byte (their REST snapshots seed the books).
    frames : sequence of MarketFrame, optional
        Market data to replay instead (e.g. :func:`binance_frames_from_events`).
    api_key : str
        The account's API key.
    api_secret : str, optional
        HMAC secret of the account (HMAC-signed requests).
    ed25519_public_key : Ed25519PublicKey or PEM, optional
        Public key of the account (Ed25519-signed requests and ``session.logon``).
    **kwargs
        Of :class:`LoopbackServer` (``speed``, ``manual``, ``order_limit``).
    """

    venue = "binance"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path] | None = None,
                 frames: Sequence[MarketFrame] | None = None, *, api_key: str = "loopback",
                 api_secret: str | None = None,
                 ed25519_public_key: Ed25519PublicKey | bytes | str | None = None,
                 **kwargs: Any) -> None:
        snaps: dict[str, bytes] = {}
        if recording is not None:
            rec_frames, snaps = binance_frames_from_recording(recording)
            frames = list(frames or []) + rec_frames
        super().__init__(instruments, frames or [], **kwargs)
        self.snapshots = snaps
        self.api_key = api_key
        self.api_secret = api_secret
        if isinstance(ed25519_public_key, str | bytes):
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
            data = ed25519_public_key.encode() if isinstance(ed25519_public_key, str) \
                else ed25519_public_key
            key = load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("ed25519_public_key: not an Ed25519 public key")
            ed25519_public_key = key
        self.ed25519_public_key = ed25519_public_key
        self._subs = itertools.count(0)
        self._held: list[tuple[_ServerListener, bytes]] | None = None
        self.requests_seen: list[str] = []

    def on_start(self) -> None:
        first_u: dict[str, int] = {}
        for f in self.frames:
            if f.bids is not None and f.symbol not in first_u:
                first_u[f.symbol] = f.first
        ts = time.time_ns()
        for inst in self.instruments:
            sym = inst.symbol
            body = self.snapshots.get(sym)
            book = self.books[sym]
            if body is not None:
                snap = orjson.loads(body)
                book.set(snap["bids"], snap["asks"], int(snap["lastUpdateId"]))
            else:
                book.set((), (), first_u.get(sym, 1) - 1)
                body = orjson.dumps({"lastUpdateId": book.last, "bids": [], "asks": []})
            self.matcher.rest(f"{self.rest_url}/api/v3/depth?symbol={sym}", body, ts)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/stream") or path.startswith("/ws/"):
            return _BnMarket(self, path)
        if path.startswith("/ws-api/v3"):
            return _BnApi(self, path)
        return None

    def malformed_frame(self, f: MarketFrame) -> bytes:
        return b'{"stream":"' + f.stream.encode() + b'","data":{"e":"depthUpdate","E":'

    # -- REST ------------------------------------------------------------------------------------
    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/depth", self._rest_depth)
        app.router.add_get("/api/v3/time", self._rest_time)
        app.router.add_route("*", "/api/v3/order", self._rest_order)

    def snapshot(self, symbol: str, limit: int = 1000) -> bytes:
        """The REST depth snapshot of ``symbol`` as the stream has left it."""
        book = self.books[symbol]
        bids, asks = book.top(limit)
        self.stats["snapshots"] += 1
        return orjson.dumps({"lastUpdateId": book.last, "bids": bids, "asks": asks})

    async def _rest_depth(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol", "")
        if sym not in self.books:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            limit = 100
        return web.Response(body=self.snapshot(sym, limit), content_type="application/json")

    async def _rest_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": time.time_ns() // 1_000_000})

    async def _rest_order(self, request: web.Request) -> web.Response:
        query = request.rel_url.raw_query_string
        body = (await request.read()).decode()
        signed = query + body
        params = dict(urllib.parse.parse_qsl(signed, keep_blank_values=True))
        sig = params.pop("signature", "")
        payload = signed.rsplit("&signature=", 1)[0] if "&signature=" in signed else signed
        self.stats["requests"] += 1
        try:
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                raise _BnError(-2015, 401)
            self._check_signature(payload, urllib.parse.unquote(sig), params)
            if request.method == "DELETE":
                result = self._cancel(params)
            elif request.method == "POST":
                result = self._place(params)
            elif request.method == "GET":
                result = self._status(params)
            else:
                raise _BnError(-1000)
        except _BnError as exc:
            return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)
        return web.json_response(result)

    # -- signatures ------------------------------------------------------------------------------
    def _check_signature(self, payload: str, sig: str, params: dict[str, Any]) -> None:
        if self.faults.reject_signature or not sig:
            self.stats["bad_signatures"] += 1
            raise _BnError(-1022)
        ts = params.get("timestamp")
        try:
            ts_ms = int(ts)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _BnError(-1102, name="timestamp") from None
        window = float(params.get("recvWindow", 5000) or 5000)
        if abs(time.time() * 1000 - ts_ms) > window:
            raise _BnError(-1021)
        if len(sig) == 64 and self.api_secret is not None:
            want = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256)
            if hmac.compare_digest(want.hexdigest(), sig.lower()):
                return
        elif self.ed25519_public_key is not None:
            try:
                self.ed25519_public_key.verify(base64.b64decode(sig), payload.encode())
                return
            except (InvalidSignature, ValueError):
                pass
        self.stats["bad_signatures"] += 1
        raise _BnError(-1022)

    # -- the WebSocket API -----------------------------------------------------------------------
    def _rate_limits(self) -> list[dict[str, Any]]:
        limit, window = self.order_limit
        return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": int(window),
                 "limit": limit, "count": self.orders_in_window()}]

    def _api_request(self, conn: _BnApi, data: bytes) -> None:
        self.stats["requests"] += 1
        try:
            req = orjson.loads(data)
            rid = req.get("id")
            method = req["method"]
            params = dict(req.get("params") or {})
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            conn.send(orjson.dumps({"id": None, "status": 400,
                                    "error": {"code": -1000, "msg": "Malformed request."}}))
            return
        self.requests_seen.append(method)
        held: list[tuple[_ServerListener, bytes]] | None = \
            [] if self.faults.reports_after_answers else None
        self._held = held
        try:
            result = self._dispatch(conn, method, params)
        except _BnError as exc:
            err: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
            if exc.data is not None:
                err["data"] = exc.data
            resp = {"id": rid, "status": exc.status, "error": err,
                    "rateLimits": self._rate_limits()}
            conn.send(orjson.dumps(resp))
            self._flush_held(held)
            return
        if result is _NO_ANSWER:
            self._flush_held(held)
            return
        resp = {"id": rid, "status": 200, "result": result, "rateLimits": self._rate_limits()}
        out = orjson.dumps(resp)
        if method in ("order.place", "order.cancelReplace") and self.faults.ack_delay > 0:
            self.later(self.faults.ack_delay, lambda: conn.send(out))   # held back (fault)
            self._flush_held(held)
            return
        conn.send(out)
        self._flush_held(held)

    def _flush_held(self, held: list[tuple[_ServerListener, bytes]] | None) -> None:
        self._held = None
        for c, msg in held or ():
            c.send(msg)

    def _authorized(self, conn: _BnApi, params: dict[str, Any], method: str) -> None:
        if conn.logged_on and "signature" not in params:
            if "timestamp" not in params:
                raise _BnError(-1102, name="timestamp")
            return
        if params.get("apiKey") != self.api_key:
            raise _BnError(-2015, 401)
        sig = params.get("signature", "")
        self._check_signature(signature_payload(params), str(sig), params)

    def _dispatch(self, conn: _BnApi, method: str, params: dict[str, Any]) -> Any:
        if method == "session.logon":
            if self.ed25519_public_key is None:
                raise _BnError(-1022)
            if params.get("apiKey") != self.api_key:
                raise _BnError(-2015, 401)
            self._check_signature(signature_payload(params), str(params.get("signature", "")),
                                  params)
            if len(str(params.get("signature", ""))) == 64:   # HMAC keys cannot log on
                raise _BnError(-1022)
            conn.logged_on = True
            now = time.time_ns() // 1_000_000
            return {"apiKey": self.api_key, "authorizedSince": now, "connectedSince": now,
                    "returnRateLimits": True, "serverTime": now}
        if method == "userDataStream.subscribe":
            if not conn.logged_on:
                raise _BnError(-2015, 401)
            conn.subscription = next(self._subs)
            return {"subscriptionId": conn.subscription}
        if method == "userDataStream.subscribe.signature":
            self._authorized(conn, params, method)
            conn.subscription = next(self._subs)
            return {"subscriptionId": conn.subscription}
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": time.time_ns() // 1_000_000}
        self._authorized(conn, params, method)
        if method == "order.place":
            return self._place(params)
        if method == "order.cancel":
            return self._cancel(params)
        if method == "order.cancelReplace":
            return self._cancel_replace(params)
        if method == "order.status":
            return self._status(params)
        if method == "openOrders.status":
            sym = params.get("symbol")
            return [self._order_json(o) for o in self.open_orders(sym)]
        if method == "myTrades":
            return self._my_trades(params)
        raise _BnError(-1000)

    def _inst(self, params: dict[str, Any]) -> Instrument:
        sym = params.get("symbol")
        if sym not in self.index:
            raise _BnError(-1121)
        return self.instruments[self.index[sym]]

    def _place(self, params: dict[str, Any]) -> Any:
        inst = self._inst(params)
        side = params.get("side")
        if side not in ("BUY", "SELL"):
            raise _BnError(-1102, name="side")
        type_ = params.get("type", "")
        tif = params.get("timeInForce", "")
        cid = str(params.get("newClientOrderId") or f"srv{next(self._handles)}")
        try:
            qty = inst.qty(str(params.get("quantity", "")))
            price = inst.price(str(params["price"])) if "price" in params else 0
        except (ValueError, KeyError):
            raise _BnError(-1013, name="LOT_SIZE/PRICE_FILTER") from None
        if qty <= 0:
            raise _BnError(-1013, name="LOT_SIZE")
        flags = 0
        if type_ == "MARKET":
            flags |= SO_MARKET
        elif type_ == "LIMIT_MAKER":
            flags |= SO_POST_ONLY
        elif type_ == "LIMIT":
            if tif not in ("GTC", "IOC", "FOK") or price <= 0:
                raise _BnError(-1102, name="timeInForce" if price > 0 else "price")
            flags |= SO_IOC if tif == "IOC" else SO_FOK if tif == "FOK" else 0
        else:
            raise _BnError(-1102, name="type")
        old = self.by_cid.get(cid)
        if old is not None and old.status in ("NEW", "PARTIALLY_FILLED"):
            raise _BnError(-1000)     # duplicate clientOrderId among open orders
        if not self._rate_ok():
            limit, window = self.order_limit
            raise _BnError(-1015, 429, limit=limit, window=int(window))
        o = self.new_order(cid, inst, 0 if side == "BUY" else 1, type_, tif, price, qty, flags)
        if o.status == "REJECTED":
            raise _BnError(-2010)
        if o.hidden_ack:
            return _NO_ANSWER
        return {"symbol": inst.symbol, "orderId": o.order_id, "orderListId": -1,
                "clientOrderId": cid, "transactTime": o.time_ms}

    def _find(self, params: dict[str, Any], key: str = "origClientOrderId") -> _SOrder:
        cid = params.get(key)
        oid = params.get("orderId")
        o = self.by_cid.get(str(cid)) if cid is not None else None
        if o is None and oid is not None:
            o = next((x for x in self.orders.values() if x.order_id == oid), None)
        if o is None:
            raise _BnError(-2013)
        return o

    def _cancel(self, params: dict[str, Any], new_cid: str | None = None) -> dict[str, Any]:
        self._inst(params)
        try:
            o = self._find(params)
        except _BnError:
            raise _BnError(-2011) from None
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _BnError(-2011)
        o.cancel_cid = new_cid or str(params.get("newClientOrderId") or f"cxl{o.order_id}")
        self.cancel_order(o)
        if o.status != "CANCELED":
            raise _BnError(-2011)
        out = self._order_json(o)
        out["origClientOrderId"] = o.cid
        out["clientOrderId"] = o.cancel_cid
        return out

    def _cancel_replace(self, params: dict[str, Any]) -> Any:
        cancel_params = {"symbol": params.get("symbol"),
                         "origClientOrderId": params.get("cancelOrigClientOrderId")}
        try:
            cancel = self._cancel(cancel_params, params.get("cancelNewClientOrderId"))
        except _BnError as exc:
            raise _BnError(-2022, 400, data={
                "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": {"code": exc.code, "msg": exc.msg},
                "newOrderResponse": None}) from None
        try:
            new = self._place(params)
        except _BnError as exc:
            raise _BnError(-2021, 409, data={
                "cancelResult": "SUCCESS", "newOrderResult": "FAILURE",
                "cancelResponse": cancel,
                "newOrderResponse": {"code": exc.code, "msg": exc.msg}}) from None
        if new is _NO_ANSWER:
            return _NO_ANSWER
        return {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                "cancelResponse": cancel, "newOrderResponse": new}

    def _order_json(self, o: _SOrder) -> dict[str, Any]:
        inst = o.inst
        return {"symbol": inst.symbol, "orderId": o.order_id, "orderListId": -1,
                "clientOrderId": o.cid, "price": format_fixed(o.price, inst.price_decimals),
                "origQty": format_fixed(o.qty, inst.size_decimals),
                "executedQty": format_fixed(o.filled, inst.size_decimals),
                "cummulativeQuoteQty": str(o.quote), "status": o.status,
                "timeInForce": o.tif or "GTC", "type": o.type,
                "side": "BUY" if o.side == 0 else "SELL", "time": o.time_ms,
                "updateTime": time.time_ns() // 1_000_000, "isWorking": True}

    def _status(self, params: dict[str, Any]) -> dict[str, Any]:
        self._inst(params)
        o = self._find(params)
        if o.status == "REJECTED":
            raise _BnError(-2013)
        return self._order_json(o)

    def _my_trades(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        inst = self._inst(params)
        oid = params.get("orderId")
        out = []
        for o in self.orders.values():
            if o.inst.symbol == inst.symbol and (oid is None or o.order_id == oid):
                out.extend(o.trades)
        return out

    # -- private reports -------------------------------------------------------------------------
    def _subscribers(self) -> list[_BnApi]:
        return [c for c in self._clients if isinstance(c, _BnApi) and c.subscription is not None]

    def _report(self, o: _SOrder, x: str, *, last_qty: int = 0, last_px: int = 0,
                trade_id: int = -1, maker: bool = False) -> None:
        inst = o.inst
        now = time.time_ns() // 1_000_000
        ev = {"e": "executionReport", "E": now, "s": inst.symbol,
              "c": o.cancel_cid if x == "CANCELED" else o.cid,
              "S": "BUY" if o.side == 0 else "SELL", "o": o.type, "f": o.tif or "GTC",
              "q": format_fixed(o.qty, inst.size_decimals),
              "p": format_fixed(o.price, inst.price_decimals), "P": "0.00000000",
              "F": "0.00000000", "g": -1, "C": o.cid if x == "CANCELED" else "",
              "x": x, "X": o.status, "r": "NONE", "i": o.order_id,
              "l": format_fixed(last_qty, inst.size_decimals),
              "z": format_fixed(o.filled, inst.size_decimals),
              "L": format_fixed(last_px, inst.price_decimals), "n": "0", "N": None,
              "T": now, "t": trade_id, "I": o.order_id, "w": o.status == "NEW", "m": maker,
              "M": False, "O": o.time_ms, "Z": str(o.quote), "Y": "0", "Q": "0",
              "W": o.time_ms, "V": "NONE"}
        if x == "TRADE" and inst.quote:
            ev["n"] = "0"
            ev["N"] = inst.quote
        for c in self._subscribers():
            msg = orjson.dumps({"subscriptionId": c.subscription, "event": ev})
            n = 2 if x == "TRADE" and self.faults.duplicate_fills else 1
            for _ in range(n):
                if self._held is not None:
                    self._held.append((c, msg))
                else:
                    c.send(msg)

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        if kind == RSP_ACK:
            if o.hidden_ack:
                return
            self.later(self.faults.ack_delay, lambda: self._report(o, "NEW"))
        elif kind == RSP_FILL:
            tid = next(self._trade_ids)
            inst = o.inst
            o.trades.append({"symbol": inst.symbol, "id": tid, "orderId": o.order_id,
                             "orderListId": -1,
                             "price": format_fixed(price, inst.price_decimals),
                             "qty": format_fixed(qty, inst.size_decimals),
                             "quoteQty": str(Decimal(format_fixed(price, inst.price_decimals)) *
                                             Decimal(format_fixed(qty, inst.size_decimals))),
                             "commission": "0", "commissionAsset": inst.quote or "USDT",
                             "time": time.time_ns() // 1_000_000, "isBuyer": o.side == 0,
                             "isMaker": aux == 0, "isBestMatch": True})
            self._report(o, "TRADE", last_qty=qty, last_px=price, trade_id=tid, maker=aux == 0)
        elif kind == RSP_CANCELED:
            self._report(o, "CANCELED")
        elif kind == RSP_EXPIRED:
            self._report(o, "EXPIRED")


class _NoAnswer:
    pass


_NO_ANSWER: Any = _NoAnswer()


# -- Binance USDⓈ-M futures ---------------------------------------------------------------------

_BN_ERRORS.update({
    -1125: "This listenKey does not exist.",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be "
           "rejected.",
    -4028: "Quantity is less than or equal to the executed quantity.",
})


class _BnUserStream(_ServerListener):
    """A futures user data stream (``/ws/<listenKey>``): ORDER_TRADE_UPDATE events."""

    def __init__(self, server: BinanceFuturesLoopback, path: str, key: str) -> None:
        super().__init__(server, path)
        self.key = key


class BinanceFuturesLoopback(BinanceLoopback):
    """Binance USDⓈ-M futures on 127.0.0.1: the combined stream (``/stream?streams=``, futures
    ``depthUpdate`` with ``pu``), the futures WebSocket API (``/ws-fapi/v1``:
    ``session.logon``, ``order.place`` (``GTX`` = post-only), ``order.cancel``,
    ``order.modify``, ``order.status``), user data streams (``POST/PUT/DELETE
    /fapi/v1/listenKey``, then ``/ws/<listenKey>`` with ``ORDER_TRADE_UPDATE``) and signed REST
    (``/fapi/v1/depth``, ``/fapi/v1/order``, ``/fapi/v1/openOrders``, ``/fapi/v1/userTrades``).
    Parameters as :class:`BinanceLoopback` (``recording``: futures recordings).

    With no recorded snapshot, a symbol's first REST snapshot says ``lastUpdateId`` = the
    first diff's ``U`` (the futures bridge needs ``U <= lastUpdateId <= u``)."""

    venue = "binance_futures"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path] | None = None,
                 frames: Sequence[MarketFrame] | None = None, **kwargs: Any) -> None:
        super().__init__(instruments, recording, frames, **kwargs)
        self.listen_keys: dict[str, int] = {}          # key -> keep-alives
        self._amending: set[int] = set()               # handles re-placed by order.modify
        self.stats.update(listen_keys=0, keepalives=0, modifies=0)

    def on_start(self) -> None:
        first: dict[str, int] = {}
        for f in self.frames:
            if f.bids is not None and f.symbol not in first:
                first[f.symbol] = f.first
        ts = time.time_ns()
        for inst in self.instruments:
            sym = inst.symbol
            body = self.snapshots.get(sym)
            book = self.books[sym]
            if body is not None:
                snap = orjson.loads(body)
                book.set(snap["bids"], snap["asks"], int(snap["lastUpdateId"]))
            else:
                book.set((), (), first.get(sym, 1))
                body = self.snapshot(sym)
                self.stats["snapshots"] -= 1
            self.matcher.rest(f"{self.rest_url}/fapi/v1/depth?symbol={sym}", body, ts)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/ws/"):
            key = path[4:].split("?", 1)[0]
            if key in self.listen_keys:
                return _BnUserStream(self, path, key)
        if path.startswith("/ws-fapi/v1"):
            return _BnApi(self, path)
        if path.startswith("/ws-api"):
            return None
        return super().listener_for(path)

    def malformed_frame(self, f: MarketFrame) -> bytes:
        return b'{"stream":"' + f.stream.encode() + b'","data":{"e":"depthUpdate","E":1,"T":'

    # -- REST ------------------------------------------------------------------------------------
    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/fapi/v1/depth", self._rest_depth)
        app.router.add_get("/fapi/v1/time", self._rest_time)
        app.router.add_route("*", "/fapi/v1/order", self._rest_order)
        app.router.add_route("*", "/fapi/v1/listenKey", self._rest_listen_key)
        app.router.add_get("/fapi/v1/openOrders", self._rest_open_orders)
        app.router.add_get("/fapi/v1/userTrades", self._rest_user_trades)

    def snapshot(self, symbol: str, limit: int = 1000) -> bytes:
        """The ``GET /fapi/v1/depth`` body of ``symbol`` as the stream has left it."""
        book = self.books[symbol]
        bids, asks = book.top(limit)
        self.stats["snapshots"] += 1
        now = time.time_ns() // 1_000_000
        return orjson.dumps({"lastUpdateId": book.last, "E": now, "T": now, "bids": bids,
                             "asks": asks})

    async def _rest_listen_key(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return web.json_response({"code": -2015, "msg": _BN_ERRORS[-2015]}, status=401)
        if request.method == "POST":
            key = next(iter(self.listen_keys), "") or base64.b32encode(
                hashlib.sha256(f"{self.api_key}{time.time_ns()}".encode()).digest()
            ).decode().rstrip("=")
            self.listen_keys.setdefault(key, 0)
            self.stats["listen_keys"] += 1
            return web.json_response({"listenKey": key})
        if request.method == "PUT":
            if not self.listen_keys:
                return web.json_response({"code": -1125, "msg": _BN_ERRORS[-1125]}, status=400)
            for k in self.listen_keys:
                self.listen_keys[k] += 1
            self.stats["keepalives"] += 1
            return web.json_response({})
        if request.method == "DELETE":
            self.expire_listen_keys()
            return web.json_response({})
        return web.json_response({"code": -1000, "msg": _BN_ERRORS[-1000]}, status=400)

    def send_user(self, data: bytes) -> int:
        """Send ``data`` as is on every user data stream (a test's own event); returns how
        many streams got it."""
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        streams = [c for c in self._clients if isinstance(c, _BnUserStream)]
        for c in streams:
            c.send(data)
        return len(streams)

    def expire_listen_keys(self) -> int:
        """Expire every listen key: ``listenKeyExpired`` on their streams, which then close."""
        now = time.time_ns() // 1_000_000
        n = 0
        for c in list(self._clients):
            if isinstance(c, _BnUserStream):
                c.send(orjson.dumps({"e": "listenKeyExpired", "E": now, "listenKey": c.key}))
                if c.transport is not None:
                    c.transport.disconnect(False)
                n += 1
        self.listen_keys.clear()
        return n

    async def _rest_signed_params(self, request: web.Request) -> dict[str, Any]:
        query = request.rel_url.raw_query_string
        body = (await request.read()).decode()
        signed = query + body
        params = dict(urllib.parse.parse_qsl(signed, keep_blank_values=True))
        sig = params.pop("signature", "")
        payload = signed.rsplit("&signature=", 1)[0] if "&signature=" in signed else signed
        self.stats["requests"] += 1
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise _BnError(-2015, 401)
        self._check_signature(payload, urllib.parse.unquote(sig), params)
        return params

    async def _rest_open_orders(self, request: web.Request) -> web.Response:
        try:
            params = await self._rest_signed_params(request)
            if "symbol" in params:
                self._inst(params)
        except _BnError as exc:
            return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)
        return web.json_response([self._order_json(o)
                                  for o in self.open_orders(params.get("symbol"))])

    async def _rest_user_trades(self, request: web.Request) -> web.Response:
        try:
            params = await self._rest_signed_params(request)
            if "orderId" in params:
                params["orderId"] = int(params["orderId"])
            trades = self._my_trades(params)
        except ValueError:
            return web.json_response({"code": -1102, "msg": "orderId"}, status=400)
        except _BnError as exc:
            return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)
        # the futures shape: "maker" / "buyer" (spot says "isMaker" / "isBuyer")
        out = [{"symbol": t["symbol"], "id": t["id"], "orderId": t["orderId"],
                "side": "BUY" if t["isBuyer"] else "SELL", "price": t["price"], "qty": t["qty"],
                "realizedPnl": "0", "quoteQty": t["quoteQty"], "commission": t["commission"],
                "commissionAsset": t["commissionAsset"], "time": t["time"],
                "positionSide": "BOTH", "buyer": t["isBuyer"], "maker": t["isMaker"]}
               for t in trades]
        return web.json_response(out)

    # -- the WebSocket API -----------------------------------------------------------------------
    def _rate_limits(self) -> list[dict[str, Any]]:
        limit, window = self.order_limit
        return [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": int(window),
                 "limit": limit, "count": self.orders_in_window()}]

    def _dispatch(self, conn: _BnApi, method: str, params: dict[str, Any]) -> Any:
        if method in ("order.cancelReplace", "userDataStream.subscribe",
                      "userDataStream.subscribe.signature", "openOrders.status", "myTrades"):
            raise _BnError(-1000)                       # spot methods
        if method == "order.modify":
            self._authorized(conn, params, method)
            return self._modify(params)
        return super()._dispatch(conn, method, params)

    def _place(self, params: dict[str, Any]) -> Any:
        p = dict(params)
        if p.get("type") == "LIMIT_MAKER":
            raise _BnError(-1102, name="type")
        if p.get("type") == "LIMIT" and p.get("timeInForce") == "GTX":
            p["type"] = "LIMIT_MAKER"                   # post-only in the shared matcher
            p.pop("timeInForce")
        try:
            res = super()._place(p)
        except _BnError as exc:
            if exc.code == -2010:
                raise _BnError(-5022) from None
            raise
        if res is _NO_ANSWER:
            return res
        return self._order_json(self.by_cid[res["clientOrderId"]])

    def _modify(self, params: dict[str, Any]) -> Any:
        inst = self._inst(params)
        o = self._find(params)
        if o.status not in ("NEW", "PARTIALLY_FILLED") or o.type not in ("LIMIT", "LIMIT_MAKER"):
            raise _BnError(-2013)
        if params.get("side") != ("BUY" if o.side == 0 else "SELL"):
            raise _BnError(-1102, name="side")
        try:
            qty = inst.qty(str(params.get("quantity", "")))
            price = inst.price(str(params["price"]))
        except (ValueError, KeyError):
            raise _BnError(-1013, name="LOT_SIZE/PRICE_FILTER") from None
        if price <= 0:
            raise _BnError(-1013, name="PRICE_FILTER")
        if qty <= o.filled:
            raise _BnError(-4028)
        if not self._rate_ok():
            limit, window = self.order_limit
            raise _BnError(-1015, 429, limit=limit, window=int(window))
        self.stats["modifies"] += 1
        # the same order, re-placed in the matcher with its new price and what is left
        self._quiet.add(o.handle)
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        del self.orders[o.handle]
        o.handle = next(self._handles)
        o.price, o.qty = price, qty
        self.orders[o.handle] = o
        self._amending.add(o.handle)
        o.slot = self.matcher.submit(o.handle, o.index, o.side, price, qty - o.filled, o.flags)
        return self._order_json(o)

    def _order_json(self, o: _SOrder) -> dict[str, Any]:
        out = super()._order_json(o)
        if o.type == "LIMIT_MAKER":
            out["type"], out["timeInForce"] = "LIMIT", "GTX"
        out.pop("orderListId", None)
        out.pop("cummulativeQuoteQty", None)
        out.pop("isWorking", None)
        out.update(avgPrice="0", cumQuote=str(o.quote), reduceOnly=False, positionSide="BOTH",
                   origType=out["type"])
        return out

    # -- private reports -------------------------------------------------------------------------
    def _report(self, o: _SOrder, x: str, *, last_qty: int = 0, last_px: int = 0,
                trade_id: int = -1, maker: bool = False) -> None:
        inst = o.inst
        now = time.time_ns() // 1_000_000
        typ, tif = ("LIMIT", "GTX") if o.type == "LIMIT_MAKER" else (o.type, o.tif or "GTC")
        ev = {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
            "s": inst.symbol, "c": o.cid, "S": "BUY" if o.side == 0 else "SELL", "o": typ,
            "f": tif, "q": format_fixed(o.qty, inst.size_decimals),
            "p": format_fixed(o.price, inst.price_decimals), "ap": "0", "sp": "0", "x": x,
            "X": o.status, "i": o.order_id, "l": format_fixed(last_qty, inst.size_decimals),
            "z": format_fixed(o.filled, inst.size_decimals),
            "L": format_fixed(last_px, inst.price_decimals), "N": inst.quote or "USDT",
            "n": "0", "T": now, "t": trade_id if x == "TRADE" else 0, "b": "0", "a": "0",
            "m": maker, "R": False, "wt": "CONTRACT_PRICE", "ot": typ, "ps": "BOTH",
            "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE",
            "gtd": 0}}
        msg = orjson.dumps(ev)
        n = 2 if x == "TRADE" and self.faults.duplicate_fills else 1
        for c in [c for c in self._clients if isinstance(c, _BnUserStream)]:
            for _ in range(n):
                if self._held is not None:
                    self._held.append((c, msg))
                else:
                    c.send(msg)

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        if kind == RSP_ACK and o.handle in self._amending:
            self._amending.discard(o.handle)
            self._report(o, "AMENDMENT")
            return
        super().on_order_event(o, kind, price, qty, aux, ts)



# -- Kraken ---------------------------------------------------------------------------------------

_KR_CHECKSUM = re.compile(rb'"c":"(\d+)"')


def _kr_levels(d: dict[str, Any], *keys: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in keys:
        out.extend((lv[0], lv[1]) for lv in d.get(k, ()))
    return out


def received_lines(paths: str | Path | Sequence[str | Path]) -> Iterator[tuple[int, bytes]]:
    """``(receive time in ns, payload)`` of every received-message line (``<ts>: <payload>``)
    of recordings (plain or compressed), file by file in file order; other lines are skipped."""
    plist = [paths] if isinstance(paths, str | Path) else list(paths)
    for p in plist:
        with open_recording(p) as fh:
            for raw in fh:
                line = raw.rstrip(b"\r\n")
                if not line[:1].isdigit():
                    continue
                ts_text, _, body = line.partition(b": ")
                whole, _, frac = ts_text.partition(b".")
                yield int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9] or b"0"), body


def kraken_frames_from_recording(paths: str | Path | Sequence[str | Path]
                                 ) -> tuple[list[MarketFrame], dict[str, MarketFrame]]:
    """Kraken websocket v1 recordings -> update and trade frames, and the first book snapshot
    of each pair (which seeds the server's book instead of being replayed)."""
    frames: list[MarketFrame] = []
    snaps: dict[str, MarketFrame] = {}
    for ts, body in received_lines(paths):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, list) or len(obj) < 4 or not isinstance(obj[-2], str):
            continue
        pair, chan = obj[-1], obj[-2]
        dicts = [d for d in obj[1:-2] if isinstance(d, dict)]
        if chan.startswith("book-"):
            if any("as" in d or "bs" in d for d in dicts):
                if pair not in snaps:
                    bids = [x for d in dicts for x in _kr_levels(d, "bs")]
                    asks = [x for d in dicts for x in _kr_levels(d, "as")]
                    snaps[pair] = MarketFrame(ts, pair, "book", body, bids, asks)
                continue
            bids = [x for d in dicts for x in _kr_levels(d, "b")]
            asks = [x for d in dicts for x in _kr_levels(d, "a")]
            frames.append(MarketFrame(ts, pair, "book", body, bids, asks))
        elif chan == "trade":
            frames.append(MarketFrame(ts, pair, "trade", body))
    frames.sort(key=lambda f: f.ts)
    return frames, snaps


class _KrMarket(_ServerListener):
    server: KrakenLoopback

    def __init__(self, server: KrakenLoopback, path: str) -> None:
        super().__init__(server, path)
        self.subs: dict[str, set[str]] = {"book": set(), "trade": set()}

    def connected(self) -> None:
        self.send(orjson.dumps({"connectionID": 1, "event": "systemStatus",
                                "status": "online", "version": "1.9.0"}))

    def wants(self, frame: MarketFrame) -> bool:
        return frame.symbol in self.subs.get(frame.stream, ())

    def on_text(self, data: bytes) -> None:
        try:
            req = orjson.loads(data)
            event = req["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(b'{"event":"error","errorMessage":"Malformed request","status":"error"}')
            return
        if event == "ping":
            self.send(orjson.dumps({"event": "pong", "reqid": req.get("reqid")}))
            return
        sub = req.get("subscription") or {}
        name = sub.get("name")
        if event not in ("subscribe", "unsubscribe") or name not in ("book", "trade"):
            self.send(orjson.dumps({"event": "subscriptionStatus", "status": "error",
                                    "errorMessage": "Subscription name invalid"}))
            return
        depth = int(sub.get("depth", 10))
        for pair in req.get("pair", []):
            srv = self.server
            if pair not in srv.books:
                self.send(orjson.dumps({"event": "subscriptionStatus", "pair": pair,
                                        "status": "error",
                                        "errorMessage": "Currency pair not supported"}))
                continue
            chan_name = f"book-{depth}" if name == "book" else "trade"
            status = {"channelID": srv.channel_id(pair), "channelName": chan_name,
                      "event": "subscriptionStatus", "pair": pair,
                      "status": "subscribed" if event == "subscribe" else "unsubscribed",
                      "subscription": {"depth": depth, "name": name} if name == "book"
                      else {"name": name}}
            if event == "unsubscribe":
                self.subs[name].discard(pair)
                self.send(orjson.dumps(status))
                continue
            self.subs[name].add(pair)
            self.send(orjson.dumps(status))
            if name == "book":
                self.send(srv.snapshot(pair, depth))
        if event == "subscribe" and self.server.start_on_subscribe:
            self.server.start_replay()


class _KrPrivate(_ServerListener):
    """A client of the authenticated websocket v2 (``/v2``): orders and ``executions``."""

    server: KrakenLoopback

    def __init__(self, server: KrakenLoopback, path: str) -> None:
        super().__init__(server, path)
        self.executions = False
        self.seq = itertools.count(1)

    def on_text(self, data: bytes) -> None:
        self.server._kr_private(self, data)

    def executions_message(self, kind: str, rows: list[dict[str, Any]]) -> bytes:
        if self.server._kr_skip_seq:
            self.server._kr_skip_seq = False
            next(self.seq)
        return orjson.dumps({"channel": "executions", "type": kind, "data": rows,
                             "sequence": next(self.seq)})


_KR_V2_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}


def _kr_num(raw: int, decimals: int) -> orjson.Fragment:
    """An exact decimal JSON number (Kraken v2 sends prices and quantities as numbers)."""
    return orjson.Fragment(format_fixed(raw, decimals).encode())


def _kr_time() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000)) + \
        f".{t // 1000 % 1_000_000:06d}Z"


class KrakenLoopback(LoopbackServer):
    """Kraken on 127.0.0.1: websocket v1 market data - ``book`` (snapshot on subscribe,
    recorded updates with their checksums) and ``trade``, replayed from a recording - and, with
    ``api_secret``, spot order entry: the authenticated websocket v2 on path ``/v2``
    (``add_order`` / ``cancel_order`` / ``amend_order`` with a token, the ``executions``
    channel numbered by ``sequence``, ``ping``) and the signed REST endpoints
    ``/0/private/GetWebSocketsToken``, ``OpenOrders``, ``ClosedOrders`` and ``QueryTrades``,
    checked the way Kraken does (``API-Key``, ``API-Sign``, a growing nonce);
    :meth:`skip_executions_sequence` makes a gap.

    ``faults.corrupt_checksum`` changes the next checksum of a pair; ``faults.skip`` drops its
    next update (the next checksum then fails on the client, as Kraken has no sequence).
    """

    venue = "kraken"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path], *, api_key: str = "loopback",
                 api_secret: str | None = None, **kwargs: Any) -> None:
        if not isinstance(api_key, str):
            raise TypeError("api_key must be str")
        if api_secret is not None and not isinstance(api_secret, str):
            raise TypeError("api_secret must be str (base64) or None")
        frames, snaps = kraken_frames_from_recording(recording)
        super().__init__(instruments, frames, **kwargs)
        self.initial = snaps
        self._channels: dict[str, int] = {}
        self.api_key = api_key
        self.api_secret = api_secret
        self.tokens: set[str] = set()
        self._kr_nonce = 0
        self._kr_skip_seq = False
        self.requests: list[bytes] = []             # the private websocket's, as received
        self._kr_amending = False
        self._kr_v2 = {self._kr_symbol(i.symbol): i.symbol for i in self.instruments}

    @staticmethod
    def _kr_symbol(pair: str) -> str:
        base, sep, quote = pair.partition("/")
        return f"{_KR_V2_ASSETS.get(base, base)}{sep}{_KR_V2_ASSETS.get(quote, quote)}"

    def channel_id(self, pair: str) -> int:
        """The channel id of ``pair``'s book (stable for the server's life)."""
        return self._channels.setdefault(pair, 100 + len(self._channels))

    def on_start(self) -> None:
        ts = time.time_ns()
        for pair, f in self.initial.items():
            if pair in self.books:
                self.books[pair].set(f.bids or (), f.asks or (), 0)
                self.matcher.frame(f.payload, ts)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/v2"):
            return _KrPrivate(self, path)
        return _KrMarket(self, path)

    def snapshot(self, pair: str, depth: int) -> bytes:
        """A book snapshot of ``pair`` as the stream has left it (Kraken's format)."""
        bids, asks = self.books[pair].top(depth)
        stamp = f"{time.time():.6f}"
        self.stats["snapshots"] += 1
        return orjson.dumps([self.channel_id(pair),
                             {"as": [[p, q, stamp] for p, q in asks],
                              "bs": [[p, q, stamp] for p, q in bids]},
                             f"book-{depth}", pair])

    def before_send(self, f: MarketFrame) -> bytes | None:
        if f.bids is None:
            return f.payload
        book = self.books.get(f.symbol)
        if book is not None:
            book.apply(f.bids, f.asks or ())
        if f.symbol in self.faults.skip:
            self.faults.skip.discard(f.symbol)
            return None
        if f.symbol in self.faults.corrupt_checksum:
            m = _KR_CHECKSUM.search(f.payload)
            if m is not None:
                self.faults.corrupt_checksum.discard(f.symbol)
                bad = str((int(m.group(1)) + 1) % (1 << 32)).encode()
                return f.payload[:m.start(1)] + bad + f.payload[m.end(1):]
        return f.payload

    def malformed_frame(self, f: MarketFrame) -> bytes:
        return f.payload[: max(1, len(f.payload) // 2)]

    # -- order entry: websocket v2 ---------------------------------------------------------------
    @staticmethod
    def kr_order_id(o: _SOrder) -> str:
        """The Kraken-style order id (txid) of a loopback order."""
        return f"O{o.order_id:05d}-LOOPB-ACKSRV"

    def _kr_answer(self, conn: _KrPrivate, method: str, rid: Any, result: dict[str, Any] | None,
                   error: str = "") -> None:
        msg: dict[str, Any] = {"method": method}
        if rid is not None:
            msg["req_id"] = rid
        if error:
            msg["error"] = error
            msg["success"] = False
        else:
            msg["result"] = result or {}
            msg["success"] = True
        msg["time_in"] = msg["time_out"] = _kr_time()
        conn.send(orjson.dumps(msg))

    def _kr_private(self, conn: _KrPrivate, data: bytes) -> None:
        self.stats["requests"] += 1
        self.requests = [*self.requests[-99:], data]
        try:
            req = json.loads(data, parse_float=Decimal)
            method = req["method"]
            params = req.get("params") or {}
            rid = req.get("req_id")
            if not isinstance(params, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            conn.send(b'{"error":"EGeneral:Invalid arguments","success":false}')
            return
        if method == "ping":
            self.stats["pings"] += 1
            msg: dict[str, Any] = {"method": "pong", "time_in": _kr_time(),
                                   "time_out": _kr_time()}
            if rid is not None:
                msg["req_id"] = rid
            conn.send(orjson.dumps(msg))
            return
        if params.get("token") not in self.tokens or self.faults.reject_signature:
            self.stats["bad_signatures"] += 1
            self._kr_answer(conn, method, rid, None, "EAccount:Invalid permissions")
            return
        try:
            if method == "subscribe":
                if params.get("channel") != "executions":
                    raise ValueError("EGeneral:Invalid arguments:channel")
                conn.executions = True
                self._kr_answer(conn, method, rid, {"channel": "executions", "snapshot": True})
                rows = [self._kr_exec(o, "new") for o in self.open_orders()] \
                    if params.get("snap_orders", True) else []
                conn.send(conn.executions_message("snapshot", rows))
                return
            if method == "add_order":
                result = self._kr_add(params)
                if result is None:
                    return                   # never acknowledged (fault)
            elif method == "cancel_order":
                result = self._kr_cancel(params)
            elif method == "amend_order":
                result = self._kr_amend(params)
            else:
                raise ValueError(f"EGeneral:Unknown method {method}")
        except (ValueError, KeyError, ArithmeticError) as exc:
            text = str(exc).strip("'")
            self._kr_answer(conn, method, rid, None,
                            text if text.startswith("E") else f"EGeneral:Invalid arguments:{text}")
            return
        self._kr_answer(conn, method, rid, result)

    def _kr_find(self, params: dict[str, Any]) -> _SOrder:
        ids = params.get("cl_ord_id")
        oids = params.get("order_id")
        o = None
        if ids:
            o = self.by_cid.get(str(ids[0] if isinstance(ids, list) else ids))
        elif oids:
            want = str(oids[0] if isinstance(oids, list) else oids)
            o = next((x for x in self.by_cid.values() if self.kr_order_id(x) == want), None)
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ValueError("EOrder:Unknown order")
        return o

    def _kr_add(self, p: dict[str, Any]) -> dict[str, Any] | None:
        pair = self._kr_v2.get(str(p.get("symbol")))
        if pair is None:
            raise ValueError("EQuery:Unknown asset pair")
        inst = self.instruments[self.index[pair]]
        cl = str(p.get("cl_ord_id", ""))
        old = self.by_cid.get(cl)
        if old is not None and old.status in ("NEW", "PARTIALLY_FILLED"):
            raise ValueError("EOrder:Duplicate cl_ord_id")
        if not self._rate_ok():
            raise ValueError("EOrder:Rate limit exceeded")
        ot = p.get("order_type")
        if ot not in ("limit", "market"):
            raise ValueError("EOrder:Order type not supported here")
        if p.get("side") not in ("buy", "sell"):
            raise ValueError("EGeneral:Invalid arguments:side")
        tif = str(p.get("time_in_force", "gtc"))
        flags = (SO_MARKET if ot == "market" else SO_POST_ONLY if p.get("post_only")
                 else SO_IOC if tif == "ioc" else 0)
        price = inst.price(p["limit_price"]) if ot == "limit" else 0
        o = self.new_order(cl, inst, 0 if p["side"] == "buy" else 1, ot, tif, price,
                           inst.qty(p["order_qty"]), flags)
        if o.status == "REJECTED":
            raise ValueError("EOrder:Post only order")
        if o.hidden_ack:
            return None
        return {"order_id": self.kr_order_id(o), "cl_ord_id": cl}

    def _kr_cancel(self, p: dict[str, Any]) -> dict[str, Any]:
        o = self._kr_find(p)
        self.cancel_order(o)
        return {"order_id": self.kr_order_id(o), "cl_ord_id": o.cid}

    def _kr_amend(self, p: dict[str, Any]) -> dict[str, Any]:
        o = self._kr_find(p)
        inst = o.inst
        price = inst.price(p["limit_price"]) if "limit_price" in p else o.price
        qty = inst.qty(p["order_qty"]) if "order_qty" in p else o.qty
        if qty <= o.filled:                   # Kraken cancels what is left
            self.cancel_order(o)
            return {"amend_id": f"A{o.order_id}", "cl_ord_id": o.cid}
        self._quiet.add(o.handle)
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        del self.orders[o.handle]
        self._kr_amending = True
        try:
            n = self.new_order(o.cid, inst, o.side, o.type, o.tif, price, qty - o.filled,
                               o.flags)
        finally:
            self._kr_amending = False
        n.order_id = o.order_id                # the same order, amended in place
        for t in n.trades:                     # fills of the amended price, if it crossed
            t["ordertxid"] = self.kr_order_id(n)
        n.trades = o.trades + n.trades
        n.qty, n.filled, n.quote = qty, n.filled + o.filled, n.quote + o.quote
        if n.status in ("NEW", "PARTIALLY_FILLED"):
            n.status = "PARTIALLY_FILLED" if n.filled else "NEW"
        self._kr_push(self._kr_exec(n, "amended"))
        return {"amend_id": f"A{n.order_id}-{len(n.trades)}", "cl_ord_id": n.cid}

    def _kr_exec(self, o: _SOrder, exec_type: str, fill: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
        st = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
              "CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "canceled"}
        inst = o.inst
        d: dict[str, Any] = {
            "order_id": self.kr_order_id(o), "cl_ord_id": o.cid, "exec_type": exec_type,
            "order_status": st.get(o.status, "new"), "symbol": self._kr_symbol(inst.symbol),
            "side": "buy" if o.side == 0 else "sell", "order_type": o.type,
            "order_qty": _kr_num(o.qty, inst.size_decimals),
            "cum_qty": _kr_num(o.filled, inst.size_decimals), "time_in_force": o.tif.upper(),
            "timestamp": _kr_time()}
        if o.type == "limit":
            d["limit_price"] = _kr_num(o.price, inst.price_decimals)
        if fill is not None:
            d.update(fill)
        return d

    def _kr_push(self, d: dict[str, Any], times: int = 1) -> None:
        for c in list(self._clients):
            if isinstance(c, _KrPrivate) and c.executions:
                for _ in range(times):
                    c.send(c.executions_message("update", [d]))

    def skip_executions_sequence(self) -> None:
        """The next ``executions`` message skips a ``sequence`` number (a lost message)."""
        self._kr_skip_seq = True

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        inst = o.inst
        if kind == RSP_ACK:
            if not o.hidden_ack and not self._kr_amending:
                self._kr_push(self._kr_exec(o, "new"))
        elif kind == RSP_FILL:
            tid = f"T{next(self._trade_ids)}-LOOPB-ACKTRD"
            px, q = format_fixed(price, inst.price_decimals), format_fixed(qty, inst.size_decimals)
            o.trades.append({"id": tid, "ordertxid": self.kr_order_id(o), "postxid": "",
                             "pair": inst.symbol.replace("/", ""), "time": time.time(),
                             "type": "buy" if o.side == 0 else "sell", "ordertype": o.type,
                             "price": px, "vol": q, "cost": str(Decimal(px) * Decimal(q)),
                             "fee": "0", "margin": "0", "misc": "", "maker": aux == 0})
            fill = {"exec_id": tid, "trade_id": len(o.trades),
                    "last_qty": _kr_num(qty, inst.size_decimals),
                    "last_price": _kr_num(price, inst.price_decimals),
                    "liquidity_ind": "m" if aux == 0 else "t",
                    "cost": orjson.Fragment(str(Decimal(px) * Decimal(q)).encode())}
            self._kr_push(self._kr_exec(o, "trade", fill),
                          2 if self.faults.duplicate_fills else 1)
            if o.status == "FILLED":
                self._kr_push(self._kr_exec(o, "filled"))
        elif kind == RSP_CANCELED:
            self._kr_push(self._kr_exec(o, "canceled", {"reason": "User requested"}))
        elif kind == RSP_EXPIRED:
            self._kr_push(self._kr_exec(o, "expired"))

    # -- order entry: signed REST ----------------------------------------------------------------
    def rest_routes(self, app: web.Application) -> None:
        app.router.add_post("/0/private/{method}", self._kr_rest)

    def _kr_rest_json(self, o: _SOrder) -> dict[str, Any]:
        st = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed",
              "CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "canceled"}
        inst = o.inst
        avg = (o.quote / Decimal(format_fixed(o.filled, inst.size_decimals))) if o.filled \
            else Decimal(0)
        return {"refid": None, "userref": 0, "cl_ord_id": o.cid, "status": st[o.status],
                "opentm": o.time_ms / 1000,
                "descr": {"pair": inst.symbol.replace("/", ""),
                          "type": "buy" if o.side == 0 else "sell", "ordertype": o.type,
                          "price": format_fixed(o.price, inst.price_decimals),
                          "price2": "0", "leverage": "none", "close": ""},
                "vol": format_fixed(o.qty, inst.size_decimals),
                "vol_exec": format_fixed(o.filled, inst.size_decimals),
                "cost": str(o.quote), "fee": "0", "price": str(avg), "misc": "",
                "oflags": "post" if o.flags & SO_POST_ONLY else "",
                "trades": [t["id"] for t in o.trades]}

    def _kr_check(self, request: web.Request, body: str) -> str:
        """'' when the request is signed right, else Kraken's error."""
        form = urllib.parse.parse_qs(body, keep_blank_values=True)
        nonce = (form.get("nonce") or [""])[0]
        if self.api_secret is None or request.headers.get("API-Key") != self.api_key:
            return "EAPI:Invalid key"
        key = base64.b64decode(self.api_secret)
        mac = hmac.new(key, request.rel_url.path.encode()
                       + hashlib.sha256((nonce + body).encode()).digest(), hashlib.sha512)
        want = base64.b64encode(mac.digest()).decode()
        if self.faults.reject_signature or not hmac.compare_digest(
                want, request.headers.get("API-Sign", "")):
            return "EAPI:Invalid signature"
        if not nonce.isdigit() or int(nonce) <= self._kr_nonce:
            return "EAPI:Invalid nonce"
        self._kr_nonce = int(nonce)
        return ""

    async def _kr_rest(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        err = self._kr_check(request, body)
        if err:
            self.stats["bad_signatures"] += 1
            return web.json_response({"error": [err]})
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        method = request.match_info["method"]
        self.stats["requests"] += 1
        if method == "GetWebSocketsToken":
            tok = base64.b64encode(hashlib.sha256(f"{time.time_ns()}{len(self.tokens)}"
                                                  .encode()).digest()).decode()
            self.tokens.add(tok)
            return web.json_response({"error": [], "result": {"token": tok, "expires": 900}})
        if method in ("OpenOrders", "ClosedOrders"):
            want_open = method == "OpenOrders"
            cl = form.get("cl_ord_id")
            rows = {self.kr_order_id(o): self._kr_rest_json(o)
                    for o in self.by_cid.values()
                    if (o.status in ("NEW", "PARTIALLY_FILLED")) is want_open
                    and o.status != "REJECTED" and (cl is None or o.cid == cl)}
            result: dict[str, Any] = {"open": rows} if want_open else \
                {"closed": rows, "count": len(rows)}
            return web.json_response({"error": [], "result": result})
        if method == "QueryTrades":
            want = set(form.get("txid", "").split(","))
            trades = {t["id"]: {k: v for k, v in t.items() if k != "id"}
                      for o in self.by_cid.values() for t in o.trades if t["id"] in want}
            return web.json_response({"error": [], "result": trades})
        return web.json_response({"error": ["EGeneral:Unknown method"]})


# -- Bybit ----------------------------------------------------------------------------------------

def bybit_frames_from_recording(paths: str | Path | Sequence[str | Path]
                                ) -> tuple[list[MarketFrame], dict[str, MarketFrame]]:
    """Bybit v5 recordings (JSON lines or the text format) -> book deltas and trades, and the
    first snapshot of each symbol (which seeds the server's book).  JSON-lines files have no
    receive time: the message's ``ts`` is used."""
    plist = [paths] if isinstance(paths, str | Path) else list(paths)
    frames: list[MarketFrame] = []
    snaps: dict[str, MarketFrame] = {}
    for p in plist:
        with open_recording(p) as fh:
            for raw in fh:
                line = raw.rstrip(b"\r\n")
                if not line:
                    continue
                ts = -1
                body = line
                if line[:1].isdigit():
                    ts_text, _, body = line.partition(b": ")
                    whole, _, frac = ts_text.partition(b".")
                    ts = int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9] or b"0")
                elif not line.startswith(b"{"):
                    continue
                try:
                    obj = orjson.loads(body)
                except orjson.JSONDecodeError:
                    continue
                topic = obj.get("topic", "") if isinstance(obj, dict) else ""
                if ts < 0:
                    ts = int(obj.get("ts", 0)) * 1_000_000 if isinstance(obj, dict) else 0
                data = obj.get("data") if isinstance(obj, dict) else None
                if topic.startswith("orderbook.") and isinstance(data, dict):
                    sym = data.get("s", topic.rsplit(".", 1)[-1])
                    f = MarketFrame(ts, sym, "orderbook", body,
                                    [tuple(x) for x in data.get("b", ())],
                                    [tuple(x) for x in data.get("a", ())],
                                    int(data.get("u", 0)), int(data.get("u", 0)))
                    if obj.get("type") == "snapshot":
                        if sym not in snaps:
                            snaps[sym] = f
                            continue
                        f.first = -1              # a later snapshot is part of the stream
                    frames.append(f)
                elif topic.startswith("publicTrade."):
                    frames.append(MarketFrame(ts, topic.split(".", 1)[1], "publicTrade", body))
    frames.sort(key=lambda f: f.ts)
    return frames, snaps


class _ByMarket(_ServerListener):
    server: BybitLoopback

    def __init__(self, server: BybitLoopback, path: str) -> None:
        super().__init__(server, path)
        self.topics: dict[str, set[str]] = {"orderbook": set(), "publicTrade": set()}

    def wants(self, frame: MarketFrame) -> bool:
        return frame.symbol in self.topics.get(frame.stream, ())

    def on_text(self, data: bytes) -> None:
        try:
            req = orjson.loads(data)
            op = req["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(b'{"success":false,"ret_msg":"error:invalid request","op":""}')
            return
        if op == "ping":
            self.server.stats["pings"] += 1
            self.send(orjson.dumps({"success": True, "ret_msg": "pong", "conn_id": "loopback",
                                    "op": "ping"}))
            return
        if op not in ("subscribe", "unsubscribe"):
            self.send(orjson.dumps({"success": False, "ret_msg": f"error:unknown op {op}",
                                    "op": op}))
            return
        snaps = []
        for topic in req.get("args", []):
            kind, _, rest = topic.partition(".")
            sym = rest.rsplit(".", 1)[-1]
            if kind not in self.topics or sym not in self.server.books:
                continue
            if op == "unsubscribe":
                self.topics[kind].discard(sym)
                continue
            self.topics[kind].add(sym)
            if kind == "orderbook":
                snaps.append(self.server.snapshot(sym, topic))
        self.send(orjson.dumps({"success": True, "ret_msg": "", "conn_id": "loopback",
                                "req_id": req.get("req_id", ""), "op": op}))
        for snap in snaps:
            self.send(snap)
        if op == "subscribe" and self.server.start_on_subscribe:
            self.server.start_replay()


class _ByPrivate(_ServerListener):
    """``/v5/private`` (order and execution topics) and ``/v5/trade`` (order operations)."""

    server: BybitLoopback

    def __init__(self, server: BybitLoopback, path: str, trade: bool) -> None:
        super().__init__(server, path)
        self.trade = trade
        self.authed = False
        self.topics: set[str] = set()

    def on_text(self, data: bytes) -> None:
        self.server._private_request(self, data)


class _ByError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class BybitLoopback(LoopbackServer):
    """Bybit v5 on 127.0.0.1: public market data (``/v5/public/<category>``: a snapshot of the
    current book on each ``orderbook`` subscription, ``u`` = the last update sent, then the
    recorded deltas; ``publicTrade``; ``{"op":"ping"}`` answered), the WebSocket Trade API
    (``/v5/trade``: ``auth``, ``order.create`` / ``order.cancel`` / ``order.amend`` matched
    by the simulated exchange), the private stream (``/v5/private``: ``order`` and
    ``execution``) and REST (``/v5/order/realtime``, ``/v5/execution/list``) with signatures
    checked.  ``faults.skip`` drops a symbol's next delta (a ``u`` gap)."""

    venue = "bybit"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path], *, api_key: str = "loopback",
                 api_secret: str | None = None, **kwargs: Any) -> None:
        frames, snaps = bybit_frames_from_recording(recording)
        super().__init__(instruments, frames, **kwargs)
        self.initial = snaps
        self.api_key = api_key
        self.api_secret = api_secret

    def on_start(self) -> None:
        ts = time.time_ns()
        for sym, f in self.initial.items():
            if sym in self.books:
                self.books[sym].set(f.bids or (), f.asks or (), f.last)
                self.matcher.frame(f.payload, ts)


    def snapshot(self, symbol: str, topic: str) -> bytes:
        """An ``orderbook`` snapshot of ``symbol`` as the stream has left it."""
        book = self.books[symbol]
        depth = int(topic.split(".")[1]) if topic.count(".") == 2 else 50
        bids, asks = book.top(depth)
        self.stats["snapshots"] += 1
        now = time.time_ns() // 1_000_000
        return orjson.dumps({"topic": topic, "type": "snapshot", "ts": now,
                             "data": {"s": symbol, "b": bids, "a": asks, "u": book.last,
                                      "seq": book.last}, "cts": now})

    def before_send(self, f: MarketFrame) -> bytes | None:
        if f.bids is None:
            return f.payload
        book = self.books.get(f.symbol)
        if book is not None and f.first == -1:
            book.set(f.bids, f.asks or (), f.last)
        elif book is not None and f.last > book.last:
            book.apply(f.bids, f.asks or ())
            book.last = f.last
        if f.symbol in self.faults.skip:
            self.faults.skip.discard(f.symbol)
            return None
        return f.payload


    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/v5/public"):
            return _ByMarket(self, path)
        if path.startswith("/v5/private"):
            return _ByPrivate(self, path, False)
        if path.startswith("/v5/trade"):
            return _ByPrivate(self, path, True)
        return None

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/order/realtime", self._rest_realtime)
        app.router.add_get("/v5/execution/list", self._rest_executions)

    def _check_auth(self, args: list[Any]) -> None:
        if self.faults.reject_signature:
            self.stats["bad_signatures"] += 1
            raise _ByError(10004, "error sign!")
        try:
            key, expires, sig = args
        except (TypeError, ValueError):
            raise _ByError(10001, "params error") from None
        if key != self.api_key or self.api_secret is None:
            raise _ByError(10003, "API key is invalid.")
        want = hmac.new(self.api_secret.encode(), f"GET/realtime{expires}".encode(),
                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, str(sig)):
            self.stats["bad_signatures"] += 1
            raise _ByError(10004, "error sign!")
        if int(expires) < time.time_ns() // 1_000_000:
            raise _ByError(10002, "request expired")

    def _private_request(self, conn: _ByPrivate, data: bytes) -> None:
        self.stats["requests"] += 1
        try:
            req = orjson.loads(data)
            op = req["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.send(b'{"success":false,"ret_msg":"invalid request","op":""}')
            return
        if op == "ping":
            self.stats["pings"] += 1
            conn.send(orjson.dumps({"success": True, "ret_msg": "pong", "op": "pong"}))
            return
        if op == "auth":
            try:
                self._check_auth(req.get("args") or [])
            except _ByError as exc:
                conn.send(orjson.dumps({"success": False, "retCode": exc.code,
                                        "ret_msg": exc.msg, "op": "auth"}))
                return
            conn.authed = True
            conn.send(orjson.dumps({"success": True, "retCode": 0, "ret_msg": "", "op": "auth"}))
            return
        if not conn.authed:
            conn.send(orjson.dumps({"success": False, "ret_msg": "Request not authorized",
                                    "op": op}))
            return
        if op == "subscribe" and not conn.trade:
            conn.topics.update(req.get("args") or [])
            conn.send(orjson.dumps({"success": True, "ret_msg": "", "op": "subscribe"}))
            return
        rid = req.get("reqId")
        try:
            args = (req.get("args") or [{}])[0]
            if op == "order.create":
                result = self._by_create(args)
            elif op == "order.cancel":
                result = self._by_cancel(args)
            elif op == "order.amend":
                result = self._by_amend(args)
            else:
                raise _ByError(10001, f"unknown op {op}")
        except _ByError as exc:
            conn.send(orjson.dumps({"reqId": rid, "retCode": exc.code, "retMsg": exc.msg,
                                    "op": op, "data": {}, "header": {}}))
            return
        if result is _NO_ANSWER:
            return
        conn.send(orjson.dumps({"reqId": rid, "retCode": 0, "retMsg": "OK", "op": op,
                                "data": result, "header": {}}))

    def _by_inst(self, args: dict[str, Any]) -> Instrument:
        sym = args.get("symbol")
        if sym not in self.index:
            raise _ByError(10001, "params error: symbol invalid")
        return self.instruments[self.index[sym]]

    def _by_create(self, args: dict[str, Any]) -> Any:
        inst = self._by_inst(args)
        cid = str(args.get("orderLinkId") or f"srv{next(self._handles)}")
        try:
            qty = inst.qty(str(args["qty"]))
            price = inst.price(str(args["price"])) if "price" in args else 0
        except (KeyError, ValueError):
            raise _ByError(10001, "params error: qty or price") from None
        tif = args.get("timeInForce", "GTC")
        flags = (SO_MARKET if args.get("orderType") == "Market" else
                 SO_POST_ONLY if tif == "PostOnly" else SO_IOC if tif == "IOC" else
                 SO_FOK if tif == "FOK" else 0)
        old = self.by_cid.get(cid)
        if old is not None and old.status in ("NEW", "PARTIALLY_FILLED"):
            raise _ByError(110072, "OrderLinkedID is duplicate")
        if not self._rate_ok():
            raise _ByError(10006, "Too many visits. Exceeded the API Rate Limit.")
        o = self.new_order(cid, inst, 0 if args.get("side") == "Buy" else 1,
                           args.get("orderType", "Limit"), tif, price, qty, flags)
        if o.status == "REJECTED":
            raise _ByError(170218, "The LIMIT-MAKER order is rejected due to its price.")
        if o.hidden_ack:
            return _NO_ANSWER
        return {"orderId": str(o.order_id), "orderLinkId": cid}

    def _by_cancel(self, args: dict[str, Any]) -> Any:
        self._by_inst(args)
        o = self.by_cid.get(str(args.get("orderLinkId")))
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _ByError(110001, "order not exists or too late to cancel")
        self.cancel_order(o)
        return {"orderId": str(o.order_id), "orderLinkId": o.cid}

    def _by_amend(self, args: dict[str, Any]) -> Any:
        inst = self._by_inst(args)
        o = self.by_cid.get(str(args.get("orderLinkId")))
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _ByError(110001, "order not exists or too late to replace")
        price = inst.price(str(args.get("price"))) if "price" in args else o.price
        qty = inst.qty(str(args.get("qty"))) if "qty" in args else o.qty
        if qty <= o.filled:
            raise _ByError(110003, "qty must be greater than the filled qty")
        # the matcher re-places the rest (queue position is lost, as an amend of price loses it)
        self._quiet.add(o.handle)
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        filled, trades = o.filled, o.trades
        del self.orders[o.handle]
        n = self.new_order(o.cid, inst, o.side, o.type, o.tif, price, qty - filled, o.flags)
        n.order_id, n.trades, n.qty, n.filled = o.order_id, trades, qty, filled
        n.status = "PARTIALLY_FILLED" if filled else n.status
        self.orders[n.handle] = n
        return {"orderId": str(n.order_id), "orderLinkId": n.cid}

    def _by_order_json(self, o: _SOrder) -> dict[str, Any]:
        st = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
              "CANCELED": "Cancelled", "EXPIRED": "Cancelled", "REJECTED": "Rejected"}
        inst = o.inst
        return {"orderId": str(o.order_id), "orderLinkId": o.cid, "symbol": inst.symbol,
                "side": "Buy" if o.side == 0 else "Sell",
                "price": format_fixed(o.price, inst.price_decimals),
                "qty": format_fixed(o.qty, inst.size_decimals),
                "cumExecQty": format_fixed(o.filled, inst.size_decimals),
                "orderStatus": st.get(o.status, "New"), "orderType": o.type,
                "timeInForce": o.tif}

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int,
                       aux: int, ts: int) -> None:
        subs = [c for c in self._clients if isinstance(c, _ByPrivate) and not c.trade]
        if kind == RSP_FILL:
            inst = o.inst
            e = {"orderId": str(o.order_id), "orderLinkId": o.cid, "symbol": inst.symbol,
                 "execId": f"e{next(self._trade_ids)}",
                 "execPrice": format_fixed(price, inst.price_decimals),
                 "execQty": format_fixed(qty, inst.size_decimals), "isMaker": aux == 0,
                 "execTime": str(time.time_ns() // 1_000_000)}
            o.trades.append(e)
            msg = orjson.dumps({"topic": "execution", "creationTime": 0, "data": [e]})
            for c in subs:
                if "execution" in c.topics:
                    for _ in range(2 if self.faults.duplicate_fills else 1):
                        c.send(msg)
        if kind == RSP_ACK and o.hidden_ack:
            return
        if kind in (RSP_ACK, RSP_FILL, RSP_CANCELED, RSP_EXPIRED):
            msg = orjson.dumps({"topic": "order", "creationTime": 0,
                                "data": [self._by_order_json(o)]})
            for c in subs:
                if "order" in c.topics:
                    c.send(msg)

    async def _rest_auth(self, request: web.Request) -> None:
        h = request.headers
        query = request.rel_url.raw_query_string
        if h.get("X-BAPI-API-KEY") != self.api_key or self.api_secret is None:
            raise _ByError(10003, "API key is invalid.")
        want = sign_request_text(self.api_secret, h.get("X-BAPI-TIMESTAMP", ""),
                                 self.api_key, h.get("X-BAPI-RECV-WINDOW", ""), query)
        if self.faults.reject_signature or not hmac.compare_digest(
                want, h.get("X-BAPI-SIGN", "")):
            self.stats["bad_signatures"] += 1
            raise _ByError(10004, "error sign!")

    async def _rest_realtime(self, request: web.Request) -> web.Response:
        try:
            await self._rest_auth(request)
        except _ByError as exc:
            return web.json_response({"retCode": exc.code, "retMsg": exc.msg})
        cid = request.query.get("orderLinkId")
        rows = [self._by_order_json(o) for o in self.by_cid.values()
                if (cid is None or o.cid == cid) and o.status != "REJECTED"]
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": {"list": rows}})

    async def _rest_executions(self, request: web.Request) -> web.Response:
        try:
            await self._rest_auth(request)
        except _ByError as exc:
            return web.json_response({"retCode": exc.code, "retMsg": exc.msg})
        cid = request.query.get("orderLinkId")
        rows = [t for o in self.orders.values() if cid is None or o.cid == cid
                for t in o.trades]
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": {"list": rows}})


# -- OKX ------------------------------------------------------------------------------------------

_OK_CHECKSUM = re.compile(rb'"checksum":(-?\d+)')


def okx_frames_from_recording(paths: str | Path | Sequence[str | Path]
                              ) -> tuple[list[MarketFrame], dict[str, MarketFrame]]:
    """OKX v5 recordings -> ``books`` updates and ``trades`` frames, and the first snapshot of
    each instrument (which seeds the server's book)."""
    frames: list[MarketFrame] = []
    snaps: dict[str, MarketFrame] = {}
    for ts, body in received_lines(paths):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or "data" not in obj:
            continue
        arg = obj.get("arg") or {}
        chan, inst = arg.get("channel", ""), arg.get("instId", "")
        if chan.startswith("books"):
            d = obj["data"][0]
            f = MarketFrame(ts, inst, "books", body,
                            [(x[0], x[1]) for x in d.get("bids", ())],
                            [(x[0], x[1]) for x in d.get("asks", ())])
            if obj.get("action") == "snapshot":
                if inst not in snaps:
                    snaps[inst] = f
                    continue
                f.first = -1
            frames.append(f)
        elif chan == "trades":
            frames.append(MarketFrame(ts, inst, "trades", body))
    frames.sort(key=lambda f: f.ts)
    return frames, snaps


class _OkMarket(_ServerListener):
    server: OkxLoopback

    def __init__(self, server: OkxLoopback, path: str) -> None:
        super().__init__(server, path)
        self.subs: dict[str, set[str]] = {"books": set(), "trades": set()}

    def wants(self, frame: MarketFrame) -> bool:
        return frame.symbol in self.subs.get(frame.stream, ())

    def on_text(self, data: bytes) -> None:
        if data == b"ping":
            self.server.stats["pings"] += 1
            self.send(b"pong")
            return
        try:
            req = orjson.loads(data)
            op = req["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(b'{"event":"error","code":"60012","msg":"Invalid request"}')
            return
        for arg in req.get("args", []):
            chan = arg.get("channel", "")
            inst = arg.get("instId", "")
            kind = "books" if chan.startswith("books") else chan
            if kind not in self.subs or inst not in self.server.books:
                self.send(orjson.dumps({"event": "error", "code": "60018",
                                        "msg": f"Wrong URL or channel:{chan},instId:{inst}"}))
                continue
            self.send(orjson.dumps({"event": op, "arg": arg}))
            if op == "unsubscribe":
                self.subs[kind].discard(inst)
                continue
            self.subs[kind].add(inst)
            if kind == "books":
                self.send(self.server.snapshot(inst, chan))
        if op == "subscribe" and self.server.start_on_subscribe:
            self.server.start_replay()


class _OkPrivate(_ServerListener):
    server: OkxLoopback

    def __init__(self, server: OkxLoopback, path: str) -> None:
        super().__init__(server, path)
        self.authed = False
        self.orders = False

    def on_text(self, data: bytes) -> None:
        self.server._private_request(self, data)


class OkxLoopback(LoopbackServer):
    """OKX v5 public market data on 127.0.0.1: a ``books`` snapshot of the current book on each
    subscription (checksum 0, as OKX sends since it deprecated the field), the recorded updates
    with their checksums, ``trades``, ``ping`` answered ``pong``.  Faults: ``corrupt_checksum``,
    ``skip``."""

    venue = "okx"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path], *, api_key: str = "loopback",
                 api_secret: str | None = None, passphrase: str = "", **kwargs: Any) -> None:
        frames, snaps = okx_frames_from_recording(recording)
        super().__init__(instruments, frames, **kwargs)
        self.initial = snaps
        self.api_key = api_key
        self.api_secret = api_secret
        self.passphrase = passphrase

    def on_start(self) -> None:
        ts = time.time_ns()
        for inst, f in self.initial.items():
            if inst in self.books:
                self.books[inst].set(f.bids or (), f.asks or (), 0)
                self.matcher.frame(f.payload, ts)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/ws/v5/private"):
            return _OkPrivate(self, path)
        return _OkMarket(self, path)

    def _ok_sign(self, ts: str, method: str, path: str, body: str = "") -> str:
        assert self.api_secret is not None
        return base64.b64encode(hmac.new(self.api_secret.encode(),
                                         f"{ts}{method}{path}{body}".encode(),
                                         hashlib.sha256).digest()).decode()

    def _private_request(self, conn: _OkPrivate, data: bytes) -> None:
        self.stats["requests"] += 1
        if data == b"ping":
            self.stats["pings"] += 1
            conn.send(b"pong")
            return
        try:
            req = orjson.loads(data)
            op = req["op"]
            args = req.get("args") or [{}]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.send(b'{"event":"error","code":"60012","msg":"Invalid request"}')
            return
        if op == "login":
            a = args[0]
            good = (self.api_secret is not None and not self.faults.reject_signature
                    and a.get("apiKey") == self.api_key
                    and a.get("passphrase") == self.passphrase
                    and hmac.compare_digest(self._ok_sign(str(a.get("timestamp")), "GET",
                                                          "/users/self/verify"),
                                            str(a.get("sign"))))
            if not good:
                self.stats["bad_signatures"] += 1
                conn.send(b'{"event":"error","code":"60009","msg":"Login failed."}')
                return
            conn.authed = True
            conn.send(b'{"event":"login","code":"0","msg":""}')
            return
        if not conn.authed:
            conn.send(b'{"event":"error","code":"60011","msg":"Please log in"}')
            return
        if op == "subscribe":
            conn.orders = any(a.get("channel") == "orders" for a in args)
            conn.send(orjson.dumps({"event": "subscribe", "arg": args[0]}))
            return
        rid = req.get("id")
        a = args[0]
        code, msg, ord_id = "0", "", ""
        o = self.by_cid.get(str(a.get("clOrdId")))
        try:
            inst = self.instruments[self.index[a["instId"]]]
            if op == "order":
                if o is not None and o.status in ("NEW", "PARTIALLY_FILLED"):
                    raise ValueError("51016 Duplicated clOrdId")
                if not self._rate_ok():
                    raise ValueError("50011 Rate limit reached")
                ot = a.get("ordType", "limit")
                flags = (SO_MARKET if ot == "market" else SO_POST_ONLY if ot == "post_only"
                         else SO_IOC if ot == "ioc" else SO_FOK if ot == "fok" else 0)
                price = inst.price(str(a["px"])) if "px" in a else 0
                o = self.new_order(str(a["clOrdId"]), inst, 0 if a["side"] == "buy" else 1,
                                   ot, ot, price, inst.qty(str(a["sz"])), flags)
                if o.status == "REJECTED":
                    raise ValueError("51120 Order would take liquidity (post only)")
                if o.hidden_ack:
                    return
            elif op == "cancel-order":
                if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
                    raise ValueError("51400 Order cancellation failed as the order does not exist")
                self.cancel_order(o)
            elif op == "amend-order":
                if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
                    raise ValueError("51503 Order modification failed as the order does not exist")
                price = inst.price(str(a["newPx"])) if "newPx" in a else o.price
                qty = inst.qty(str(a["newSz"])) if "newSz" in a else o.qty
                if qty <= o.filled:
                    raise ValueError("51512 The new size must exceed the filled size")
                self._quiet.add(o.handle)
                self.matcher.cancel(o.handle, o.slot, o.index)
                self._quiet.discard(o.handle)
                del self.orders[o.handle]
                n = self.new_order(o.cid, inst, o.side, o.type, o.tif, price, qty - o.filled,
                                   o.flags)
                n.order_id, n.trades, n.qty, n.filled = o.order_id, o.trades, qty, o.filled
                if o.filled and n.status == "NEW":
                    n.status = "PARTIALLY_FILLED"
                o = n
            else:
                raise ValueError(f"60012 unknown op {op}")
            ord_id = str(o.order_id) if o is not None else ""
        except (ValueError, KeyError) as exc:
            code, _, msg = str(exc).strip("'").partition(" ")
        conn.send(orjson.dumps({"id": rid, "op": op, "code": "0" if code == "0" else "1",
                                "msg": "", "data": [{"ordId": ord_id, "clOrdId": a.get("clOrdId"),
                                                     "sCode": code, "sMsg": msg}]}))

    def _ok_order_json(self, o: _SOrder, fill: dict[str, Any] | None = None) -> dict[str, Any]:
        st = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
              "CANCELED": "canceled", "EXPIRED": "canceled", "REJECTED": "canceled"}
        inst = o.inst
        d = {"instId": inst.symbol, "ordId": str(o.order_id), "clOrdId": o.cid,
             "px": format_fixed(o.price, inst.price_decimals),
             "sz": format_fixed(o.qty, inst.size_decimals), "state": st.get(o.status, "live"),
             "accFillSz": format_fixed(o.filled, inst.size_decimals), "fillSz": "0",
             "fillPx": "", "tradeId": "", "execType": "", "side": "buy" if o.side == 0
             else "sell", "ordType": o.type}
        if fill is not None:
            d.update(fill)
        return d

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        fill = None
        if kind == RSP_FILL:
            inst = o.inst
            fill = {"fillSz": format_fixed(qty, inst.size_decimals),
                    "fillPx": format_fixed(price, inst.price_decimals),
                    "tradeId": str(next(self._trade_ids)), "execType": "M" if aux == 0 else "T"}
            o.trades.append({**fill, "ordId": str(o.order_id), "instId": inst.symbol})
        elif (kind == RSP_ACK and o.hidden_ack) or kind not in (RSP_ACK, RSP_CANCELED,
                                                                 RSP_EXPIRED):
            return
        msg = orjson.dumps({"arg": {"channel": "orders", "instType": "ANY"},
                            "data": [self._ok_order_json(o, fill)]})
        for c in self._clients:
            if isinstance(c, _OkPrivate) and c.orders:
                for _ in range(2 if fill and self.faults.duplicate_fills else 1):
                    c.send(msg)

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v5/trade/order", self._rest_order)
        app.router.add_get("/api/v5/trade/fills", self._rest_fills)

    def _rest_ok(self, request: web.Request) -> bool:
        h = request.headers
        path = f"{request.rel_url.path}?{request.rel_url.raw_query_string}"
        if (self.api_secret is None or self.faults.reject_signature
                or h.get("OK-ACCESS-KEY") != self.api_key
                or h.get("OK-ACCESS-PASSPHRASE") != self.passphrase):
            return False
        return hmac.compare_digest(self._ok_sign(h.get("OK-ACCESS-TIMESTAMP", ""), "GET", path),
                                   h.get("OK-ACCESS-SIGN", ""))

    async def _rest_order(self, request: web.Request) -> web.Response:
        if not self._rest_ok(request):
            self.stats["bad_signatures"] += 1
            return web.json_response({"code": "50113", "msg": "Invalid Sign", "data": []})
        o = self.by_cid.get(request.query.get("clOrdId", ""))
        if o is None or o.status == "REJECTED":
            return web.json_response({"code": "51603", "msg": "Order does not exist",
                                      "data": []})
        return web.json_response({"code": "0", "msg": "", "data": [self._ok_order_json(o)]})

    async def _rest_fills(self, request: web.Request) -> web.Response:
        if not self._rest_ok(request):
            self.stats["bad_signatures"] += 1
            return web.json_response({"code": "50113", "msg": "Invalid Sign", "data": []})
        oid = request.query.get("ordId")
        rows = [t for o in self.orders.values() if str(o.order_id) == oid for t in o.trades]
        return web.json_response({"code": "0", "msg": "", "data": rows})

    def snapshot(self, inst: str, channel: str) -> bytes:
        """A ``books`` snapshot of ``inst`` as the stream has left it."""
        bids, asks = self.books[inst].top(400)
        self.stats["snapshots"] += 1
        return orjson.dumps({"arg": {"channel": channel, "instId": inst}, "action": "snapshot",
                             "data": [{"asks": [[p, q, "0", "1"] for p, q in asks],
                                       "bids": [[p, q, "0", "1"] for p, q in bids],
                                       "ts": str(time.time_ns() // 1_000_000),
                                       "checksum": 0}]})

    def before_send(self, f: MarketFrame) -> bytes | None:
        if f.bids is None:
            return f.payload
        book = self.books.get(f.symbol)
        if book is not None:
            if f.first == -1:
                book.set(f.bids, f.asks or (), 0)
            else:
                book.apply(f.bids, f.asks or ())
        if f.symbol in self.faults.skip:
            self.faults.skip.discard(f.symbol)
            return None
        if f.symbol in self.faults.corrupt_checksum:
            m = _OK_CHECKSUM.search(f.payload)
            if m is not None and m.group(1) != b"0":
                self.faults.corrupt_checksum.discard(f.symbol)
                bad = str(int(m.group(1)) ^ 1).encode()
                return f.payload[:m.start(1)] + bad + f.payload[m.end(1):]
        return f.payload


# -- Coinbase Exchange ----------------------------------------------------------------------------

def coinbase_frames_from_recording(paths: str | Path | Sequence[str | Path]
                                   ) -> tuple[list[MarketFrame], dict[str, MarketFrame]]:
    """Coinbase Exchange recordings -> ``l2update`` and ``match`` frames, and the first
    ``snapshot`` of each product (which seeds the server's book)."""
    frames: list[MarketFrame] = []
    snaps: dict[str, MarketFrame] = {}
    for ts, body in received_lines(paths):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        t, prod = obj.get("type"), obj.get("product_id", "")
        if t == "snapshot":
            f = MarketFrame(ts, prod, "level2", body, [tuple(x) for x in obj["bids"]],
                            [tuple(x) for x in obj["asks"]], -1, 0)
            if prod not in snaps:
                snaps[prod] = f
                continue
            frames.append(f)
        elif t == "l2update":
            ch = obj.get("changes", ())
            frames.append(MarketFrame(ts, prod, "level2", body,
                                      [(c[1], c[2]) for c in ch if c[0] == "buy"],
                                      [(c[1], c[2]) for c in ch if c[0] == "sell"]))
        elif t in ("match", "last_match"):
            frames.append(MarketFrame(ts, prod, "matches", body))
    frames.sort(key=lambda f: f.ts)
    return frames, snaps


class _CbMarket(_ServerListener):
    server: CoinbaseLoopback

    def __init__(self, server: CoinbaseLoopback, path: str) -> None:
        super().__init__(server, path)
        self.subs: dict[str, set[str]] = {"level2": set(), "matches": set(), "heartbeat": set()}

    def wants(self, frame: MarketFrame) -> bool:
        return frame.symbol in self.subs.get(frame.stream, ())

    def on_text(self, data: bytes) -> None:
        try:
            req = orjson.loads(data)
            op = req["type"]
            products = list(req.get("product_ids", []))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.send(b'{"type":"error","message":"Failed to subscribe","reason":"bad request"}')
            return
        if op not in ("subscribe", "unsubscribe"):
            self.send(orjson.dumps({"type": "error", "message": f"unknown type {op}"}))
            return
        snaps = []
        for ch in req.get("channels", []):
            name = ch if isinstance(ch, str) else ch.get("name", "")
            kind = "level2" if name in ("level2", "level2_batch") else name
            if kind not in self.subs:
                continue
            for prod in products:
                if prod not in self.server.books:
                    continue
                if op == "unsubscribe":
                    self.subs[kind].discard(prod)
                    continue
                self.subs[kind].add(prod)
                if kind == "level2":
                    snaps.append(self.server.snapshot(prod))
        self.send(orjson.dumps({"type": "subscriptions", "channels": [
            {"name": k, "product_ids": sorted(v)} for k, v in self.subs.items() if v]}))
        for snap in snaps:
            self.send(snap)
        if op == "subscribe" and self.server.start_on_subscribe:
            self.server.start_replay()


class _CbUser(_ServerListener):
    """A client of the Advanced Trade user websocket (path ``/ws-user``): the ``user`` and
    ``heartbeats`` channels, every message numbered by ``sequence_num``."""

    server: CoinbaseLoopback

    def __init__(self, server: CoinbaseLoopback, path: str) -> None:
        super().__init__(server, path)
        self.channels: dict[str, list[str]] = {}
        self.seq = itertools.count(0)

    def on_text(self, data: bytes) -> None:
        self.server._cb_user_request(self, data)

    def push(self, channel: str, events: list[dict[str, Any]]) -> None:
        if self.server._cb_skip_seq:
            self.server._cb_skip_seq = False
            next(self.seq)
        self.send(orjson.dumps({"channel": channel, "client_id": "",
                                "timestamp": _kr_time(), "sequence_num": next(self.seq),
                                "events": events}))


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_CB_STATUS = {"NEW": "OPEN", "PARTIALLY_FILLED": "OPEN", "FILLED": "FILLED",
              "CANCELED": "CANCELLED", "EXPIRED": "EXPIRED", "REJECTED": "FAILED"}
_CB_TIF = {"limit_limit_gtc": "GOOD_UNTIL_CANCELLED", "sor_limit_ioc": "IMMEDIATE_OR_CANCEL",
           "limit_limit_fok": "FILL_OR_KILL", "market_market_ioc": "IMMEDIATE_OR_CANCEL"}


class CoinbaseLoopback(LoopbackServer):
    """Coinbase on 127.0.0.1: the Exchange public feed - a ``snapshot`` of the current book on
    each ``level2`` / ``level2_batch`` subscription, the recorded ``l2update`` and ``match``
    messages, and ``heartbeat`` messages (``heartbeat()`` sends one to every subscriber) - and,
    with ``public_key``, Advanced Trade order entry: ``POST /api/v3/brokerage/orders``,
    ``orders/batch_cancel``, ``orders/edit``, ``orders/historical/batch``,
    ``orders/historical/fills`` and ``orders/historical/{order_id}``, each checked for an ES256
    JWT of ``key_name`` naming that request (``uri``, ``nbf``/``exp``, a fresh nonce), and the
    user websocket on path ``/ws-user`` (``user`` channel snapshot and updates, ``heartbeats``,
    ``sequence_num``; :meth:`skip_user_sequence` makes a gap).  A never-acknowledged order
    (``faults.never_ack``) is answered ``503`` (the answer lost) and reported nowhere."""

    venue = "coinbase"

    def __init__(self, instruments: Sequence[Instrument],
                 recording: str | Path | Sequence[str | Path], *, key_name: str = "loopback",
                 public_key: ec.EllipticCurvePublicKey | bytes | str | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(key_name, str):
            raise TypeError("key_name must be str")
        frames, snaps = coinbase_frames_from_recording(recording)
        super().__init__(instruments, frames, **kwargs)
        self.initial = snaps
        self._hb_seq = itertools.count(1)
        self.key_name = key_name
        if isinstance(public_key, str | bytes):
            loaded = load_pem_public_key(public_key.encode() if isinstance(public_key, str)
                                         else public_key)
            if not isinstance(loaded, ec.EllipticCurvePublicKey):
                raise TypeError("public_key must be an EC P-256 public key")
            public_key = loaded
        elif public_key is not None and not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise TypeError("public_key must be an EC P-256 public key (object or PEM)")
        self.public_key = public_key
        self._cb_nonces: set[str] = set()
        self._cb_amending = False
        self._cb_skip_seq = False
        self._cb_trade_seq = itertools.count(1)
        self.requests: list[bytes] = []             # order, cancel and edit bodies, as received

    def on_start(self) -> None:
        ts = time.time_ns()
        for prod, f in self.initial.items():
            if prod in self.books:
                self.books[prod].set(f.bids or (), f.asks or (), 0)
                self.matcher.frame(f.payload, ts)

    def listener_for(self, path: str) -> WSListener | None:
        if path.startswith("/ws-user"):
            return _CbUser(self, path)
        return _CbMarket(self, path)

    def snapshot(self, product: str) -> bytes:
        """A ``level2`` snapshot of ``product`` as the stream has left it."""
        bids, asks = self.books[product].top(100_000)
        self.stats["snapshots"] += 1
        return orjson.dumps({"type": "snapshot", "product_id": product, "bids": bids,
                             "asks": asks})

    def heartbeat(self) -> int:
        """Send a ``heartbeat`` to every subscriber of it; returns how many were sent."""
        n = 0
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        for c in list(self._clients):
            if isinstance(c, _CbMarket):
                for prod in c.subs["heartbeat"]:
                    c.send(orjson.dumps({"type": "heartbeat", "last_trade_id": 0,
                                         "product_id": prod, "sequence": next(self._hb_seq),
                                         "time": now}))
                    n += 1
        return n

    def before_send(self, f: MarketFrame) -> bytes | None:
        if f.bids is None:
            return f.payload
        book = self.books.get(f.symbol)
        if book is not None:
            if f.first == -1:
                book.set(f.bids, f.asks or (), 0)
            else:
                book.apply(f.bids, f.asks or ())
        if f.symbol in self.faults.skip:
            self.faults.skip.discard(f.symbol)
            return None
        return f.payload

    def skip_user_sequence(self) -> None:
        """The next user-websocket message skips a ``sequence_num`` (a lost message)."""
        self._cb_skip_seq = True

    # -- authentication --------------------------------------------------------------------------
    def _cb_verify(self, token: str, uri: str | None) -> str:
        """'' when ``token`` is a valid JWT of this key (for ``uri``), else why not."""
        if self.public_key is None or self.faults.reject_signature:
            return "invalid signature"
        try:
            h, c, sig = token.split(".")
            header = json.loads(_b64url_decode(h))
            claims = json.loads(_b64url_decode(c))
            raw = _b64url_decode(sig)
        except (ValueError, TypeError):
            return "malformed token"
        if header.get("alg") != "ES256" or header.get("kid") != self.key_name:
            return "wrong algorithm or key"
        if claims.get("iss") != "cdp" or claims.get("sub") != self.key_name:
            return "wrong issuer or subject"
        now = time.time()
        if not (int(claims.get("nbf", 0)) - 5 <= now <= int(claims.get("exp", 0))):
            return "token expired"
        if uri is not None and claims.get("uri") != uri:
            return "token for another request"
        if len(raw) != 64:
            return "bad signature length"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                   int.from_bytes(raw[32:], "big"))
        try:
            self.public_key.verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "invalid signature"
        nonce = str(header.get("nonce", ""))
        if not nonce or nonce in self._cb_nonces:
            return "token replayed"
        self._cb_nonces.add(nonce)
        return ""

    def _cb_auth(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        why = "no bearer token" if not auth.startswith("Bearer ") else self._cb_verify(
            auth[7:], f"{request.method} {request.host}{request.rel_url.path}")
        self.stats["requests"] += 1
        if not why:
            return None
        self.stats["bad_signatures"] += 1
        return web.json_response({"error": "UNAUTHENTICATED", "message": why}, status=401)

    # -- the user websocket ---------------------------------------------------------------------
    def _cb_user_request(self, conn: _CbUser, data: bytes) -> None:
        try:
            req = json.loads(data)
            op, channel = req["type"], req["channel"]
        except (ValueError, KeyError, TypeError):
            conn.send(b'{"type":"error","message":"failure to parse message"}')
            return
        if op not in ("subscribe", "unsubscribe") or channel not in ("user", "heartbeats"):
            conn.send(orjson.dumps({"type": "error", "message": f"unknown channel {channel}"}))
            return
        why = self._cb_verify(str(req.get("jwt", "")), None)
        if why:
            self.stats["bad_signatures"] += 1
            conn.send(orjson.dumps({"type": "error", "message": f"authentication failure: "
                                                                f"{why}"}))
            return
        if op == "unsubscribe":
            conn.channels.pop(channel, None)
        else:
            conn.channels[channel] = [str(p) for p in req.get("product_ids") or ()]
        conn.push("subscriptions", [{"subscriptions": dict(conn.channels)}])
        if op == "subscribe" and channel == "user":
            conn.push("user", [{"type": "snapshot", "orders": [
                self._cb_user_json(o) for o in self.open_orders()
                if not conn.channels["user"] or o.inst.symbol in conn.channels["user"]]}])

    @staticmethod
    def cb_order_id(o: _SOrder) -> str:
        """The UUID-style Coinbase order id of a loopback order."""
        return f"00000000-0000-4000-8000-{o.order_id:012d}"

    def _cb_user_json(self, o: _SOrder) -> dict[str, Any]:
        inst = o.inst
        filled = Decimal(format_fixed(o.filled, inst.size_decimals))
        avg = o.quote / filled if o.filled else Decimal(0)
        return {"order_id": self.cb_order_id(o), "client_order_id": o.cid,
                "cumulative_quantity": format_fixed(o.filled, inst.size_decimals),
                "leaves_quantity": format_fixed(max(0, o.qty - o.filled) if o.status in
                                                ("NEW", "PARTIALLY_FILLED") else 0,
                                                inst.size_decimals),
                "avg_price": str(avg), "total_fees": "0", "status": _CB_STATUS[o.status],
                "product_id": inst.symbol, "product_type": "SPOT",
                "creation_time": _kr_time(), "order_side": "BUY" if o.side == 0 else "SELL",
                "order_type": "Market" if o.type == "market_market_ioc" else "Limit",
                "limit_price": format_fixed(o.price, inst.price_decimals) if o.price else "",
                "number_of_fills": str(len(o.trades)), "filled_value": str(o.quote),
                "time_in_force": _CB_TIF.get(o.type, ""), "reject_reason": "",
                "cancel_reason": ""}

    def _cb_push(self, o: _SOrder, times: int = 1) -> None:
        ev = [{"type": "update", "orders": [self._cb_user_json(o)]}]
        for c in list(self._clients):
            if isinstance(c, _CbUser) and "user" in c.channels and (
                    not c.channels["user"] or o.inst.symbol in c.channels["user"]):
                for _ in range(times):
                    c.push("user", ev)

    def on_order_event(self, o: _SOrder, kind: int, price: int, qty: int, aux: int,
                       ts: int) -> None:
        inst = o.inst
        if kind == RSP_ACK:
            if not o.hidden_ack and not self._cb_amending:
                self._cb_push(o)
        elif kind == RSP_FILL:
            n = next(self._cb_trade_seq)
            o.trades.append({
                "entry_id": f"e{n:011d}", "trade_id": f"t{n:011d}",
                "order_id": self.cb_order_id(o), "trade_time": _kr_time(), "trade_type": "FILL",
                "price": format_fixed(price, inst.price_decimals),
                "size": format_fixed(qty, inst.size_decimals), "commission": "0",
                "product_id": inst.symbol, "sequence_timestamp": _kr_time(),
                "liquidity_indicator": "MAKER" if aux == 0 else "TAKER",
                "size_in_quote": False, "user_id": "loopback",
                "side": "BUY" if o.side == 0 else "SELL"})
            self._cb_push(o, 2 if self.faults.duplicate_fills else 1)
        elif kind in (RSP_CANCELED, RSP_EXPIRED):
            self._cb_push(o)

    # -- REST ------------------------------------------------------------------------------------
    def rest_routes(self, app: web.Application) -> None:
        api = "/api/v3/brokerage"
        app.router.add_post(f"{api}/orders", self._cb_create)
        app.router.add_post(f"{api}/orders/batch_cancel", self._cb_cancel)
        app.router.add_post(f"{api}/orders/edit", self._cb_edit)
        app.router.add_get(f"{api}/orders/historical/batch", self._cb_list)
        app.router.add_get(f"{api}/orders/historical/fills", self._cb_fills)
        app.router.add_get(f"{api}/orders/historical/{{order_id}}", self._cb_get)

    def _cb_by_id(self, oid: str) -> _SOrder | None:
        return next((o for o in self.by_cid.values() if self.cb_order_id(o) == oid), None)

    def _cb_order_json(self, o: _SOrder) -> dict[str, Any]:
        inst = o.inst
        conf: dict[str, Any] = {"base_size": format_fixed(o.qty, inst.size_decimals)}
        if o.type != "market_market_ioc":
            conf["limit_price"] = format_fixed(o.price, inst.price_decimals)
        if o.type == "limit_limit_gtc":
            conf["post_only"] = bool(o.flags & SO_POST_ONLY)
        filled = Decimal(format_fixed(o.filled, inst.size_decimals))
        return {"order_id": self.cb_order_id(o), "product_id": inst.symbol,
                "user_id": "loopback", "order_configuration": {o.type: conf},
                "side": "BUY" if o.side == 0 else "SELL", "client_order_id": o.cid,
                "status": _CB_STATUS[o.status], "time_in_force": _CB_TIF.get(o.type, ""),
                "created_time": _kr_time(), "filled_size": str(filled),
                "average_filled_price": str(o.quote / filled if o.filled else Decimal(0)),
                "number_of_fills": str(len(o.trades)), "filled_value": str(o.quote),
                "pending_cancel": False, "size_in_quote": False, "total_fees": "0",
                "order_type": "MARKET" if o.type == "market_market_ioc" else "LIMIT",
                "reject_reason": "", "product_type": "SPOT"}

    async def _cb_body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        self.requests = [*self.requests[-99:], raw]
        try:
            obj = json.loads(raw)
        except ValueError:
            raise web.HTTPBadRequest(text='{"error":"INVALID_ARGUMENT","message":"bad json"}',
                                     content_type="application/json") from None
        if not isinstance(obj, dict):
            raise web.HTTPBadRequest(text='{"error":"INVALID_ARGUMENT","message":"bad json"}',
                                     content_type="application/json")
        return obj

    async def _cb_create(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        body = await self._cb_body(request)

        def failure(reason: str, message: str) -> web.Response:
            return web.json_response({"success": False, "failure_reason": "UNKNOWN_FAILURE_REASON",
                                      "order_id": "", "error_response": {
                                          "error": reason, "message": message,
                                          "error_details": message,
                                          "new_order_failure_reason": reason}})
        cid = str(body.get("client_order_id", ""))
        product = str(body.get("product_id", ""))
        confs = body.get("order_configuration")
        if product not in self.index:
            return failure("INVALID_PRODUCT_ID", f"unknown product {product}")
        if not cid or not isinstance(confs, dict) or len(confs) != 1:
            return failure("INVALID_ARGUMENT", "client_order_id and one order_configuration")
        old = self.by_cid.get(cid)
        if old is not None:                              # idempotent on client_order_id
            return web.json_response({"success": True, "success_response": {
                "order_id": self.cb_order_id(old), "product_id": product,
                "side": body.get("side"), "client_order_id": cid}})
        if not self._rate_ok():
            return web.json_response({"error": "RATE_LIMIT_EXCEEDED",
                                      "message": "Too many requests"}, status=429,
                                     headers={"Retry-After": "1"})
        kind, conf = next(iter(confs.items()))
        flags = {"market_market_ioc": SO_MARKET, "sor_limit_ioc": SO_IOC,
                 "limit_limit_fok": SO_FOK, "limit_limit_gtc": 0}.get(kind)
        if flags is None or body.get("side") not in ("BUY", "SELL"):
            return failure("UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} {body.get('side')}")
        if kind == "limit_limit_gtc" and conf.get("post_only"):
            flags = SO_POST_ONLY
        inst = self.instruments[self.index[product]]
        try:
            price = inst.price(conf["limit_price"]) if kind != "market_market_ioc" else 0
            qty = inst.qty(conf["base_size"])
        except (KeyError, ValueError, TypeError):
            return failure("INVALID_ARGUMENT", "base_size / limit_price")
        o = self.new_order(cid, inst, 0 if body["side"] == "BUY" else 1, kind,
                           _CB_TIF[kind], price, qty, flags)
        if o.status == "REJECTED":
            return failure("INVALID_LIMIT_PRICE_POST_ONLY",
                           "Invalid limit price for post only order")
        if o.hidden_ack:
            return web.json_response({"error": "INTERNAL", "message": "no answer"},
                                     status=503)
        return web.json_response({"success": True, "success_response": {
            "order_id": self.cb_order_id(o), "product_id": product, "side": body["side"],
            "client_order_id": cid}, "order_configuration": confs})

    async def _cb_cancel(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        body = await self._cb_body(request)
        results = []
        for oid in body.get("order_ids") or ():
            o = self._cb_by_id(str(oid))
            if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
                results.append({"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER",
                                "order_id": str(oid)})
                continue
            self.cancel_order(o)
            results.append({"success": True,
                            "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
                            "order_id": str(oid)})
        return web.json_response({"results": results})

    async def _cb_edit(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        body = await self._cb_body(request)

        def failure(reason: str) -> web.Response:
            return web.json_response({"success": False, "errors": [
                {"edit_failure_reason": reason, "preview_failure_reason": ""}]})
        o = self._cb_by_id(str(body.get("order_id", "")))
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            return failure("ORDER_NOT_FOUND")
        if o.type != "limit_limit_gtc":
            return failure("ONLY_GTC_LIMIT_ORDERS_CAN_BE_EDITED")
        inst = o.inst
        try:
            price = inst.price(body["price"])
            qty = inst.qty(body["size"])
        except (KeyError, ValueError, TypeError):
            return failure("INVALID_EDITED_PRICE_OR_SIZE")
        if qty <= o.filled:
            return failure("CANNOT_EDIT_TO_BELOW_FILLED_SIZE")
        self._quiet.add(o.handle)
        self.matcher.cancel(o.handle, o.slot, o.index)
        self._quiet.discard(o.handle)
        del self.orders[o.handle]
        self._cb_amending = True
        try:
            n = self.new_order(o.cid, inst, o.side, o.type, o.tif, price, qty - o.filled,
                               o.flags)
        finally:
            self._cb_amending = False
        n.order_id = o.order_id
        for t in n.trades:
            t["order_id"] = self.cb_order_id(n)
        n.trades = o.trades + n.trades
        n.qty, n.filled, n.quote = qty, n.filled + o.filled, n.quote + o.quote
        if n.status in ("NEW", "PARTIALLY_FILLED"):
            n.status = "PARTIALLY_FILLED" if n.filled else "NEW"
        self._cb_push(n)
        return web.json_response({"success": True, "errors": []})

    async def _cb_list(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        q = request.rel_url.query
        statuses = set(q.getall("order_status", []))
        products = set(q.getall("product_ids", []))
        rows = [self._cb_order_json(o) for o in self.by_cid.values()
                if (not products or o.inst.symbol in products)]
        rows = [r for r in rows if not statuses or r["status"] in statuses]
        return web.json_response({"orders": rows, "sequence": "0", "has_next": False,
                                  "cursor": ""})

    async def _cb_fills(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        q = request.rel_url.query
        want = set(q.getall("order_ids", [])) | set(q.getall("order_id", []))
        fills = [t for o in self.by_cid.values() if self.cb_order_id(o) in want
                 for t in o.trades]
        return web.json_response({"fills": fills, "cursor": ""})

    async def _cb_get(self, request: web.Request) -> web.Response:
        refused = self._cb_auth(request)
        if refused is not None:
            return refused
        o = self._cb_by_id(request.match_info["order_id"])
        if o is None:
            return web.json_response({"error": "NOT_FOUND",
                                      "message": "order with this orderID was not found"},
                                     status=404)
        return web.json_response({"order": self._cb_order_json(o)})


def sign_request_text(secret: str, ts: str, key: str, window: str, payload: str) -> str:
    """Bybit's REST signature, computed by the server side independently of the client."""
    return hmac.new(secret.encode(), f"{ts}{key}{window}{payload}".encode(),
                    hashlib.sha256).hexdigest()

