"""Pure-Python reference decoder (orjson + Decimal) the compiled decoders are held against.

It maps each recorded data message to the records the decoders must produce, following the
venue documentation independently of the Cython code.  A message that carries several
instruments (Kraken v2, OKX items, Coinbase Advanced Trade events) has one span per instrument:
CLEAR on the first record of each snapshot, LAST on the last record of each span.
"""

from __future__ import annotations

import calendar
import re
from decimal import Decimal
from typing import Any

import orjson

SNAP, CLEAR, LAST, REPUB = 1, 2, 4, 16
BID, ASK, NONE = 0, 1, 2


def fx(text: str | float | int, dec: int | None) -> Any:
    """Exact value: a Decimal when dec is None, else an int count at dec decimals."""
    if dec is None:
        return Decimal(text if isinstance(text, str) else repr(text))
    d = Decimal(text if isinstance(text, str) else repr(text)) * (Decimal(10) ** dec)
    if d != d.to_integral_value():
        raise ValueError("precision")
    return int(d)


def iso_ns(text: str) -> int:
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", text)
    assert m, text
    secs = calendar.timegm((*(int(x) for x in m.groups()[:6]), 0, 0, 0))
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 10**9 + int(frac)


def side_of(word: str) -> int:
    return BID if word.lower() in ("buy", "bid", "b") else ASK


class Ref:
    """Expected output for one message: kind name and record tuples."""

    def __init__(self, kind: str, symbol: str = "") -> None:
        self.kind = kind
        self.symbol = symbol
        self.deltas: list[tuple[int, ...]] = []   # side, price, size, flags, sequence, exchange_ts
        self.trades: list[tuple[int, ...]] = []   # side, price, size, trade_id, exchange_ts
        self.bbos: list[tuple[int, ...]] = []     # bid_px, bid_sz, ask_px, ask_sz, seq, ets
        self.checksum: int | None = None


def _book(ref: Ref, levels: list[tuple[int, Any, Any, int, int]], dec: int | None, snap: bool,
          seq: int, ets: int) -> None:
    start = len(ref.deltas)
    for side, px, sz, flags, lts in levels:
        f = flags | (SNAP if snap else 0)
        ref.deltas.append((side, fx(px, dec), fx(sz, dec), f, seq, lts or ets))
    if snap and len(ref.deltas) == start:
        ref.deltas.append((NONE, 0, 0, SNAP | CLEAR, seq, ets))
    if snap:
        d = ref.deltas[start]
        ref.deltas[start] = (*d[:3], d[3] | CLEAR, *d[4:])


def _last(ref: Ref) -> None:
    if ref.deltas:
        d = ref.deltas[-1]
        ref.deltas[-1] = (*d[:3], d[3] | LAST, *d[4:])


def binance(msg: dict[str, Any], dec: int | None) -> Ref:
    d = msg.get("data", msg)
    e = d.get("e")
    if e == "depthUpdate":
        ref = Ref("book_update", d["s"])
        lv = [(BID if k == "b" else ASK, p, q, 0, 0) for k in d if k in "ba" for p, q in d[k]]
        _book(ref, lv, dec, False, d["u"], d["E"] * 10**6)
        _last(ref)
    elif e in ("aggTrade", "trade"):
        ref = Ref("trade", d["s"])
        tid = d["a"] if e == "aggTrade" else d["t"]
        ref.trades.append((ASK if d["m"] else BID, fx(d["p"], dec), fx(d["q"], dec), tid,
                           d["T"] * 10**6))
    elif e is None and "B" in d:
        ref = Ref("bbo", d["s"])
        ref.bbos.append((fx(d["b"], dec), fx(d["B"], dec), fx(d["a"], dec), fx(d["A"], dec),
                         d["u"], 0))
    else:
        ref = Ref("other")
    return ref


