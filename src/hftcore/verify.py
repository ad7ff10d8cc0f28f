"""``python -m hftcore verify FILE... --venue V [--json]``: check a recording before trusting it.

Replays recorded messages through the venue's decoder and an L2 book per instrument and reports
messages, data messages per kind, book updates, checksums verified / failed, sequence gaps,
crossed books and decode errors.  Each symbol's price / size decimals are inferred from the
recording (the most fractional digits seen) unless given with ``--decimals SYM=P,S``.  Venue
names are case-insensitive.  Exit status (``hftcore.cli.EXIT_CODES``): 0 when every check passed,
1 when anything failed, 2 for a bad option, 3 when a file cannot be read or is not a recording,
4 when there was nothing to verify (an empty file, no market data).  Hints (``notes``) say what
to pass besides, for instance the Binance websocket recording that goes with a REST snapshot file.
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from hftcore.cli import EXIT_FAILED, EXIT_NOTHING, EXIT_OK, CliError, command
from hftcore.decoders import (
    VENUE_ALIASES,
    VENUES,
    Decoder,
    MessageKind,
    RecordedMessage,
    SpanFlag,
    decoder_for,
    message_text,
    read_recording,
)
from hftcore.errors import DecodeError
from hftcore.model import Instrument

__all__ = ["VerifyReport", "infer_decimals", "read_messages", "verify_messages"]


@dataclass
class VerifyReport:
    """What a replay found."""

    venue: str
    messages: int = 0
    data_messages: dict[str, int] = field(default_factory=dict)
    other_messages: dict[str, int] = field(default_factory=dict)
    book_updates: int = 0
    checksums_verified: int = 0
    checksums_failed: int = 0
    sequence_gaps: int = 0
    sequence_checks: int = 0
    crossed_books: int = 0
    decode_errors: int = 0
    unknown_symbols: int = 0
    sizes_rounded: int = 0          # HTX: sizes rounded at the instrument's decimals
    books_checked: bool = True
    decimals: dict[str, tuple[int, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when a check failed."""
        return bool(self.checksums_failed or self.sequence_gaps or self.crossed_books
                    or self.decode_errors or self.unknown_symbols)

    @property
    def checked(self) -> bool:
        """True when at least one message carried market data to check."""
        return sum(self.data_messages.values()) > 0

    @property
    def ok(self) -> bool:
        """True when something was checked and nothing failed."""
        return self.checked and not self.failed

    @property
    def status(self) -> str:
        """``"ok"``, ``"failed"`` or ``"nothing to verify"``."""
        if self.failed:
            return "failed"
        return "ok" if self.checked else "nothing to verify"

    @property
    def exit_code(self) -> int:
        """The CLI's exit status for this report (see ``hftcore.cli.EXIT_CODES``)."""
        if self.failed:
            return EXIT_FAILED
        return EXIT_OK if self.checked else EXIT_NOTHING

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "venue": self.venue, "ok": self.ok, "status": self.status, "messages": self.messages,
            "data_messages": self.data_messages, "other_messages": self.other_messages,
            "book_updates": self.book_updates, "checksums_verified": self.checksums_verified,
            "checksums_failed": self.checksums_failed, "sequence_gaps": self.sequence_gaps,
            "sequence_checks": self.sequence_checks, "crossed_books": self.crossed_books,
            "decode_errors": self.decode_errors,
            "unknown_symbols": self.unknown_symbols, "sizes_rounded": self.sizes_rounded,
            "books_checked": self.books_checked,
            "decimals": {k: list(v) for k, v in self.decimals.items()},
            "errors": self.errors[:20], "notes": self.notes,
        }


# -- decimals inference (slow path, plain Python) ------------------------------------------

def _frac(x: Any) -> int:
    """Fractional digits a number is written with: "0.3513" 4, "9.121E-7" 10, "4.0E7" 0."""
    text = x if isinstance(x, str) else repr(x)
    mantissa, e, exponent = text.lower().partition("e")
    _, dot, frac = mantissa.partition(".")
    n = len(frac) if dot else 0
    if e:
        try:
            n -= int(exponent)
        except ValueError:
            return 0
    return max(n, 0)


def _levels(rows: Any) -> Iterator[tuple[Any, Any]]:
    for r in rows or ():
        if isinstance(r, dict):
            yield r.get("price", r.get("price_level", "0")), r.get("qty", r.get("new_quantity",
                                                                                     "0"))
        elif isinstance(r, list) and len(r) >= 2:
            if r[0] in ("buy", "sell"):
                yield r[1], r[2]
            else:
                yield r[0], r[1]


