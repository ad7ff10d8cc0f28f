"""Exchange message decoders: websocket frame bytes to batches of C records.

One decoder per venue; each has ``decode(frame, recv_ts) -> kind`` and fills reusable record
batches (``deltas``, ``trades``, ``bbos``, ``orders``) that are numpy structured arrays viewing the
decoder's memory, *borrowed until the next decode*.  Prices and sizes are int64 counts at the
instrument's decimals, parsed from the wire text (never through float).  See docs/decoders.md.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hftcore._ext import decode as _decode
from hftcore._ext.decode import (
    BinanceDecoder,
    BinanceFuturesDecoder,
    BitfinexDecoder,
    BybitDecoder,
    CoinbaseDecoder,
    Decoder,
    DeribitDecoder,
    HtxDecoder,
    KrakenDecoder,
    KrakenFuturesDecoder,
    KucoinDecoder,
    OkxDecoder,
)
from hftcore._ext.records import (
    BBO_DTYPE,
    BBO_NO_ASK,
    BBO_NO_BID,
    BBO_NO_SIZE,
    BOOK_DELTA_DTYPE,
    BOOK_SPAN_DTYPE,
    DELTA_CLEAR,
    DELTA_CLEAR_SIDE,
    DELTA_LAST,
    DELTA_REPUBLISH,
    DELTA_SNAPSHOT,
    NO_INSTRUMENT_ID,
    ORDER_HAS_FEE,
    ORDER_IS_FILL,
    ORDER_IS_MAKER,
    ORDER_STATUS_UNKNOWN,
    ORDER_TRADE_ID_TEXT,
    ORDER_TYPE_UNKNOWN,
    ORDER_UPDATE_DTYPE,
    TRADE_DTYPE,
    TRADE_ID_TEXT,
    TRADE_SNAPSHOT,
    BboFlag,
    DecodeError,
    DecodeErrorCode,
    DeltaFlag,
    MessageKind,
    OrderFlag,
    SpanFlag,
    TradeFlag,
)
from hftcore.model import Instrument

__all__ = [
    "BBO_DTYPE",
    "BBO_NO_ASK",
    "BBO_NO_BID",
    "BBO_NO_SIZE",
    "BOOK_DELTA_DTYPE",
    "BOOK_SPAN_DTYPE",
    "DELTA_CLEAR",
    "DELTA_CLEAR_SIDE",
    "DELTA_LAST",
    "DELTA_REPUBLISH",
    "DELTA_SNAPSHOT",
    "NO_INSTRUMENT_ID",
    "ORDER_HAS_FEE",
    "ORDER_IS_FILL",
    "ORDER_IS_MAKER",
    "ORDER_STATUS_UNKNOWN",
    "ORDER_TRADE_ID_TEXT",
    "ORDER_TYPE_UNKNOWN",
    "ORDER_UPDATE_DTYPE",
    "TRADE_DTYPE",
    "TRADE_ID_TEXT",
    "TRADE_SNAPSHOT",
    "VENUES",
    "VENUE_ALIASES",
    "BboFlag",
    "BinanceDecoder",
    "BinanceFuturesDecoder",
    "BitfinexDecoder",
    "BybitDecoder",
    "CoinbaseDecoder",
    "DecodeError",
    "DecodeErrorCode",
    "Decoder",
    "DeltaFlag",
    "DeribitDecoder",
    "HtxDecoder",
    "KrakenDecoder",
    "KrakenFuturesDecoder",
    "KucoinDecoder",
    "MessageKind",
    "OkxDecoder",
    "OrderFlag",
    "RecordedMessage",
    "SpanFlag",
    "TradeFlag",
    "bytes_literal",
    "decoder_for",
    "message_text",
    "read_recording",
]


def _venue_decoders() -> dict[str, type[Decoder]]:
    """Every venue decoder of the compiled core by its ``VENUE`` name: adding a venue's decoder
    class to ``hftcore._ext.decode`` adds it here without touching this file."""
    found: dict[str, type[Decoder]] = {}
    stack = list(Decoder.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.VENUE and cls.__module__ == _decode.__name__:
            if cls.VENUE in found:
                raise RuntimeError(f"two decoders for venue {cls.VENUE!r}: "
                                   f"{found[cls.VENUE]}, {cls}")
            found[cls.VENUE] = cls
    return dict(sorted(found.items()))


#: venue name -> decoder class
VENUES: dict[str, type[Decoder]] = _venue_decoders()

#: markets of a venue that have their own name (hosts, book-sync rule) but the venue's decoder
#: (none now: Binance USDⓈ-M futures has its own, ``BinanceFuturesDecoder``)
VENUE_ALIASES: dict[str, str] = {}


def decoder_for(venue: str, instruments: Iterable[Instrument] = (), **options: object) -> Decoder:
    """A decoder for ``venue`` (a name of `VENUES` or `VENUE_ALIASES`) filled with instruments.

    ``options`` go to the decoder (``strict``, ``fee_decimals``, ``capacity``).
    """
    name = venue.lower()
    try:
        cls = VENUES[VENUE_ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown venue {venue!r}; one of "
                         f"{sorted([*VENUES, *VENUE_ALIASES])}") from None
    return cls(instruments, **options)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One line of a recording (format of tests/data/README-shared-data.md).

    ``kind`` is ``"recv"`` (a websocket message), ``"rest"`` (a REST response, ``url`` set) or
    ``"sent"``; ``ts_ns`` is the local time in nanoseconds; ``data`` the raw JSON bytes.
    """

    kind: str
    ts_ns: int
    data: bytes
    url: str = ""
    line: int = 0


