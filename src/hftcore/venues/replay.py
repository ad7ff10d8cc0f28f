"""Replay recorded venue messages as engine events: the same decoders and book-sync procedures
as live data, several files and venues merged in receive-time order.

Files of one venue share one :class:`hftcore._ext.feed.Feed` (a Binance REST snapshot file and
its stream sync together); their lines are interleaved by receive time.  Venues are merged event
by event on receive time (ties keep the order of ``paths``), so the result does not depend on
chunk sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hftcore._ext.feed import EVENT_DTYPE, SYNC_RULES, Feed
from hftcore.data.recordings import RecordingInfo, open_recording, recording_info
from hftcore.decoders import VENUE_ALIASES, VENUES, decoder_for
from hftcore.model import Instrument

__all__ = ["Replay", "ReplayStats", "merge_streams"]

_INT64_MAX = (1 << 63) - 1
_CHUNK = 1 << 20


@dataclass(slots=True)
class ReplayStats:
    """What a replay read: per venue, messages, decode errors, unknown symbols, sequence gaps."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0
    messages: int = 0
    decode_errors: int = 0
    unknown_symbols: int = 0
    gaps: int = 0
    errors: list[str] = field(default_factory=list)
    per_venue: dict[str, dict[str, int]] = field(default_factory=dict)


def merge_streams(streams: Sequence[Iterator[np.ndarray[Any, Any]]]
                  ) -> Iterator[np.ndarray[Any, Any]]:
    """Merge time-ordered event streams into one, on receive time; ties keep stream order.

    Each stream yields arrays of whole messages; an array may be reused by its stream after the
    next one is asked for, so what is held back is copied.
    """
    its = list(streams)
    if len(its) == 1:
        yield from its[0]
        return
    pending: list[np.ndarray[Any, Any] | None] = [None] * len(its)
    done = [False] * len(its)
    while True:
        for k, it in enumerate(its):
            while not done[k] and (pending[k] is None or len(pending[k]) == 0):  # type: ignore[arg-type]
                nxt = next(it, None)
                if nxt is None:
                    done[k] = True
                    pending[k] = None
                else:
                    pending[k] = np.array(nxt, copy=True)
        live = [k for k in range(len(its)) if pending[k] is not None]
        if not live:
            return
        open_ = [k for k in live if not done[k]]
        if open_:
            wm = min(int(pending[k]["local_ts"][-1]) for k in open_)  # type: ignore[index]
        else:
            wm = max(int(pending[k]["local_ts"][-1]) for k in live)  # type: ignore[index]
        parts = []
        for k in live:
            arr = pending[k]
            assert arr is not None
            cut = int(np.searchsorted(arr["local_ts"], wm, side="right"))
            if cut:
                parts.append(arr[:cut])
                rest = arr[cut:]
                pending[k] = rest if len(rest) else None
        if not parts:
            continue
        merged = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:
            merged = merged[np.argsort(merged["local_ts"], kind="stable")]
        yield merged


class _File:
    """One recording being read: its buffer, the offset the feed reached, its next line's time."""

    def __init__(self, info: RecordingInfo) -> None:
        self.info = info
        self.fh = open_recording(info.path)
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.next_ts = -1 if info.jsonl else 0
        self.done = False

    def view(self) -> memoryview:
        return memoryview(self.buf)[self.pos:]

    def refill(self, chunk: int) -> int:
        data = self.fh.read(chunk)
        if not data:
            self.eof = True
            self.fh.close()
            return 0
        self.buf = bytes(self.buf[self.pos:]) + data if self.pos < len(self.buf) else data
        self.pos = 0
        return len(data)