def _kucoin_texts(msg: Any, default_symbol: str) -> Iterator[tuple[str, Any, Any]]:
    if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
        return
    d = msg["data"]
    subject = msg.get("subject")
    if default_symbol:                                  # REST level-2 snapshot
        for key in ("bids", "asks"):
            for p, q in _levels(d.get(key)):
                yield default_symbol, p, q
    elif subject == "trade.l2update":
        for rows in (d.get("changes") or {}).values():
            for p, q in _levels(rows):
                if p != "0":                            # a sequence-only change
                    yield d.get("symbol", ""), p, q
    elif subject == "trade.l3match":
        yield d.get("symbol", ""), d.get("price", "0"), d.get("size", "0")
    elif subject == "trade.ticker":
        sym = str(msg.get("topic", "")).partition(":")[2]
        yield sym, d.get("bestBid") or "0", d.get("bestBidSize") or "0"
        yield sym, d.get("bestAsk") or "0", d.get("bestAskSize") or "0"
    elif subject == "orderChange":
        yield d.get("symbol", ""), d.get("price") or "0", d.get("size") or "0"


def _deribit_texts(msg: Any) -> Iterator[tuple[str, Any, Any]]:
    if not isinstance(msg, dict) or msg.get("method") != "subscription":
        return
    params = msg.get("params") or {}
    channel, data = str(params.get("channel", "")), params.get("data")
    if isinstance(data, dict) and channel.startswith("book."):
        sym = data.get("instrument_name", "")
        for key in ("bids", "asks"):
            for lv in data.get(key) or ():
                if isinstance(lv, list) and len(lv) >= 2:
                    yield sym, *(lv[1:3] if isinstance(lv[0], str) else lv[0:2])
    elif isinstance(data, dict) and channel.startswith(("ticker.", "quote.")):
        sym = data.get("instrument_name", "")
        for pk, qk in (("best_bid_price", "best_bid_amount"), ("best_ask_price",
                                                              "best_ask_amount")):
            if data.get(pk) is not None:
                yield sym, data[pk], data.get(qk) or "0"
    elif channel.startswith("trades."):
        for t in data if isinstance(data, list) else ():
            yield t.get("instrument_name", ""), t.get("price", "0"), t.get("amount", "0")


def _kraken_futures_texts(msg: Any) -> Iterator[tuple[str, Any, Any]]:
    if not isinstance(msg, dict):
        return
    feed, sym = msg.get("feed"), msg.get("product_id", "")
    if feed == "book_snapshot":
        for key in ("bids", "asks"):
            for p, q in _levels(msg.get(key)):
                yield sym, p, q
    elif feed in ("book", "trade"):
        yield sym, msg.get("price", "0"), msg.get("qty", "0")
    elif feed == "trade_snapshot":
        for t in msg.get("trades") or ():
            yield sym, t.get("price", "0"), t.get("qty", "0")
    elif feed in ("ticker", "ticker_lite"):
        for pk, qk in (("bid", "bid_size"), ("ask", "ask_size")):
            if msg.get(pk) is not None:
                yield sym, msg[pk], msg.get(qk) or "0"


def _htx_texts(msg: Any) -> Iterator[tuple[str, Any, Any]]:
    if not isinstance(msg, dict) or not isinstance(msg.get("tick"), dict):
        return
    ch, tick = str(msg.get("ch") or msg.get("rep") or ""), msg["tick"]
    parts = ch.split(".")
    sym = parts[1] if len(parts) > 2 else ""
    if ".depth." in ch or ".mbp." in ch:
        for key in ("bids", "asks"):
            for p, q in _levels(tick.get(key)):
                yield sym, p, q
    elif ch.endswith(".trade.detail"):
        for t in tick.get("data") or ():
            yield sym, t.get("price", "0"), t.get("amount", "0")
    elif ch.endswith(".bbo"):
        yield sym, tick.get("bid", "0"), tick.get("bidSize", "0")
        yield sym, tick.get("ask", "0"), tick.get("askSize", "0")


def _unsigned(x: Any) -> Any:
    return x[1:] if isinstance(x, str) and x.startswith("-") else x