_RECV = re.compile(rb"^(\d+(?:\.\d+)?): ")
_URL = re.compile(rb"^(\S+) (->|<-|<->) (\d+(?:\.\d+)?)(?:: )?")


def _seconds_to_ns(text: bytes) -> int:
    whole, _, frac = text.partition(b".")
    return int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9] or b"0")


_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[\\'\"tnr])")
_SIMPLE_ESCAPES = {b"\\": b"\\", b"'": b"'", b'"': b'"', b"t": b"\t", b"n": b"\n", b"r": b"\r"}


def _unescape(m: re.Match[bytes]) -> bytes:
    e = m.group(1)
    return bytes([int(e[1:], 16)]) if e[:1] == b"x" else _SIMPLE_ESCAPES[e]


def bytes_literal(text: bytes) -> bytes:
    """A binary frame written as a Python bytes literal (``b'\\x1f\\x8b...'``, as the HTX
    recordings keep their gzip frames) -> its bytes.  Only what ``repr(bytes)`` writes is
    accepted (printable ASCII and the escapes ``\\\\ \\' \\" \\t \\n \\r \\xHH``);
    anything else is a ``ValueError``."""
    if len(text) < 3 or text[:1] != b"b" or text[1:2] not in (b"'", b'"') or \
            text[-1:] != text[1:2]:
        raise ValueError("not a bytes literal")
    quote, body = text[1:2], text[2:-1]
    rest = _ESCAPE.sub(b"", body)
    if b"\\" in rest or quote in rest or any(c < 32 or c > 126 for c in rest):
        raise ValueError("bad character or escape in a bytes literal")
    return _ESCAPE.sub(_unescape, body)


def message_text(data: bytes) -> bytes:
    """A message's JSON text: gzip frames (HTX) inflated, others as they are."""
    if data[:2] == b"\x1f\x8b":
        return zlib.decompress(data, 47)
    return data


def _payload(body: bytes) -> bytes:
    return bytes_literal(body) if body[:2] in (b"b'", b'b"') else body


def read_recording(path: str | Path) -> Iterator[RecordedMessage]:
    """Yield the messages of a recording file (``*.txt``) or a JSON-lines file (``*.jsonl``).

    A binary frame written as a Python bytes literal (``b'\\x1f\\x8b...'``: HTX gzip frames) is
    given as its bytes."""
    from hftcore.data.recordings import open_recording  # .gz / .zst too

    p = Path(path)
    with open_recording(p) as fh:
        for no, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            if ".jsonl" in p.suffixes:
                yield RecordedMessage("recv", 0, line, line=no)
                continue
            m = _RECV.match(line)
            if m:
                try:
                    body = _payload(line[m.end():])
                except ValueError as exc:
                    raise ValueError(f"{p}:{no}: {exc}") from None
                yield RecordedMessage("recv", _seconds_to_ns(m.group(1)), body, line=no)
                continue
            m = _URL.match(line)
            if m is None:
                raise ValueError(f"{p}:{no}: not a recording line")
            arrow = m.group(2)
            if arrow == b"<->":
                continue
            kind = "rest" if arrow == b"->" else "sent"
            yield RecordedMessage(
                kind, _seconds_to_ns(m.group(3)), line[m.end():], m.group(1).decode(), line=no
            )
