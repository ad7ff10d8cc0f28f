"""Recorded data into an engine on an asyncio event loop, at the recorded pace (or a multiple).

A backtest runs as fast as it can and is over before anyone looks; :class:`PacedReplay` feeds
the same events, in the same order, through the same ``Engine.process`` on the running event
loop, cut at venue-message ends and released when their receive time comes (``pace`` times the
recorded speed), so a dashboard served on the same loop shows the run as it happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from hftcore._ext.feed import EVENT_LAST
from hftcore.venues.replay import ReplayStats

from .snapshot import TradeTape

if TYPE_CHECKING:
    from hftcore.data.sources import DataSources
    from hftcore.engine import Engine

__all__ = ["PacedReplay"]


class PacedReplay:
    """Feed recordings to ``engine`` on the running loop.

    Parameters
    ----------
    engine : Engine
        A backtest-mode engine (the simulated exchange answers the orders).
    sources : callable
        Returns a fresh :class:`~hftcore.data.sources.DataSources` (called once per lap).
    pace : float or None
        Multiple of the recorded speed (1.0: as recorded); ``None``: as fast as the engine
        goes, yielding to the loop every ``batch`` events.
    laps : int
        Times through the data (0: until stopped).  Each lap's times follow the previous
        lap's end, so the engine's clock only moves forward.
    tape : TradeTape, optional
        Gets the market trades of every slice of events (one numpy filter per slice).
    batch : int
        Events at most per engine call between two yields to the loop.
    step : float
        Seconds at most between two looks at the clock while waiting for the next event.
    prune_after_ns : int
        Finished orders older than this (engine clock) are forgotten between laps, so a long
        demo's memory stays flat (their events stay in any journal).
    """

    def __init__(self, engine: Engine, sources: Callable[[], DataSources], *,
                 pace: float | None = 1.0, laps: int = 1, tape: TradeTape | None = None,
                 batch: int = 4096, step: float = 0.02,
                 prune_after_ns: int = 300_000_000_000) -> None:
        if engine.sim is None:
            raise ValueError("engine: a backtest or paper engine (with a simulated exchange)")
        if pace is not None and (isinstance(pace, bool) or not isinstance(pace, int | float)
                                 or not pace > 0):
            raise ValueError(f"pace must be > 0 or None, got {pace!r}")
        if isinstance(laps, bool) or not isinstance(laps, int) or laps < 0:
            raise ValueError(f"laps must be an int >= 0, got {laps!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
            raise ValueError(f"batch must be an int > 0, got {batch!r}")
        if not callable(sources):
            raise TypeError("sources must be a callable returning DataSources")
        self.engine = engine
        self.sources = sources
        self.pace = None if pace is None else float(pace)
        self.laps = laps
        self.tape = tape
        self.batch = batch
        self.step = float(step)
        self.prune_after_ns = prune_after_ns
        self.events = 0
        self.laps_done = 0
        self.totals = ReplayStats()
        self.stopped = False
        self._src: DataSources | None = None

    def stop(self) -> None:
        """Make :meth:`run` return after the slice it is on."""
        self.stopped = True

    def gap_counts(self) -> dict[str, int]:
        """Sequence gaps per venue so far (every lap), for the dashboard's venue table."""
        out = {v: int(s.get("gaps", 0)) for v, s in self.totals.per_venue.items()}
        if self._src is not None:
            for venue, s in self._src.stats().per_venue.items():
                out[venue] = out.get(venue, 0) + int(s.get("gaps", 0))
        return out

    def _add_lap(self, lap: ReplayStats) -> None:
        t = self.totals
        t.files.extend(f for f in lap.files if f not in t.files)
        t.bytes += lap.bytes
        t.messages += lap.messages
        t.decode_errors += lap.decode_errors
        t.unknown_symbols += lap.unknown_symbols
        t.gaps += lap.gaps
        t.errors.extend(lap.errors[:max(0, 100 - len(t.errors))])
        for venue, counts in lap.per_venue.items():
            mine = t.per_venue.setdefault(venue, {})
            for k, v in counts.items():
                mine[k] = mine.get(k, 0) + int(v)

    async def run(self) -> None:
        """Replay until the laps are done or :meth:`stop` is called."""
        loop = asyncio.get_running_loop()
        engine = self.engine
        offset = 0                 # ns added to every time of this lap
        wall0 = t0 = 0.0
        first_seen = False
        lap = 0
        while not self.stopped and (self.laps == 0 or lap < self.laps):
            src = self.sources()
            self._src = src
            lap_first = lap_last = None
            for chunk in src:
                if self.stopped:
                    break
                n = len(chunk)
                if not n:
                    continue
                if offset:
                    chunk = chunk.copy()
                    chunk["local_ts"] += offset
                    has = chunk["exchange_ts"] != 0
                    chunk["exchange_ts"][has] += offset
                ts = chunk["local_ts"]
                if lap_first is None:
                    lap_first = int(ts[0])
                lap_last = int(ts[-1])
                if not first_seen:
                    first_seen = True
                    t0 = float(ts[0])
                    wall0 = loop.time()
                    if not engine._started:
                        engine.start(int(ts[0]))
                due = np.maximum.accumulate(ts)      # receive times, made non-decreasing
                ends = np.flatnonzero(chunk["flags"] & EVENT_LAST)
                pos = 0
                while pos < n and not self.stopped:
                    if self.pace is None:
                        cut = min(n, pos + self.batch)
                    else:
                        target = t0 + (loop.time() - wall0) * self.pace * 1e9
                        cut = min(int(np.searchsorted(due, target, "right")), pos + self.batch)
                        if cut <= pos:            # the next message is not due yet
                            if target > engine.now:
                                engine.advance(int(target))
                            wait = (float(due[pos]) - t0) / self.pace / 1e9 - (
                                loop.time() - wall0)
                            await asyncio.sleep(min(max(wait, 0.0), self.step))
                            continue
                    k = int(np.searchsorted(ends, cut - 1))   # end of the message cut is in
                    cut = int(ends[k]) + 1 if k < len(ends) else n
                    part = chunk[pos:cut]
                    if self.tape is not None:
                        self.tape.add_events(part)
                    engine.process(part)
                    self.events += cut - pos
                    pos = cut
                    await asyncio.sleep(0)
            self._add_lap(src.stats())
            self._src = None
            if self.stopped:
                break
            if lap_last is not None:
                engine.advance(lap_last)
                assert lap_first is not None
                offset += lap_last - lap_first + 1_000_000_000
            lap += 1
            self.laps_done = lap
            if engine.now > self.prune_after_ns:
                engine.om.prune(engine.now - self.prune_after_ns)

    def stats(self) -> dict[str, Any]:
        """Events fed, laps done, messages, gaps."""
        return {"events": self.events, "laps": self.laps_done,
                "messages": self.totals.messages, "gaps": self.gap_counts()}