def _bitfinex_texts(msg: Any, channels: dict[int, tuple[str, str]]
                    ) -> Iterator[tuple[str, Any, Any]]:
    """Bitfinex arrays name a channel id, not a symbol: the subscribe acks seen so far map
    them.  Tickers give only their prices (BID_SIZE / ASK_SIZE are sums over 25 levels)."""
    if isinstance(msg, dict):
        if msg.get("event") == "subscribed" and isinstance(msg.get("chanId"), int):
            channels[msg["chanId"]] = (str(msg.get("channel")), str(msg.get("symbol", "")))
        return
    if not isinstance(msg, list) or len(msg) < 2 or msg[0] not in channels:
        return
    channel, sym = channels[msg[0]]
    payload = msg[1]
    if payload == "te" and len(msg) > 2 and isinstance(msg[2], list) and len(msg[2]) >= 4:
        yield sym, msg[2][3], _unsigned(msg[2][2])
    if not isinstance(payload, list) or not payload:
        return
    rows = payload if isinstance(payload[0], list) else [payload]
    for r in rows:
        if channel == "book" and len(r) >= 3:
            yield sym, r[0], _unsigned(r[2])
        elif channel == "trades" and len(r) >= 4:
            yield sym, r[3], _unsigned(r[2])
        elif channel == "ticker" and len(r) >= 3:
            yield sym, r[0], "0"
            yield sym, r[2], "0"


def _texts(venue: str, msg: Any, default_symbol: str = "",
           state: dict[int, tuple[str, str]] | None = None) -> Iterator[tuple[str, Any, Any]]:
    """(symbol, price text, size text) for the levels / trades / quotes of a message.

    ``default_symbol`` names the instrument of a message that carries none (a Binance or KuCoin
    REST snapshot: the symbol is in the request's URL); ``state`` keeps what a venue's earlier
    messages said (Bitfinex: channel id -> symbol).
    """
    if venue == "kucoin":
        yield from _kucoin_texts(msg, default_symbol)
        return
    if venue == "deribit":
        yield from _deribit_texts(msg)
        return
    if venue == "kraken_futures":
        yield from _kraken_futures_texts(msg)
        return
    if venue == "htx":
        yield from _htx_texts(msg)
        return
    if venue == "bitfinex":
        yield from _bitfinex_texts(msg, state if state is not None else {})
        return
    if venue == "kraken" and isinstance(msg, list) and len(msg) >= 4:
        pair, name = msg[-1], msg[-2]
        for payload in msg[1:-2]:
            if name == "trade":
                for t in payload:
                    yield pair, t[0], t[1]
            elif isinstance(payload, dict) and str(name).startswith("book"):
                for k, v in payload.items():
                    if k != "c":
                        for p, q in _levels(v):
                            yield pair, p, q
            elif isinstance(payload, dict) and name == "ticker":
                for k in ("a", "b"):            # ["price", wholeLotVolume, "lotVolume"]
                    side = payload.get(k)
                    if isinstance(side, list) and len(side) >= 3:
                        yield pair, side[0], side[2]
        return
    if not isinstance(msg, dict):
        return
    data = msg.get("data", msg.get("event", msg))
    items = data if isinstance(data, list) else [data]
    if venue == "coinbase" and "events" in msg:
        for ev in msg["events"]:
            for p, q in _levels(ev.get("updates")):
                yield ev.get("product_id", ""), p, q
            for t in ev.get("trades", ()):
                yield t["product_id"], t["price"], t["size"]
        return
    for it in items:
        if not isinstance(it, dict):
            continue
        sym = (it.get("s") or it.get("symbol") or it.get("instId") or it.get("product_id")
               or msg.get("product_id") or (msg.get("arg") or {}).get("instId", "")
               or default_symbol)
        for key in ("b", "a", "bids", "asks", "changes"):
            if isinstance(it.get(key), list):
                for p, q in _levels(it[key]):
                    yield sym, p, q
        for pk, qk in (("p", "q"), ("p", "v"), ("px", "sz"), ("price", "size"), ("price", "qty"),
                       ("b", "B"), ("a", "A"), ("bidPx", "bidSz"), ("askPx", "askSz"),
                       ("best_bid", "best_bid_size"), ("best_ask", "best_ask_size"),
                       ("bid", "bid_qty"), ("ask", "ask_qty")):
            if isinstance(it.get(pk), (str, float, int)) and not isinstance(it.get(pk), bool):
                yield sym, it[pk], it.get(qk, "0")


