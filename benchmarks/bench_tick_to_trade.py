"""Tick-to-trade inside the engine: frame bytes in -> order bytes out, per-stage budget table.

Run: ``python benchmarks/bench_tick_to_trade.py [--messages N] [--no-journal]``.

A Binance ``depthUpdate`` frame (20 bid + 20 ask levels, the top moving every message) goes
through ``Engine.on_frame``: decode, book-sync, book, a Python strategy that re-quotes on every
top-of-book change (``quote`` -> an amend), the risk check and the order manager (journal on), and
a venue that encodes the request as the Binance WebSocket API's ``order.cancelReplace`` JSON
into bytes ready for the socket (a session logged on once with Ed25519, so no per-request
signature; ``--sign`` adds HMAC-SHA256 per request).  The venue's answer is delivered before the
next frame, as a venue's reply would be.  Each stage is timed by the engine into its histograms
(``decode``, ``book``, ``strategy`` — the hook including everything it calls —, ``risk`` — risk
check and order manager —, ``send`` — encode and sign — and ``tick_to_trade`` from the frame's
arrival to the order's bytes).  Targets (issue 9): tick-to-trade p50 <= 5 us, p99 <= 20 us.
"""

from __future__ import annotations

import argparse
import gc
import hmac
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from hftcore import BinanceDecoder, Instrument
from hftcore._ext.feed import Feed
from hftcore.engine import Engine
from hftcore.metrics import format_latency_table, latency_report
from hftcore.orders import OrderManager
from hftcore.portfolio import Portfolio
from hftcore.risk import InstrumentLimits, RiskEngine
from hftcore.strategy import Strategy
from hftcore.venues.base import Venue

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BTC = Instrument("binance", "BTCUSDT", 2, 5, tick=1, lot=1)
_SIDE_TEXT = ("BUY", "SELL")


class EncodingVenue(Venue):
    """Encodes requests as signed Binance WebSocket API JSON; answers before the next frame."""

    name = "binance"

    def __init__(self) -> None:
        super().__init__()
        # what a socket would get: counted, the last one kept (keeping every request alive
        # made each new one cost ~4 us more in the allocator: not the encoding's cost)
        self.n_sent = 0
        self.bytes_sent = 0
        self.last_sent = b""
        self.replies: list[tuple[str, str, int, int]] = []
        self.key = SECRET.encode()
        self.n = 0
        self.sign = False

    def _send(self, method: str, params: dict[str, Any]) -> None:
        # a session authenticated once with session.logon (Ed25519): requests carry no
        # per-request signature (Binance WebSocket API); --sign signs each one (HMAC-SHA256)
        self.n += 1
        params["timestamp"] = 1_700_000_000_000 + self.n
        if self.sign:
            query = "&".join([f"{k}={params[k]}" for k in sorted(params)])
            params["signature"] = hmac.digest(self.key, query.encode(), "sha256").hex()
        msg = orjson.dumps({"id": self.n, "method": method, "params": params})
        self.n_sent += 1
        self.bytes_sent += len(msg)
        self.last_sent = msg

    def submit(self, order: Any, flags: int) -> None:
        self._send("order.place", {"symbol": "BTCUSDT", "side": _SIDE_TEXT[order.side],
                                   "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": BTC.format_qty(order.size),
                                   "price": BTC.format_price(order.price),
                                   "newClientOrderId": order.client_order_id})
        self.replies.append(("ack", order.client_order_id, 0, 0))

    def amend(self, order: Any, price: int, size: int) -> None:
        self._send("order.cancelReplace", {"symbol": "BTCUSDT", "side": _SIDE_TEXT[order.side],
                                           "type": "LIMIT", "timeInForce": "GTC",
                                           "cancelReplaceMode": "STOP_ON_FAILURE",
                                           "cancelOrigClientOrderId": order.client_order_id,
                                           "quantity": BTC.format_qty(size),
                                           "price": BTC.format_price(price)})
        self.replies.append(("replaced", order.client_order_id, price, size))

    def cancel(self, order: Any) -> None:
        self._send("order.cancel", {"symbol": "BTCUSDT",
                                    "origClientOrderId": order.client_order_id})
        self.replies.append(("canceled", order.client_order_id, 0, 0))


class Requote(Strategy):
    def on_bbo(self, instrument: Any, book: Any) -> None:
        bid, ask = book.best_bid, book.best_ask
        if bid is not None and ask is not None:
            self.quote(instrument, bid, ask, 10_000)


