"""Shared set-up of the live-venue tests: a loopback server, an engine in live mode, a venue
pointed at the server, and the checks that nothing was lost (every order accounted for, every
book valid and equal to the server's, or marked invalid)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hftcore import Instrument, OrderStatus, Strategy
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.binance import BinanceVenue
from hftcore.venues.keys import Credentials
from hftcore.venues.loopback import BinanceLoopback
from hftcore.venues.ws import Backoff

DATA = Path(__file__).parent / "data"
BINANCE_RECORDING = [DATA / "binance" / "spot_ws_2021-10-12.txt",
                     DATA / "binance" / "spot_rest_depth_2021-10-12.txt"]
BINANCE_INSTRUMENTS = [
    Instrument("binance", "BLZETH", 8, 8, base="BLZ", quote="ETH"),
    Instrument("binance", "LRCBTC", 8, 8, base="LRC", quote="BTC"),
    Instrument("binance", "NKNUSDT", 8, 8, base="NKN", quote="USDT"),
    Instrument("binance", "RUNEEUR", 8, 8, base="RUNE", quote="EUR"),
]
API_KEY = "hc-test-apikey-7Qz1"
API_SECRET = "hc-test-secret-Hn2bW9xLq4Rt"


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
    """Run one test coroutine on a fresh loop, with a timeout (a test never hangs)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ed25519_pair() -> tuple[str, Any]:
    """A throw-away Ed25519 key: (PEM text, public key)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return pem, key.public_key()


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    t_end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > t_end:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.005)


class Probe(Strategy):
    """Records what the engine tells it; optional callbacks drive it."""

    def __init__(self, on_bbo: Callable[..., None] | None = None) -> None:
        super().__init__()
        self.bbo = 0
        self.status: list[tuple[str, bool]] = []
        self.updates: list[tuple[str, str]] = []
        self.fill_list: list[Any] = []
        self.timers: list[tuple[str, int]] = []
        self._cb = on_bbo

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        self.bbo += 1
        if self._cb is not None:
            self._cb(self, instrument, book)

    def on_book_status(self, instrument: Instrument, valid: bool) -> None:
        self.status.append((instrument.symbol, valid))

    def on_order(self, order: Any) -> None:
        self.updates.append((order.client_order_id, order.status.name))

    def on_fill(self, fill: Any) -> None:
        self.fill_list.append(fill)

    def on_timer(self, name: str, ts: int) -> None:
        self.timers.append((name, ts))


@dataclass
class Session:
    server: BinanceLoopback
    engine: LiveEngine
    venue: BinanceVenue
    runner: LiveRunner
    strategy: Probe
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def binance_session(*, auth: str = "ed25519", strategy: Probe | None = None,
                          server_kw: dict[str, Any] | None = None,
                          venue_kw: dict[str, Any] | None = None,
                          engine_kw: dict[str, Any] | None = None,
                          connect: bool = True, credentials: bool = True,
                          runner_kw: dict[str, Any] | None = None) -> AsyncIterator[Session]:
    """A Binance loopback server replaying the recording (manual: frames go out when the
    test says) and an engine + venue connected to it.  Everything is stopped on exit."""
    pem, pub = ed25519_pair()
    kw: dict[str, Any] = {"manual": True}
    kw.update(server_kw or {})
    server = BinanceLoopback(BINANCE_INSTRUMENTS, BINANCE_RECORDING, api_key=API_KEY,
                             api_secret=API_SECRET, ed25519_public_key=pub, **kw)
    await server.start()
    runner: LiveRunner | None = None
    try:
        ekw: dict[str, Any] = {"mode": "live"}
        ekw.update(engine_kw or {})
        engine = LiveEngine(BINANCE_INSTRUMENTS, **ekw)
        probe = strategy or Probe()
        engine.add_strategy(probe)
        creds = None
        if credentials:
            creds = (Credentials.of("binance", API_KEY, private_key=pem) if auth == "ed25519"
                     else Credentials.of("binance", API_KEY, api_secret=API_SECRET))
        vkw: dict[str, Any] = {"backoff": Backoff(0.02, 0.2), "snapshot_wait": 0.05}
        vkw.update(venue_kw or {})
        venue = BinanceVenue(credentials=creds, ws_url=server.ws_url, rest_url=server.rest_url,
                             api_url=server.ws_url + "/ws-api/v3", **vkw)
        runner = LiveRunner(engine, [venue], **(runner_kw or {}))
        if connect:
            await runner.start()
        yield Session(server, engine, venue, runner, probe)
    finally:
        if runner is not None and runner.started:
            await runner.stop()
        elif runner is not None:
            for v in runner.venues:
                await v.close()
        await server.stop()


async def sync_all(s: Session, timeout: float = 10.0) -> None:
    """Wait until every book of the venue is synced."""
    await wait_for(lambda: all(s.venue.synced(i) for i in s.venue.indices), timeout,
                   "books to sync")


async def pump(s: Session, n: int | None = None, settle: float = 0.05) -> None:
    """Send ``n`` (all) remaining frames, then let the client take them in."""
    lst = s.venue.listener
    assert lst is not None
    got0 = lst.data_messages + lst.bad_messages
    sent0 = s.server.stats["frames_sent"] + s.server.stats["malformed_sent"]
    s.server.send_next(len(s.server.frames) if n is None else n)
    want = s.server.stats["frames_sent"] + s.server.stats["malformed_sent"] - sent0
    await wait_for(lambda: lst.data_messages + lst.bad_messages - got0 >= want, 10.0,
                   "frames to arrive")
    await asyncio.sleep(settle)


def book_matches_server(s: Session, index: int, levels: int = 50) -> bool:
    """The engine's book of ``index`` equals the server's top ``levels`` per side."""
    inst = s.engine.instruments[index]
    bids, asks = s.server.books[inst.symbol].top(levels)
    book = s.engine.books[index]
    bp, bq, ap, aq = book.depth(levels)
    mine_b = [(int(p), int(q)) for p, q in zip(bp, bq, strict=True)]
    mine_a = [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)]
    want_b = [(inst.price(p), inst.qty(q)) for p, q in bids]
    want_a = [(inst.price(p), inst.qty(q)) for p, q in asks]
    return mine_b == want_b and mine_a == want_a


def assert_books(s: Session) -> None:
    """Every book is valid and equal to the server's, or marked invalid (and its strategy was
    told)."""
    for i in s.venue.indices:
        sym = s.engine.instruments[i].symbol
        if s.engine.core.is_valid(i):
            assert s.venue.synced(i), sym
            assert book_matches_server(s, i), f"{sym}: book differs from the server's"
        else:
            told = [v for (x, v) in s.strategy.status if x == sym]
            assert told and told[-1] is False, f"{sym}: invalid but the strategy was not told"


_SERVER_STATUS = {"FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
                  "EXPIRED": OrderStatus.EXPIRED, "NEW": OrderStatus.ACCEPTED,
                  "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
                  "REJECTED": OrderStatus.REJECTED}


def assert_orders_accounted(s: Session) -> None:
    """Every order the engine made is in a settled state that agrees with the server: same
    status, same filled size, the same fills (by trade id), none booked twice; orders the
    server never saw are rejected with a reason."""
    for o in s.engine.om:
        assert o.status not in (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL,
                                OrderStatus.PENDING_REPLACE, OrderStatus.UNKNOWN), \
            f"{o.client_order_id} left {o.status.name}: {o.history}"
        so = s.server.by_cid.get(o.client_order_id)
        if so is None or so.status == "REJECTED":
            assert o.status == OrderStatus.REJECTED and o.reason, o.history
            continue
        assert o.status == _SERVER_STATUS[so.status], \
            f"{o.client_order_id}: engine {o.status.name}, server {so.status}"
        assert o.filled == sum(t_qty(o.instrument, t) for t in all_trades(s, o.client_order_id))
        ids = [f.trade_id for f in o.fills]
        assert len(ids) == len(set(ids))


def all_trades(s: Session, cid: str) -> list[dict[str, Any]]:
    """Every trade the server made for client id ``cid`` (over replaced orders too)."""
    return [t for so in s.server.orders.values() if so.cid == cid for t in so.trades]


def t_qty(inst: Instrument, t: dict[str, Any]) -> int:
    return inst.qty(t["qty"])


async def until(aw: Awaitable[Any], timeout: float = 10.0) -> Any:
    return await asyncio.wait_for(aw, timeout)