_URL_SYMBOL = re.compile(r"[?&]symbol=([^&]+)")
#: venues that send prices as JSON numbers: read with their exact text
_NUMBER_VENUES = frozenset({"bitfinex", "deribit", "kraken_futures", "htx"})


def _load(venue: str, data: bytes) -> Any:
    text = message_text(data)
    if venue in _NUMBER_VENUES:
        return json.loads(text, parse_float=str)
    return orjson.loads(text)


def infer_decimals(venue: str, messages: Iterable[bytes | RecordedMessage]
                   ) -> dict[str, tuple[int, int]]:
    """symbol -> (price_decimals, size_decimals): the most fractional digits in the recording.

    ``messages`` are message bytes or `RecordedMessage` lines; a REST response among the latter
    takes its symbol from the request URL (``...depth?symbol=BTCUSDT``).  Messages are read in
    order (Bitfinex data names the channels its subscribe acks opened).
    """
    venue = venue.lower()
    venue = VENUE_ALIASES.get(venue, venue)
    out: dict[str, list[int]] = {}
    state: dict[int, tuple[str, str]] = {}
    for item in messages:
        default = ""
        if isinstance(item, RecordedMessage):
            if item.kind == "sent":
                continue
            found = _URL_SYMBOL.search(item.url) if item.kind == "rest" else None
            default = found.group(1) if found else ""
            item = item.data
        try:
            msg = _load(venue, item)
        except (ValueError, zlib.error):
            continue
        for sym, p, q in _texts(venue, msg, default, state):
            if not isinstance(sym, str) or not sym:
                continue
            cur = out.setdefault(sym, [0, 0])
            cur[0] = max(cur[0], _frac(p))
            cur[1] = max(cur[1], _frac(q))
    cap = SIZE_DECIMALS_CAP.get(venue, 18)
    return {k: (min(v[0], 18), min(v[1], cap)) for k, v in out.items()}


# Venues that print sizes from binary floating point ("3307.9982700421942"): the decimals their
# own reference data gives at most (HTX's spot `amount-precision` is 0..8); the decoder rounds
# a size written with more (counted in Decoder.counts["rounded"]).
SIZE_DECIMALS_CAP = {"htx": 8}


# -- replay ---------------------------------------------------------------------------------

def _book_class() -> Any:
    from hftcore._ext.book import L2Book

    return L2Book


@dataclass
class _BookState:
    book: Any
    synced: bool
    last_seq: int = -1
    snapshot_seq: int = -1
    # Binance USDⓈ-M futures: diffs kept while waiting for a (new) REST snapshot
    pending: list[tuple[_Span, Any, RecordedMessage]] = field(default_factory=list)


#: venues whose books start from a REST snapshot bridged to the buffered stream, and the URL
#: part that tells the snapshot requests
_REST_SNAPSHOTS = {"binance": "depth", "binance_futures": "depth", "kucoin": "level2"}


