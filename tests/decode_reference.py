"""Pure-Python reference decoder (orjson + Decimal) the compiled decoders are held against.

It maps each recorded data message to the records the decoders must produce, following the
venue documentation independently of the Cython code.  A message that carries several
instruments (Kraken v2, OKX items, Coinbase Advanced Trade events) has one span per instrument:
CLEAR on the first record of each snapshot, LAST on the last record of each span.
"""

from __future__ import annotations

import calendar
import json
import re
import zlib
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

SNAP, CLEAR, LAST, REPUB = 1, 2, 4, 16
BID, ASK, NONE = 0, 1, 2


def _decimal(text: str | float | int | Decimal) -> Decimal:
    if isinstance(text, Decimal):
        return text
    return Decimal(text if isinstance(text, str) else repr(text))


def fx(text: str | float | int | Decimal, dec: int | None) -> Any:
    """Exact value: a Decimal when dec is None, else an int count at dec decimals."""
    if dec is None:
        return _decimal(text)
    d = _decimal(text) * (Decimal(10) ** dec)
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
        ref.deltas.append((NONE, fx(0, dec), fx(0, dec), SNAP | CLEAR, seq, ets))
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



def kucoin(msg: dict[str, Any], dec: int | None) -> Ref:
    t, subject = msg.get("type"), msg.get("subject")
    if t != "message":
        return Ref({"welcome": "status", "ack": "subscribed", "pong": "heartbeat",
                    "error": "venue_error"}.get(t, "other"))
    d = msg["data"]
    if subject == "trade.l2update":
        ref = Ref("book_update", d["symbol"])
        ets = d["time"] * 10**6 if "time" in d else 0
        for key, rows in d["changes"].items():      # in message order
            for p, q, seq in rows:
                if p != "0":                         # a change that only moves the sequence
                    ref.deltas.append((ASK if key == "asks" else BID, fx(p, dec), fx(q, dec), 0,
                                       int(seq), ets))
        _last(ref)
        return ref
    if subject == "trade.l3match":
        ref = Ref("trade", d["symbol"])
        tid = int(d["tradeId"]) if d["tradeId"].isdigit() else -1
        ref.trades.append((side_of(d["side"]), fx(d["price"], dec), fx(d["size"], dec), tid,
                           int(d["time"])))
        return ref
    if subject == "trade.ticker":
        ref = Ref("bbo", msg["topic"].partition(":")[2])
        ref.bbos.append((fx(d["bestBid"], dec), fx(d["bestBidSize"], dec), fx(d["bestAsk"], dec),
                         fx(d["bestAskSize"], dec), int(d["sequence"]), d["time"] * 10**6))
        return ref
    return Ref("other")


def deribit(msg: dict[str, Any], dec: int | None) -> Ref:
    if msg.get("method") == "heartbeat":
        return Ref("heartbeat")
    if "result" in msg:
        return Ref("subscribed")
    if msg.get("method") != "subscription":
        return Ref("other")
    channel, d = msg["params"]["channel"], msg["params"]["data"]
    if channel.startswith("book."):
        grouped = channel.count(".") >= 4
        snap = grouped or d["type"] == "snapshot"
        ref = Ref("book_snapshot" if snap else "book_update", d["instrument_name"])
        lv = []
        for key in ("bids", "asks"):
            for level in d[key]:
                if grouped:
                    p, q = level
                else:
                    action, p, q = level
                    q = Decimal(0) if action == "delete" else q
                lv.append((BID if key == "bids" else ASK, p, q, 0, 0))
        _book(ref, lv, dec, snap, d["change_id"], d["timestamp"] * 10**6)
        _last(ref)
        return ref
    if channel.startswith("trades."):
        ref = Ref("trade", d[0]["instrument_name"])
        for t in d:
            tid = int(t["trade_id"]) if t["trade_id"].isdigit() else -1
            ref.trades.append((side_of(t["direction"]), fx(t["price"], dec), fx(t["amount"], dec),
                               tid, t["timestamp"] * 10**6))
        return ref
    if channel.startswith(("ticker.", "quote.")):
        ref = Ref("bbo", d["instrument_name"])
        bid, ask = d["best_bid_price"] or 0, d["best_ask_price"] or 0
        ref.bbos.append((fx(bid, dec), fx(d["best_bid_amount"] if bid else 0, dec), fx(ask, dec),
                         fx(d["best_ask_amount"] if ask else 0, dec), 0, d["timestamp"] * 10**6))
        return ref
    return Ref("other")