def coinbase(msg: dict[str, Any], dec: int | None) -> Ref:
    if "channel" in msg:
        return coinbase_at(msg, dec)
    t = msg.get("type")
    if t == "snapshot":
        ref = Ref("book_snapshot", msg["product_id"])
        lv = [(BID if k == "bids" else ASK, p, q, 0, 0) for k in msg if k in ("bids", "asks")
              for p, q in msg[k]]
        _book(ref, lv, dec, True, 0, iso_ns(msg["time"]) if "time" in msg else 0)
        _last(ref)
    elif t == "l2update":
        ref = Ref("book_update", msg["product_id"])
        ets = iso_ns(msg["time"])
        _book(ref, [(side_of(s), p, q, 0, 0) for s, p, q in msg["changes"]], dec, False, 0, ets)
        _last(ref)
    elif t in ("match", "last_match"):
        ref = Ref("trade", msg["product_id"])
        ref.trades.append((ASK if side_of(msg["side"]) == BID else BID, fx(msg["price"], dec),
                           fx(msg["size"], dec), msg["trade_id"], iso_ns(msg["time"])))
    elif t == "ticker":
        ref = Ref("bbo", msg["product_id"])
        ref.bbos.append((fx(msg["best_bid"], dec), fx(msg.get("best_bid_size", "0"), dec),
                         fx(msg["best_ask"], dec), fx(msg.get("best_ask_size", "0"), dec),
                         msg["sequence"], iso_ns(msg["time"])))
    elif t == "subscriptions":
        ref = Ref("subscribed")
    else:
        ref = Ref("other")
    return ref


def kraken_v2(msg: dict[str, Any], dec: int | None) -> Ref:
    ch = msg.get("channel")
    if ch == "book":
        snap = msg["type"] == "snapshot"
        ref = Ref("book_snapshot" if snap else "book_update", msg["data"][0]["symbol"])
        for item in msg["data"]:
            lv = [(BID if k == "bids" else ASK, lvl["price"], lvl["qty"], 0, 0) for k in item
                  if k in ("bids", "asks") for lvl in item[k]]
            ets = iso_ns(item["timestamp"]) if "timestamp" in item else 0
            _book(ref, lv, dec, snap, 0, ets)
            _last(ref)                          # LAST ends each instrument's records
            if ref.checksum is None:
                ref.checksum = item.get("checksum")   # the header holds the first one's
        return ref
    if ch == "trade":
        ref = Ref("trade", msg["data"][0]["symbol"])
        for t in msg["data"]:
            ref.trades.append((side_of(t["side"]), fx(t["price"], dec), fx(t["qty"], dec),
                               t["trade_id"], iso_ns(t["timestamp"])))
        return ref
    return Ref("other")


def coinbase_at(msg: dict[str, Any], dec: int | None) -> Ref:
    ch = msg["channel"]
    seq = msg["sequence_num"]
    if ch == "l2_data":
        snap = any(ev["type"] == "snapshot" for ev in msg["events"])
        ref = Ref("book_snapshot" if snap else "book_update", msg["events"][0]["product_id"])
        for ev in msg["events"]:
            lv = [(side_of(u["side"]), u["price_level"], u["new_quantity"], 0,
                   iso_ns(u["event_time"])) for u in ev["updates"]]
            _book(ref, lv, dec, ev["type"] == "snapshot", seq, 0)
            _last(ref)
        return ref
    if ch == "market_trades":
        ref = Ref("trade")
        for ev in msg["events"]:
            for t in ev["trades"]:
                ref.symbol = t["product_id"]
                ref.trades.append((side_of(t["side"]), fx(t["price"], dec), fx(t["size"], dec),
                                   int(t["trade_id"]), iso_ns(t["time"])))
        return ref
    return Ref("other")