def verify_messages(venue: str, messages: Iterable[RecordedMessage],
                    decimals: dict[str, tuple[int, int]], depth: int = 0) -> VerifyReport:
    """Replay ``messages`` through ``venue``'s decoder and books; see the module docstring."""
    venue = venue.lower()
    report = VerifyReport(venue, decimals=dict(decimals))
    ids = {s: i + 1 for i, s in enumerate(sorted(decimals))}
    names = {i: s for s, i in ids.items()}
    dec: Decoder = decoder_for(venue, [Instrument(venue, s, p, q, instrument_id=ids[s])
                                       for s, (p, q) in decimals.items()])
    L2Book = _book_class()
    report.books_checked = L2Book is not None
    books: dict[int, _BookState] = {}
    rest_path = _REST_SNAPSHOTS.get(venue)

    def state(iid: int) -> _BookState:
        st = books.get(iid)
        if st is None:
            p, q = decimals[names[iid]]
            st = _BookState(L2Book(p, q, max_depth=depth), synced=rest_path is None)
            books[iid] = st
        return st

    conn_seq = -1
    for m in messages:
        if m.kind == "sent":
            continue
        report.messages += 1
        try:
            if m.kind == "rest":
                if rest_path is None or rest_path not in m.url:
                    report.other_messages["rest"] = report.other_messages.get("rest", 0) + 1
                    continue
                sym = re.search(r"symbol=([^&]+)", m.url)
                kind = MessageKind(dec.decode_snapshot(m.data, sym.group(1) if sym else "",
                                                       m.ts_ns))
            else:
                kind = MessageKind(dec.decode(m.data, m.ts_ns))
        except DecodeError as exc:
            report.decode_errors += 1
            report.errors.append(f"line {m.line}: {exc}")
            continue
        if dec.new_connection:
            # the first message of every Bitfinex connection (a reconnect in the recording):
            # its sequence starts again, its channel ids are new (the decoder forgot the old
            # ones), every book waits for the new connection's snapshot
            conn_seq = -1
            for st in books.values():
                st.synced = False
        if venue == "bitfinex" and dec.has_seq:
            # one sequence for every message of the connection (conf flag 65536)
            report.sequence_checks += conn_seq >= 0
            if conn_seq >= 0 and dec.last_seq != conn_seq + 1:
                report.sequence_gaps += 1
                report.errors.append(f"line {m.line}: connection sequence {dec.last_seq} "
                                     f"after {conn_seq}")
                for st in books.values():          # no book of the connection can be trusted
                    st.synced = False
            conn_seq = dec.last_seq
        name = kind.name.lower()
        if kind == MessageKind.UNKNOWN_SYMBOL:
            report.unknown_symbols += 1
            report.errors.append(f"line {m.line}: unknown symbol {dec.symbol!r}")
            continue
        if venue == "bitfinex" and kind == MessageKind.STATUS and dec.checksum is not None:
            # "cs": CRC32 of the book's top 25 levels (conf flag 131072)
            cs_book = books.get(dec.instrument_id)
            if cs_book is not None and cs_book.synced:
                mine = bitfinex_checksum(cs_book.book, *decimals[names[dec.instrument_id]])
                if mine == dec.checksum:
                    report.checksums_verified += 1
                else:
                    report.checksums_failed += 1
                    report.errors.append(f"line {m.line}: checksum {dec.checksum} != book "
                                         f"{mine} on {names[dec.instrument_id]}")
        if not kind.is_data:
            report.other_messages[name] = report.other_messages.get(name, 0) + 1
            continue
        report.data_messages[name] = report.data_messages.get(name, 0) + 1
        if kind not in (MessageKind.BOOK_SNAPSHOT, MessageKind.BOOK_UPDATE):
            continue
        report.book_updates += 1
        deltas = dec.deltas
        # one span per instrument of the message: each instrument's deltas go to its own book,
        # with its own sequence numbers and checksum
        for span in dec.spans:
            _apply_span(venue, kind, _Span.of(span), deltas, state, names, report, m)
        del deltas
    report.sizes_rounded = dec.counts["rounded"]
    if report.sizes_rounded:
        report.notes.append(
            f"{report.sizes_rounded} sizes printed from binary floating point with more "
            "decimals than the instrument's were rounded half-even to its size decimals "
            f"({venue}'s documented rule: docs/decoders.md)")
    return report


def _js_number_text(value: int, decimals: int) -> str:
    """An int count at ``decimals`` as JavaScript prints the number (Bitfinex checksums are
    computed over that text): no trailing zeros, exponent form below 1e-6 ("1.5e-7")."""
    d = (Decimal(value).scaleb(-decimals)).normalize()
    if d == 0:
        return "0"
    if abs(d) >= Decimal("1e-6") and abs(d) < Decimal("1e21"):
        return format(d, "f")
    sign, digits, exp = d.as_tuple()
    mant = "".join(map(str, digits))
    e = int(exp) + len(mant) - 1
    text = mant[0] + ("." + mant[1:] if len(mant) > 1 else "") + f"e{'+' if e > 0 else ''}{e}"
    return ("-" if sign else "") + text


def bitfinex_checksum(book: Any, price_decimals: int, size_decimals: int) -> int:
    """Bitfinex's book checksum: the signed CRC32 of "bid price:bid amount:ask price:ask
    amount:..." over the top 25 levels, interleaved, asks' amounts negative."""
    bids, asks = book.levels(0, 25), book.levels(1, 25)
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += [_js_number_text(bids[i][0], price_decimals),
                      _js_number_text(bids[i][1], size_decimals)]
        if i < len(asks):
            parts += [_js_number_text(asks[i][0], price_decimals),
                      _js_number_text(-asks[i][1], size_decimals)]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