def frames(n: int) -> list[bytes]:
    """``n`` depthUpdate frames whose top of book moves every message (U/u chained)."""
    out = []
    base = 5_000_000
    for k in range(n):
        mid = base + (k % 7) - 3
        # levels that would cross the new mid are deleted (size 0), the rest set
        bids = [[f"{(mid + 7 - j) / 100:.2f}", "0.00000"] for j in range(8)]
        bids += [[f"{(mid - 1 - j) / 100:.2f}", f"{(j + 1 + k % 5) / 1000:.5f}"]
                 for j in range(20)]
        asks = [[f"{(mid - 7 + j) / 100:.2f}", "0.00000"] for j in range(8)]
        asks += [[f"{(mid + 1 + j) / 100:.2f}", f"{(j + 2 + k % 3) / 1000:.5f}"]
                 for j in range(20)]
        msg = {"e": "depthUpdate", "E": 1_700_000_000_000 + k, "s": "BTCUSDT",
               "U": 1001 + k, "u": 1001 + k, "b": bids, "a": asks}
        out.append(orjson.dumps(msg))
    return out


def snapshot() -> bytes:
    bids = [[f"{(5_000_000 - 1 - j) / 100:.2f}", "0.01000"] for j in range(20)]
    asks = [[f"{(5_000_000 + 1 + j) / 100:.2f}", "0.01000"] for j in range(20)]
    return orjson.dumps({"lastUpdateId": 1000, "bids": bids, "asks": asks})


def run(n: int, journal: bool, sign: bool = False) -> dict[str, Any]:
    risk = RiskEngine()
    risk.add_instrument(BTC, InstrumentLimits(max_position=10**12))
    path = Path(tempfile.mkdtemp()) / "orders.journal" if journal else None
    portfolio = Portfolio()
    om = OrderManager(session="t2t", journal=path, portfolio=portfolio, risk=risk,
                      clock=time.time_ns)
    engine = Engine([BTC], mode="live", risk=risk, order_manager=om)
    engine.portfolio = portfolio
    venue = EncodingVenue()
    venue.sign = sign
    engine.add_venue(venue)
    s = Requote()
    engine.add_strategy(s)
    dec = BinanceDecoder()
    dec.add_symbol("BTCUSDT", 0, BTC.price_decimals, BTC.size_decimals)
    feed = Feed(dec, "binance", 1)
    feed.feed_rest("https://api.binance.com/api/v3/depth?symbol=BTCUSDT", snapshot(), 1)
    engine.start(1)
    engine.core.run_feed(feed)
    msgs = frames(n)
    warm = min(2_000, n // 5)
    gc.collect()
    gc.disable()
    try:
        for k, m in enumerate(msgs):
            if k == warm:
                engine.metrics.reset()
            engine.on_frame(feed, m, 2 + k)
            for kind, cid, price, size in venue.replies:
                engine.on_order_update(cid, kind, 2 + k, price=price, qty=size)
            venue.replies.clear()
    finally:
        gc.enable()
    hists = {k: h for k, h in engine.metrics.stage_latency.children.items() if h.count}
    return {"hists": hists, "orders_bytes": venue.n_sent, "journal": bool(journal),
            "example": venue.last_sent.decode()[:160]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--no-journal", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sign", action="store_true",
                    help="sign every request (HMAC-SHA256) instead of a logged-on session")
    args = ap.parse_args()
    r = run(args.messages, not args.no_journal, args.sign)
    budgets = {"tick_to_trade": {"p50": 5_000, "p99": 20_000}}
    if args.json:
        print(json.dumps({"stages": latency_report(r["hists"], (50, 99, 99.9), budgets),
                          "orders": r["orders_bytes"]}, indent=2, default=str))
        return
    print(f"{args.messages:,} frames, {r['orders_bytes']:,} orders encoded and signed; journal "
          f"{'on' if r['journal'] else 'off'}")
    print(f"last order: {r['example']}...")
    print(format_latency_table(r["hists"], (50, 99, 99.9), budgets))


def test_tick_to_trade() -> None:
    """pytest entry: the table for the default size (benchmarks are opt-in)."""
    r = run(5_000, True)
    assert r["hists"]["tick_to_trade"].count > 1_000
    print()
    print(format_latency_table(r["hists"], (50, 99, 99.9),
                               {"tick_to_trade": {"p50": 5_000, "p99": 20_000}}))


if __name__ == "__main__":
    main()
