"""Where a backtest's events come from: event files and recordings, merged in receive time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hftcore.data.eventfile import EventFile, is_event_file, iter_chunks
from hftcore.data.recordings import infer_instruments
from hftcore.model import Instrument
from hftcore.venues.replay import Replay, ReplayStats, merge_streams

__all__ = ["DataSources"]


class DataSources:
    """Event files and recordings for one run, as one time-ordered stream of event arrays.

    Instruments default to the event files' own and to those the recordings contain; when given,
    every instrument of an event file must be among them (matched by venue and symbol, with the
    same decimals) and its records are renumbered to the run's instrument indices.
    """

    def __init__(self, data: str | Path | Sequence[str | Path],
                 instruments: Sequence[Instrument] | None = None, *, venue: str | None = None,
                 strict: bool = False, chunk: int = 1 << 18) -> None:
        paths = [Path(data)] if isinstance(data, str | Path) else [Path(p) for p in data]
        if not paths:
            raise ValueError("data: no file given")
        for p in paths:
            if p.is_dir():
                raise IsADirectoryError(f"{p}: is a directory, not a recording or event file")
            if not p.exists():
                raise FileNotFoundError(f"{p}: no such file")
        self.event_files = [EventFile(p) for p in paths if is_event_file(p)]
        self.recordings = [p for p in paths if not is_event_file(p)]
        self.chunk = chunk
        if instruments is None:
            insts: list[Instrument] = []
            for ef in self.event_files:
                insts.extend(i for i in ef.instruments if i not in insts)
            if self.recordings:
                insts.extend(i for i in infer_instruments(self.recordings, venue)  # type: ignore[arg-type]
                             if i not in insts)
        else:
            insts = list(instruments)
        self.instruments = insts
        key = {(i.venue, i.symbol): k for k, i in enumerate(insts)}
        self._maps: list[np.ndarray[Any, Any]] = []
        for ef in self.event_files:
            m = np.empty(len(ef.instruments), dtype=np.uint32)
            for j, fi in enumerate(ef.instruments):
                k = key.get((fi.venue, fi.symbol))
                if k is None:
                    raise ValueError(f"{ef.path}: instrument {fi.venue} {fi.symbol} is not among "
                                     "the backtest's instruments")
                mine = insts[k]
                if (mine.price_decimals, mine.size_decimals) != (fi.price_decimals,
                                                                 fi.size_decimals):
                    raise ValueError(f"{ef.path}: {fi.symbol} has decimals "
                                     f"{fi.price_decimals}/{fi.size_decimals} in the file, "
                                     f"{mine.price_decimals}/{mine.size_decimals} given")
                m[j] = k
            self._maps.append(m)
        self.replay = Replay(self.recordings, insts, venue=venue, strict=strict) \
            if self.recordings else None
        self.book_depth = dict(self.replay.book_depth) if self.replay else {}
        self.total_bytes = sum(p.stat().st_size for p in paths)
        self._ev_bytes = 0

    def _event_stream(self, k: int) -> Iterator[np.ndarray[Any, Any]]:
        ef = self.event_files[k]
        m = self._maps[k]
        identity = bool(np.array_equal(m, np.arange(len(m))))
        for arr in iter_chunks(ef.path, self.chunk):
            if not identity:
                arr["instrument"] = m[arr["instrument"]]
            self._ev_bytes += arr.nbytes
            yield arr

    def __iter__(self) -> Iterator[np.ndarray[Any, Any]]:
        streams = [self._event_stream(k) for k in range(len(self.event_files))]
        if self.replay is not None:
            streams.append(iter(self.replay))
        yield from merge_streams(streams)

    def bytes_read(self) -> int:
        """Bytes consumed so far (for progress)."""
        rb = sum(g.bytes for g in self.replay.groups) if self.replay else 0
        return rb + self._ev_bytes

    def stats(self) -> ReplayStats:
        """Counters of the recordings read (event files add their records to ``messages``)."""
        s = self.replay.stats() if self.replay else ReplayStats()
        for ef in self.event_files:
            s.files.append(str(ef.path))
        s.bytes += self._ev_bytes
        return s