@dataclass(frozen=True)
class _Span:
    """One instrument's part of a decoded book message (a ``BOOK_SPAN_DTYPE`` record)."""

    iid: int
    first: int
    count: int
    first_seq: int
    last_seq: int
    prev_seq: int
    has_seq: bool
    checksum: int | None

    @classmethod
    def of(cls, rec: Any) -> _Span:
        flags = SpanFlag(int(rec["flags"]))
        return cls(int(rec["instrument_id"]), int(rec["first_delta"]), int(rec["n_deltas"]),
                   int(rec["first_seq"]), int(rec["last_seq"]), int(rec["prev_seq"]),
                   SpanFlag.HAS_SEQ in flags,
                   int(rec["checksum"]) if SpanFlag.HAS_CHECKSUM in flags else None)


def _apply_span(venue: str, kind: MessageKind, sp: _Span, deltas: Any,
                state: Callable[[int], _BookState], names: dict[int, str],
                report: VerifyReport, m: RecordedMessage) -> None:
    """Sequence check, book update, crossed-book and checksum check for one instrument."""
    symbol = names.get(sp.iid, str(sp.iid))
    if venue == "binance_futures":
        _futures_span(kind, sp, deltas[sp.first:sp.first + sp.count], state(sp.iid), symbol,
                      report, m)
        return
    if not _sequence_ok(venue, kind, sp, report):
        report.sequence_gaps += 1
        report.errors.append(f"line {m.line}: sequence gap on {symbol}")
    st = state(sp.iid)
    part = deltas[sp.first:sp.first + sp.count]
    if venue in _REST_SNAPSHOTS:
        if kind == MessageKind.BOOK_SNAPSHOT:
            st.book.apply_deltas(part)
            st.snapshot_seq = sp.last_seq
            st.synced = False
            st.last_seq = -1
            return
        if st.snapshot_seq < 0:
            return                                     # no snapshot yet: nothing to apply to
        if venue == "binance_futures":
            if sp.last_seq < st.snapshot_seq:
                return                                 # before the snapshot: dropped
        elif sp.last_seq <= st.snapshot_seq:
            return
        if not st.synced and venue == "kucoin":
            # the diff that bridges the snapshot: only its changes after the snapshot
            part = part[part["sequence"] > st.snapshot_seq]
        st.synced = True
    elif kind == MessageKind.BOOK_SNAPSHOT:
        st.synced = True
    elif not st.synced:
        return                                         # Bitfinex after a connection gap
    st.book.apply_deltas(part)
    if st.synced and st.book.is_crossed:
        report.crossed_books += 1
        report.errors.append(f"line {m.line}: crossed book on {symbol}")
    cs = sp.checksum
    if cs is not None and cs != 0 and venue in ("kraken", "okx"):
        mine = st.book.checksum(venue)
        if (mine - cs) % (1 << 32) == 0:
            report.checksums_verified += 1
        else:
            report.checksums_failed += 1
            report.errors.append(f"line {m.line}: checksum {cs} != book {mine} on {symbol}")


#: diffs kept per symbol while it waits for a Binance futures REST snapshot (oldest dropped)
_MAX_PENDING = 100_000


def _futures_span(kind: MessageKind, sp: _Span, part: Any, st: _BookState, symbol: str,
                  report: VerifyReport, m: RecordedMessage) -> None:
    """Binance USDⓈ-M futures book sync, per symbol, as documented: diffs are buffered until a
    REST snapshot; then diffs with ``u < lastUpdateId`` are dropped, the first applied one has
    ``U <= lastUpdateId <= u`` and every next one ``pu == previous u``.  A gap is counted once;
    the symbol then waits (its book unchecked) for its next snapshot, bridged to the diffs
    buffered meanwhile (which are still chained to each other).  A snapshot no newer than a
    synced book (its answer came after diffs past its ``lastUpdateId``) is not needed: the
    chain goes on."""
    if kind == MessageKind.BOOK_SNAPSHOT:
        if st.synced and sp.last_seq <= st.last_seq:
            return
        st.book.apply_deltas(part)                     # the snapshot clears the book first
        st.snapshot_seq = sp.last_seq
        st.synced = False
        st.last_seq = -1
        pending, st.pending = st.pending, []
        for psp, ppart, pm in pending:
            _futures_diff(psp, ppart, st, symbol, report, pm)
        return
    _futures_diff(sp, part, st, symbol, report, m)


