"""Exchange message decoders: websocket frame bytes to batches of C records.

One decoder per venue; each has ``decode(frame, recv_ts) -> kind`` and fills reusable record
batches (``deltas``, ``trades``, ``bbos``, ``orders``) that are numpy structured arrays viewing the
decoder's memory, *borrowed until the next decode*.  Prices and sizes are int64 counts at the
instrument's decimals, parsed from the wire text (never through float).  See docs/decoders.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from hftcore._ext.decode import (
    BBO_DTYPE,
    BOOK_DELTA_DTYPE,
    ORDER_UPDATE_DTYPE,
    TRADE_DTYPE,
    BinanceDecoder,
    BybitDecoder,
    CoinbaseDecoder,
    Decoder,
    KrakenDecoder,
    OkxDecoder,
)
from hftcore.model import Instrument

__all__ = [
    "BBO_DTYPE",
    "BBO_NO_ASK",
    "BBO_NO_BID",
    "BBO_NO_SIZE",
    "BOOK_DELTA_DTYPE",
    "DELTA_CLEAR",
    "DELTA_LAST",
    "DELTA_REPUBLISH",
    "DELTA_SNAPSHOT",
    "ORDER_HAS_FEE",
    "ORDER_IS_FILL",
    "ORDER_IS_MAKER",
    "ORDER_TRADE_ID_TEXT",
    "ORDER_UPDATE_DTYPE",
    "TRADE_DTYPE",
    "TRADE_ID_TEXT",
    "VENUES",
    "BinanceDecoder",
    "BybitDecoder",
    "CoinbaseDecoder",
    "Decoder",
    "KrakenDecoder",
    "MessageKind",
    "OkxDecoder",
    "RecordedMessage",
    "decoder_for",
    "read_recording",
]

# record flags (the same values as the C enums in hftcore/_ext/types.pxd)
DELTA_SNAPSHOT = 1
DELTA_CLEAR = 2
DELTA_LAST = 4
DELTA_REPUBLISH = 16
TRADE_ID_TEXT = 1
BBO_NO_SIZE = 1
BBO_NO_BID = 2
BBO_NO_ASK = 4
ORDER_IS_FILL = 1
ORDER_IS_MAKER = 2
ORDER_HAS_FEE = 4
ORDER_TRADE_ID_TEXT = 8


class MessageKind(IntEnum):
    """What ``decode`` found (the same codes as the C ``K_*`` constants)."""

    NONE = 0
    BOOK_SNAPSHOT = 1
    BOOK_UPDATE = 2
    TRADE = 3
    BBO = 4
    ORDER = 5
    UNKNOWN_SYMBOL = 6
    HEARTBEAT = 7
    SUBSCRIBED = 8
    VENUE_ERROR = 9
    STATUS = 10
    OTHER = 11

    @property
    def is_data(self) -> bool:
        """True for kinds that filled records."""
        return 1 <= self.value <= 5


#: venue name -> decoder class
VENUES: dict[str, type[Decoder]] = {
    "binance": BinanceDecoder,
    "bybit": BybitDecoder,
    "okx": OkxDecoder,
    "kraken": KrakenDecoder,
    "coinbase": CoinbaseDecoder,
}


def decoder_for(venue: str, instruments: Iterable[Instrument] = (), **options: object) -> Decoder:
    """A decoder for ``venue`` (binance, bybit, okx, kraken, coinbase) filled with instruments.

    ``options`` go to the decoder (``strict``, ``fee_decimals``, ``capacity``).
    """
    try:
        cls = VENUES[venue.lower()]
    except KeyError:
        raise ValueError(f"unknown venue {venue!r}; one of {sorted(VENUES)}") from None
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


def read_recording(path: str | Path) -> Iterator[RecordedMessage]:
    """Yield the messages of a recording file (``*.txt``) or a JSON-lines file (``*.jsonl``)."""
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
                yield RecordedMessage("recv", _seconds_to_ns(m.group(1)), line[m.end():], line=no)
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
