"""Recorded venue messages: open plain / gzip / zstd files, tell their venue, stream their bytes.

The format (one event per line) is that of ``tests/data/README-shared-data.md``::

    <ws-url> <-> <ts>                connection opened
    <ws-url> <- <ts>: <json>         message sent (subscribe)
    <recv_ts>: <raw json>            message received (local unix time, seconds)
    <http-url> -> <ts>: <json>       REST response

``*.jsonl`` files hold one raw message per line and no receive time (the venue's time is used).
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "VENUE_HOSTS",
    "RecordingInfo",
    "detect_venue",
    "infer_instruments",
    "is_jsonl",
    "open_recording",
    "read_chunks",
    "read_messages",
    "recording_info",
]

#: URL host fragments -> venue name (the first match wins; futures hosts before spot)
VENUE_HOSTS: tuple[tuple[str, str], ...] = (
    ("fstream.binance", "binance_futures"),
    ("fapi.binance", "binance_futures"),
    ("/fapi/v1/", "binance_futures"),          # a futures REST path on any host (loopback)
    ("binance", "binance"),
    ("bybit", "bybit"),
    ("okx.com", "okx"),
    ("okex.com", "okx"),
    ("futures.kraken", "kraken_futures"),
    ("kraken", "kraken"),
    ("coinbase", "coinbase"),
    ("kucoin", "kucoin"),
    ("huobi", "htx"),
    ("htx", "htx"),
    ("bitfinex", "bitfinex"),
    ("deribit", "deribit"),
)

_URL_LINE = re.compile(rb"^(\S+) (?:->|<-|<->) \d")
_KRAKEN_DEPTH = re.compile(rb'"depth"\s*:\s*(\d+)|"book-(\d+)"')
_CHUNK = 1 << 20


def is_jsonl(path: str | Path) -> bool:
    """JSON-lines recordings (``.jsonl``, also compressed) have no receive times."""
    suffixes = Path(path).suffixes
    return ".jsonl" in suffixes


def open_recording(path: str | Path) -> IO[bytes]:
    """A binary stream of the recording's text, decompressing ``.gz`` and ``.zst`` files.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` naming the path, and ``ValueError``
    for a ``.zst`` file when the ``zstandard`` package is not installed.
    """
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a directory, not a recording")
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such recording")
    if p.suffix == ".gz":
        return gzip.open(p, "rb")  # type: ignore[return-value]
    if p.suffix in (".zst", ".zstd"):
        try:
            import zstandard
        except ImportError:
            raise ValueError(f"{p}: reading zstd recordings needs the 'zstandard' package "
                             "(pip install 'hftcore[zstd]')") from None
        fh = p.open("rb")
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))
    return p.open("rb")


def read_chunks(path: str | Path, size: int = _CHUNK) -> Iterator[bytes]:
    """The recording's bytes in chunks of about ``size`` (decompressed)."""
    with open_recording(path) as fh:
        while True:
            b = fh.read(size)
            if not b:
                return
            yield b


def _head(path: str | Path, limit: int = 1 << 16) -> bytes:
    with open_recording(path) as fh:
        return fh.read(limit)


def detect_venue(path: str | Path) -> str | None:
    """The venue of a recording, from its URL lines (or its messages for JSON lines)."""
    head = _head(path)
    for line in head.split(b"\n")[:200]:
        m = _URL_LINE.match(line)
        if m:
            url = m.group(1).decode("utf-8", "replace").lower()
            for frag, venue in VENUE_HOSTS:
                if frag in url:
                    return venue
    text = head[:4096]
    if b'"topic":"orderbook.' in text or b'"topic": "orderbook.' in text:
        return "bybit"
    if b'"arg":{"channel"' in text or b'"arg": {"channel"' in text:
        return "okx"
    if b'"e":"depthUpdate"' in text and b'"pu":' in text:
        return "binance_futures"
    if b'"e":"depthUpdate"' in text or b'"lastUpdateId"' in text:
        return "binance"
    if b'"type":"l2update"' in text or b'"type":"snapshot"' in text:
        return "coinbase"
    return None


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What the start of a recording tells: its venue, JSON-lines or not, Kraken book depth."""

    path: Path
    venue: str | None
    jsonl: bool
    book_depth: int


def recording_info(path: str | Path) -> RecordingInfo:
    """Venue, format and (Kraken) subscribed book depth of a recording."""
    venue = detect_venue(path)
    depth = 0
    if venue in ("kraken", "kraken_futures"):
        m = _KRAKEN_DEPTH.search(_head(path))
        if m:
            depth = int(m.group(1) or m.group(2))
    return RecordingInfo(Path(path), venue, is_jsonl(path), depth)


def infer_instruments(paths: str | Path | list[str | Path], venue: str | None = None) -> list[Any]:
    """Instruments (symbol and decimals) seen in recordings: the most decimals each symbol's
    prices and sizes are written with.  For exploring data; give real instruments (tick, lot,
    decimals from the venue) when trading."""
    from hftcore.decoders import RecordedMessage
    from hftcore.model import Instrument
    from hftcore.verify import infer_decimals

    plist = [paths] if isinstance(paths, str | Path) else list(paths)
    by_venue: dict[str, list[RecordedMessage]] = {}
    for p in plist:
        v = venue or detect_venue(p)
        if v is None:
            raise ValueError(f"{p}: cannot tell the venue of this recording; pass venue=")
        msgs = by_venue.setdefault(v, [])
        msgs.extend(RecordedMessage(kind, ts, data, url) for kind, ts, data, url
                    in read_messages(p) if kind in ("recv", "rest"))
    out = []
    for v, msgs in by_venue.items():
        base = "binance" if v == "binance_futures" else v
        for sym, (pd, sd) in sorted(infer_decimals(base, msgs).items()):
            out.append(Instrument(v, sym, pd, sd))
    return out


def read_messages(path: str | Path) -> Iterator[tuple[str, int, bytes, str]]:
    """``(kind, receive_ns, raw_json, url)`` for every message line of a recording, plain or
    compressed; kind ``"recv"``, ``"rest"`` or ``"sent"`` (JSON lines: ``"recv"`` with time 0).
    A binary frame written as a bytes literal (HTX gzip frames) is given as its bytes."""
    from hftcore.decoders import bytes_literal

    jsonl = is_jsonl(path)
    with open_recording(path) as fh:
        for no, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            if jsonl:
                yield ("recv", 0, line, "")
                continue
            head, sep, rest = line.partition(b": ")
            if sep and head[:1].isdigit() and b" " not in head:
                if rest[:2] in (b"b'", b'b"'):
                    try:
                        rest = bytes_literal(rest)
                    except ValueError as exc:
                        raise ValueError(f"{path}:{no}: {exc}") from None
                yield ("recv", _seconds_ns(head), rest, "")
                continue
            m = _URL_ARROW.match(line)
            if m is None:
                raise ValueError(f"{path}:{no}: not a recording line")
            if m.group(2) == b"<->":
                continue
            kind = "rest" if m.group(2) == b"->" else "sent"
            yield (kind, _seconds_ns(m.group(3)), line[m.end():], m.group(1).decode())


_URL_ARROW = re.compile(rb"^(\S+) (->|<-|<->) (\d+(?:\.\d+)?)(?:: )?")


def _seconds_ns(text: bytes) -> int:
    whole, _, frac = text.partition(b".")
    return int(whole) * 1_000_000_000 + int((frac + b"000000000")[:9] or b"0")