def _futures_diff(sp: _Span, part: Any, st: _BookState, symbol: str, report: VerifyReport,
                  m: RecordedMessage) -> None:
    gap = False
    if st.snapshot_seq < 0:                            # waiting for a snapshot: buffer
        report.sequence_checks += bool(st.pending)
        if st.pending and sp.prev_seq != st.pending[-1][0].last_seq:
            gap = True
            st.pending.clear()
        elif len(st.pending) >= _MAX_PENDING:
            del st.pending[0]
        st.pending.append((sp, part.copy(), m))
    elif not st.synced:                                # bridging onto the snapshot
        if sp.last_seq < st.snapshot_seq:
            return                                     # older than the snapshot: dropped
        report.sequence_checks += 1
        if sp.first_seq > st.snapshot_seq:
            gap = True                                 # events between were missed
        else:
            st.synced = True
    else:
        report.sequence_checks += 1
        gap = sp.prev_seq != st.last_seq
    if gap:
        report.sequence_gaps += 1
        report.errors.append(f"line {m.line}: sequence gap on {symbol}")
        if st.snapshot_seq >= 0:                       # resync: wait for the next snapshot
            st.snapshot_seq = -1
            st.synced = False
            st.pending = [(sp, part.copy(), m)]
        return
    if not st.synced:
        return
    st.last_seq = sp.last_seq
    st.book.apply_deltas(part)
    if st.book.is_crossed:
        report.crossed_books += 1
        report.errors.append(f"line {m.line}: crossed book on {symbol}")


def _sequence_ok(venue: str, kind: MessageKind, sp: _Span, report: VerifyReport) -> bool:
    """Per-venue sequence rules; remembers the last sequence per instrument and counts the
    checks made (``sequence_checks``)."""
    seqs = report.__dict__.setdefault("_last", {})
    key = sp.iid
    last = seqs.get(key)
    ok = True
    checked = False
    if venue in _REST_SNAPSHOTS:
        # Binance spot / KuCoin: the first diff after the snapshot has first <= id + 1 <= last,
        # then first == previous last + 1 (USDⓈ-M futures have their own rule: _futures_span)
        if kind == MessageKind.BOOK_SNAPSHOT:
            seqs[key] = ("snap", sp.last_seq)
            return True
        if last is not None and last[0] == "snap":
            if sp.last_seq <= last[1]:
                return True                        # older than the snapshot: dropped
            ok = sp.first_seq <= last[1] + 1 <= sp.last_seq
            checked = True
        elif last is not None:
            ok = sp.first_seq == last[1] + 1
            checked = True
        seqs[key] = ("diff", sp.last_seq)   # (a stream without its snapshot: chained from
                                            # its first diff on)
    elif venue in ("bybit", "kraken_futures"):
        if kind == MessageKind.BOOK_UPDATE and last is not None:
            ok = sp.last_seq == last[1] + 1
            checked = True
        seqs[key] = ("u", sp.last_seq)
    elif venue in ("okx", "deribit", "htx") and sp.has_seq:
        if kind == MessageKind.BOOK_UPDATE and last is not None:
            ok = sp.prev_seq == last[1]
            checked = True
        seqs[key] = ("seq", sp.last_seq)
    report.sequence_checks += checked
    return ok


def _kraken_depth(messages: Sequence[RecordedMessage]) -> int:
    for m in messages:
        found = re.search(rb'"book-(\d+)"', m.data)
        if found:
            return int(found.group(1))
    return 0


_VERIFY_VENUES = sorted([*VENUES, *VENUE_ALIASES])


def _venue_arg(text: str) -> str:
    venue = text.strip().lower()
    if venue not in _VERIFY_VENUES:
        raise argparse.ArgumentTypeError(
            f"unknown venue {text!r}; one of {', '.join(_VERIFY_VENUES)}")
    return venue


def _decimals_arg(text: str) -> tuple[str, int, int]:
    sym, eq, pq = text.partition("=")
    p, comma, q = pq.partition(",")
    try:
        if not (sym and eq and comma):
            raise ValueError
        pd, sd = int(p), int(q)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected SYMBOL=PRICE_DECIMALS,SIZE_DECIMALS (e.g. BTCUSDT=2,5), got {text!r}"
        ) from None
    if not (0 <= pd <= 18 and 0 <= sd <= 18):
        raise argparse.ArgumentTypeError(f"decimals are 0 to 18, got {text!r}")
    return sym, pd, sd