def kraken_futures(msg: dict[str, Any], dec: int | None) -> Ref:
    if "event" in msg:
        return Ref({"subscribed": "subscribed", "info": "status", "error": "venue_error"}.get(
            msg["event"], "other"))
    feed = msg.get("feed")
    if feed == "book_snapshot":
        ref = Ref("book_snapshot", msg["product_id"])
        lv = [(BID if k == "bids" else ASK, lvl["price"], lvl["qty"], 0, 0) for k in msg
              if k in ("bids", "asks") for lvl in msg[k]]
        _book(ref, lv, dec, True, msg["seq"], msg["timestamp"] * 10**6)
        _last(ref)
        return ref
    if feed == "book":
        ref = Ref("book_update", msg["product_id"])
        _book(ref, [(side_of(msg["side"]), msg["price"], msg["qty"], 0, 0)], dec, False,
              msg["seq"], msg["timestamp"] * 10**6)
        _last(ref)
        return ref
    if feed in ("trade", "trade_snapshot"):
        ref = Ref("trade", msg["product_id"])
        for t in msg["trades"] if feed == "trade_snapshot" else [msg]:
            ref.trades.append((side_of(t["side"]), fx(t["price"], dec), fx(t["qty"], dec), -1,
                               t["time"] * 10**6))
        return ref
    if feed in ("ticker", "ticker_lite"):
        ref = Ref("bbo", msg["product_id"])
        lite = feed == "ticker_lite"
        ref.bbos.append((fx(msg["bid"], dec), fx(0 if lite else msg["bid_size"], dec),
                         fx(msg["ask"], dec), fx(0 if lite else msg["ask_size"], dec), 0,
                         msg.get("time", 0) * 10**6))
        return ref
    if feed == "heartbeat":
        return Ref("heartbeat")
    return Ref("other")


def htx(msg: dict[str, Any], dec: int | None) -> Ref:
    if "ping" in msg or "pong" in msg:
        return Ref("heartbeat")
    if "status" in msg and "ch" not in msg and "rep" not in msg:
        return Ref("subscribed" if msg["status"] == "ok" else "venue_error")
    ch = msg.get("ch") or ""
    parts = ch.split(".")
    if len(parts) < 3 or parts[0] != "market":
        return Ref("other")
    sym, channel, tick = parts[1], ".".join(parts[2:]), msg["tick"]
    if channel.startswith("depth.step") or channel.startswith("mbp."):
        snap = not (channel.startswith("mbp.") and not channel.startswith("mbp.refresh."))
        ref = Ref("book_snapshot" if snap else "book_update", sym)
        lv = [(BID if k == "bids" else ASK, p, q, 0, 0) for k in ("bids", "asks")
              for p, q in tick.get(k, [])]
        seq = tick.get("version", tick.get("seqNum", 0))
        _book(ref, lv, dec, snap, seq, tick.get("ts", msg["ts"]) * 10**6)
        _last(ref)
        return ref
    if channel == "trade.detail":
        ref = Ref("trade", sym)
        for t in tick["data"]:
            ref.trades.append((side_of(t["direction"]), fx(t["price"], dec),
                               fx(t["amount"], dec), t["tradeId"], t["ts"] * 10**6))
        return ref
    if channel == "bbo":
        ref = Ref("bbo", sym)
        ref.bbos.append((fx(tick["bid"], dec), fx(tick["bidSize"], dec), fx(tick["ask"], dec),
                         fx(tick["askSize"], dec), 0, tick.get("quoteTime", 0) * 10**6))
        return ref
    return Ref("other")


REFERENCE = {"binance": binance, "binance_futures": binance_futures, "coinbase": coinbase,
             "kraken": kraken, "okx": okx, "bybit": bybit, "kucoin": kucoin, "deribit": deribit,
             "kraken_futures": kraken_futures, "htx": htx}
#: venues whose prices are JSON numbers: read as Decimal, never through float
NUMBER_VENUES = frozenset({"bitfinex", "deribit", "kraken_futures", "htx"})


def reference(venue: str, data: bytes, dec: int | None = None) -> Ref:
    if venue in NUMBER_VENUES:
        if data[:2] == b"\x1f\x8b":
            data = zlib.decompress(data, 47)
        return REFERENCE[venue](json.loads(data, parse_float=Decimal), dec)
    return REFERENCE[venue](orjson.loads(data), dec)


def size_count(venue: str, text: Any, decimals: int) -> tuple[int, bool]:
    """(the int count a decoder gives a size at `decimals`, whether it was rounded): exact,
    except for HTX, whose sizes come from binary floating point and are rounded half-even at
    the instrument's size decimals (Decimal arithmetic, as the decoder does on the text)."""
    d = _decimal(text) * (Decimal(10) ** decimals)
    if d == d.to_integral_value():
        return int(d), False
    if venue != "htx":
        raise ValueError("precision")
    return int(d.to_integral_value(rounding=ROUND_HALF_EVEN)), True