def kraken(msg: Any, dec: int | None) -> Ref:
    if isinstance(msg, dict) and "channel" in msg:
        return kraken_v2(msg, dec)
    if isinstance(msg, dict):
        ev = msg.get("event")
        return Ref({"heartbeat": "heartbeat", "systemStatus": "status",
                    "subscriptionStatus": "subscribed"}.get(ev, "other"))
    name, pair = msg[-2], msg[-1]
    if name.startswith("book"):
        snap = "as" in msg[1]
        ref = Ref("book_snapshot" if snap else "book_update", pair)
        lv = []
        for payload in msg[1:-2]:
            for k, levels in payload.items():
                if k == "c":
                    ref.checksum = int(levels)
                    continue
                for level in levels:
                    flags = REPUB if len(level) == 4 else 0
                    lv.append((ASK if k[0] == "a" else BID, level[0], level[1], flags,
                               fx(level[2], 9)))
        _book(ref, lv, dec, snap, 0, 0)
        _last(ref)
    elif name == "trade":
        ref = Ref("trade", pair)
        for p, v, t, s, _, _ in msg[1]:
            ref.trades.append((side_of(s), fx(p, dec), fx(v, dec), -1, fx(t, 9)))
    elif name == "ticker":
        ref = Ref("bbo", pair)
        b, a = msg[1]["b"], msg[1]["a"]
        ref.bbos.append((fx(b[0], dec), fx(b[2], dec), fx(a[0], dec), fx(a[2], dec), 0, 0))
    else:
        ref = Ref("other")
    return ref


def okx(msg: dict[str, Any], dec: int | None) -> Ref:
    if "event" in msg:
        return Ref("subscribed" if msg["event"] == "subscribe" else "other")
    ch = msg["arg"]["channel"]
    inst = msg["arg"].get("instId", "")
    if ch in ("books", "books5", "bbo-tbt"):
        snap = ch != "books" or msg["action"] == "snapshot"
        ref = Ref("book_snapshot" if snap else "book_update", inst)
        for item in msg["data"]:
            lv = [(ASK if k == "asks" else BID, lvl[0], lvl[1], 0, 0) for k in item
                  if k in ("asks", "bids") for lvl in item[k]]
            _book(ref, lv, dec, snap, item.get("seqId", 0), int(item["ts"]) * 10**6)
            _last(ref)
            if ref.checksum is None:
                ref.checksum = item.get("checksum")
    elif ch == "trades":
        ref = Ref("trade", inst)
        for t in msg["data"]:
            ref.trades.append((side_of(t["side"]), fx(t["px"], dec), fx(t["sz"], dec),
                               int(t["tradeId"]), int(t["ts"]) * 10**6))
    elif ch == "tickers":
        ref = Ref("bbo", inst)
        for t in msg["data"]:
            ref.bbos.append((fx(t["bidPx"], dec), fx(t["bidSz"], dec), fx(t["askPx"], dec),
                             fx(t["askSz"], dec), 0, int(t["ts"]) * 10**6))
    else:
        ref = Ref("other")
    return ref


def bybit(msg: dict[str, Any], dec: int | None) -> Ref:
    topic = msg.get("topic", "")
    if topic.startswith("orderbook."):
        snap = msg["type"] == "snapshot"
        d = msg["data"]
        ref = Ref("book_snapshot" if snap else "book_update", d["s"])
        lv = [(BID if k == "b" else ASK, p, q, 0, 0) for k in d if k in ("b", "a")
              for p, q in d[k]]
        _book(ref, lv, dec, snap, d["u"], msg["ts"] * 10**6)
        _last(ref)
        return ref
    if topic.startswith(("publicTrade.", "trade.")):
        ref = Ref("trade", msg["data"][0]["s"])
        for t in msg["data"]:
            tid = int(t["i"]) if t["i"].isdigit() else -1
            ref.trades.append((side_of(t["S"]), fx(t["p"], dec), fx(t["v"], dec), tid,
                               t["T"] * 10**6))
        return ref
    return Ref("other")


def binance_futures(msg: dict[str, Any], dec: int | None) -> Ref:
    """USDⓈ-M futures: the spot shapes, and bookTicker with "e", "E" and "T" (its time)."""
    d = msg.get("data", msg)
    if d.get("e") == "bookTicker":
        ref = Ref("bbo", d["s"])
        ref.bbos.append((fx(d["b"], dec), fx(d["B"], dec), fx(d["a"], dec), fx(d["A"], dec),
                         d["u"], d["T"] * 10**6))
        return ref
    return binance(msg, dec)


REFERENCE = {"binance": binance, "binance_futures": binance_futures, "coinbase": coinbase,
             "kraken": kraken, "okx": okx, "bybit": bybit}


def reference(venue: str, data: bytes, dec: int | None = None) -> Ref:
    return REFERENCE[venue](orjson.loads(data), dec)