def _depth_arg(text: str) -> int:
    try:
        depth = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if depth < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (unbounded) or more, got {depth}")
    return depth


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="recording(s) (*.txt / *.jsonl)")
    p.add_argument("--venue", required=True, type=_venue_arg,
                   help=f"{' | '.join(_VERIFY_VENUES)} (any case)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--decimals", action="append", default=[], metavar="SYM=P,S",
                   type=_decimals_arg,
                   help="price,size decimals of a symbol (repeatable); others are inferred")
    p.add_argument("--depth", type=_depth_arg, default=None, metavar="N",
                   help="book depth kept for checksums (Kraken: the subscribed depth; "
                        "0 = unbounded)")


def read_messages(files: Sequence[str | Path]) -> list[RecordedMessage]:
    """Every message of ``files`` merged by local time; `CliError` for a file that cannot be read
    or is not a recording."""
    messages: list[RecordedMessage] = []
    for f in files:
        path = Path(f)
        if path.is_dir():
            raise CliError(f"{f}: is a directory; give the recording files in it "
                           f"(for instance {path / '*.txt'})")
        try:
            messages.extend(read_recording(path))
        except FileNotFoundError:
            raise CliError(f"{f}: no such file") from None
        except OSError as exc:
            raise CliError(f"{f}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:      # read_recording's "not a recording line", bad bytes
            raise CliError(f"{exc}: expected 'TIME: JSON' or 'URL -> TIME: JSON' lines "
                           "(tests/data/README-shared-data.md) or a .jsonl file") from None
    messages.sort(key=lambda m: m.ts_ns)
    return messages


def _add_notes(report: VerifyReport, messages: Sequence[RecordedMessage]) -> None:
    """Hints for a user: what was not checked and what to pass besides."""
    venue = report.venue
    if report.messages == 0:
        report.notes.append("nothing to verify: no messages in the file(s)")
        return
    if report.decode_errors == report.messages:
        report.notes.append(f"no message decoded as {venue}: is --venue right?")
    elif not report.checked and not report.failed:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.other_messages.items()))
        report.notes.append(f"nothing to verify: none of the {report.messages} messages "
                            f"carried market data ({kinds})")
    if report.unknown_symbols:
        report.notes.append("symbols whose decimals could not be inferred: give them with "
                            "--decimals SYM=P,S")
    if venue in _REST_SNAPSHOTS:
        path = _REST_SNAPSHOTS[venue]
        rest = sum(1 for m in messages if m.kind == "rest" and path in m.url)
        stream = sum(1 for m in messages if m.kind == "recv")
        who = "KuCoin" if venue == "kucoin" else "Binance"
        if rest and not stream:
            report.notes.append(
                "only REST depth snapshots: the snapshots decode and build books, but with no "
                "depth stream nothing chains onto them; pass the websocket recording with it: "
                f"hftcore verify STREAM.txt SNAPSHOTS.txt --venue {venue}")
        elif report.data_messages.get("book_update") and not rest:
            report.notes.append(
                "no REST depth snapshot: depth updates were sequence-checked but not applied "
                f"to books ({who} diffs start from a snapshot); pass the snapshot recording "
                f"with it: hftcore verify STREAM.txt SNAPSHOTS.txt --venue {venue}")


@command("verify", "replay a recording through decoders and books and report problems", _args)
def _verify(args: argparse.Namespace) -> int:
    venue: str = args.venue
    messages = read_messages(args.files)
    decimals = infer_decimals(venue, messages)
    for sym, p, q in args.decimals:
        decimals[sym] = (p, q)
    depth = args.depth
    if depth is None:
        depth = _kraken_depth(messages) if venue == "kraken" else 0
    for sym, (p, q) in decimals.items():
        try:                             # a symbol the decoder cannot hold (too long, ...)
            decoder_for(venue, [Instrument(venue, sym, p, q, instrument_id=1)])
        except ValueError as exc:
            raise CliError(f"cannot replay the recording: {exc}", EXIT_FAILED) from None
    report = verify_messages(venue, messages, decimals, depth)
    _add_notes(report, messages)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        d = report.as_dict()
        print(f"{report.status.upper()}: {venue} {' '.join(map(str, args.files))}")
        for k in ("messages", "data_messages", "other_messages", "book_updates",
                  "checksums_verified", "checksums_failed", "sequence_gaps", "sequence_checks",
                  "crossed_books",
                  "decode_errors", "unknown_symbols", "sizes_rounded", "books_checked"):
            print(f"  {k:20} {d[k]}")
        for e in d["errors"]:
            print(f"  ! {e}")
        for n in report.notes:
            print(f"  note: {n}")
    return report.exit_code