class _VenueGroup:
    """The files of one venue and their shared feed."""

    def __init__(self, venue: str, files: list[RecordingInfo], instruments: list[Instrument],
                 indices: list[int], n_inst: int, strict: bool) -> None:
        if venue not in VENUES and venue not in VENUE_ALIASES:
            raise ValueError(f"venue {venue!r}: no decoder (known: "
                             f"{sorted([*VENUES, *VENUE_ALIASES])})")
        if venue not in SYNC_RULES:
            raise ValueError(f"venue {venue!r}: no book-sync rule")
        self.venue = venue
        dec = decoder_for(venue)
        for inst, idx in zip(instruments, indices, strict=True):
            dec.add_symbol(inst.symbol, idx, inst.price_decimals, inst.size_decimals)
        self.feed = Feed(dec, venue, n_inst, strict=strict)
        self.files = [_File(f) for f in files]
        self.bytes = 0

    def _run(self, f: _File, until: int, chunk: int) -> Iterator[np.ndarray[Any, Any]]:
        """Feed ``f``'s lines received up to ``until``; stop at the first later line."""
        feed = self.feed
        while True:
            used, nts = feed.feed_text(f.view(), f.info.jsonl, until, f.eof)
            f.pos += used
            if feed.n_events:
                yield feed.take()
            if nts is not None:
                f.next_ts = nts
                return
            if f.eof:
                f.done = True
                return
            self.bytes += f.refill(chunk)

    def chunks(self, chunk: int) -> Iterator[np.ndarray[Any, Any]]:
        files = self.files
        for f in files:          # learn when each file's first received line was received
            if not f.info.jsonl:
                yield from self._run(f, -1, chunk)
        while True:
            live = [f for f in files if not f.done]
            if not live:
                return
            cur = min(live, key=lambda f: f.next_ts)
            others = [f.next_ts for f in live if f is not cur]
            until = min(others) if others else _INT64_MAX
            yield from self._run(cur, max(until, cur.next_ts), chunk)


class Replay:
    """Recordings -> time-ordered engine event arrays, for an engine's instruments.

    Parameters
    ----------
    paths : path or sequence of paths
        Recordings (``.txt``, ``.jsonl``, optionally ``.gz`` / ``.zst``).
    instruments : sequence of Instrument
        The engine's instruments (their position is their engine index); each file feeds the
        instruments of its venue.
    venue : str, optional
        Force the venue of every file (default: detected from the file).
    strict : bool
        Raise on the first bad message instead of counting it.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path],
                 instruments: Sequence[Instrument], *, venue: str | None = None,
                 strict: bool = False, chunk_size: int = _CHUNK) -> None:
        plist = [paths] if isinstance(paths, str | Path) else list(paths)
        if not plist:
            raise ValueError("paths: no recording given")
        self.instruments = list(instruments)
        infos = []
        for p in plist:
            info = recording_info(p)
            v = venue.lower() if venue else info.venue
            if v is None:
                raise ValueError(f"{p}: cannot tell the venue of this recording; pass venue=")
            infos.append(RecordingInfo(info.path, v, info.jsonl, info.book_depth))
        self.infos = infos
        self.chunk_size = chunk_size
        by_venue: dict[str, list[RecordingInfo]] = {}
        for info in infos:
            assert info.venue is not None
            by_venue.setdefault(info.venue, []).append(info)
        self.groups: list[_VenueGroup] = []
        self.book_depth: dict[int, int] = {}
        n = len(self.instruments)
        for v, files in by_venue.items():
            want = "binance" if v == "binance_futures" else v
            pairs = [(inst, i) for i, inst in enumerate(self.instruments)
                     if inst.venue.lower() in (v, want)]
            if not pairs:
                raise ValueError(f"{files[0].path}: a {v} recording, but no {v} instrument was "
                                 "given")
            self.groups.append(_VenueGroup(v, files, [p[0] for p in pairs],
                                           [p[1] for p in pairs], n, strict))
            depth = max(f.book_depth for f in files)
            if depth:
                for _, i in pairs:
                    self.book_depth[i] = depth

    def __iter__(self) -> Iterator[np.ndarray[Any, Any]]:
        """Event arrays (``EVENT_DTYPE``) in receive-time order."""
        if len(self.groups) == 1:
            yield from self.groups[0].chunks(self.chunk_size)
            return
        yield from merge_streams([g.chunks(self.chunk_size) for g in self.groups])

    def stats(self) -> ReplayStats:
        """Counters so far."""
        s = ReplayStats(files=[str(i.path) for i in self.infos])
        for g in self.groups:
            f = g.feed
            s.bytes += g.bytes
            s.messages += f.messages
            s.decode_errors += f.decode_errors
            s.unknown_symbols += f.unknown_symbols
            s.gaps += f.gaps
            s.errors.extend(f.errors[:20])
            s.per_venue[g.venue] = {"messages": f.messages, "decode_errors": f.decode_errors,
                                    "unknown_symbols": f.unknown_symbols, "gaps": f.gaps,
                                    "stale_dropped": f.stale_dropped,
                                    "dropped_buffered": f.dropped_buffered}
        return s


EVENTS = EVENT_DTYPE
