"""Recovery: rebuild an order manager from its journal, through the live transitions.

Every record is replayed through the same compiled transition function the live call ran
(``OrderCore._replay``).  A record that cannot be replayed is quarantined: counted
(``counts["journal_quarantined"]``), reported (an anomaly of that kind), written to
``<journal>.quarantine`` (JSON lines) and removed from the journal; everything else is rebuilt.
Bytes that are not records (a page the device lost in a power cut) are treated alike
(``journal_damaged``); the bytes after the last complete record (the write a crash cut short)
go to ``<journal>.torn`` (``journal_torn_tail``).

Times.  The journal holds the manager clock's readings next to the wall clock (at the session
start and at least once a second).  After a reboot the monotonic clock starts again from zero,
so recovered times are moved onto the clock of the recovering process: a time ``t`` recorded
when the clock read ``c`` at wall time ``w`` becomes ``t + (now_clock - now_wall) - (c - w)``.
An order sent 3 s before the crash is then 3 s (plus the downtime) old, and times out on time.
Within one boot, with the default clock, nothing moves.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hftcore._ext import orders as _c
from hftcore.orders.journal import (
    RECORD_SCHEMA,
    JournalRecord,
    is_legacy,
    sync_mode,
    upgrade_legacy,
)
from hftcore.orders.types import OrderError

if TYPE_CHECKING:
    from hftcore.orders.manager import OrderManager
    from hftcore.portfolio import Portfolio
    from hftcore.risk import RiskEngine

__all__ = ["recover"]

_TYPE = {name: t for t, (name, _f, _s) in RECORD_SCHEMA.items()}
_SESSION_T = _TYPE["session"]
_CLOCK_T = _TYPE["clock"]
_REPLAY_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, OrderError)


def recover(
    cls: type[OrderManager],
    journal: str | os.PathLike[str],
    portfolio: Portfolio | None = None,
    risk: RiskEngine | None = None,
    *,
    rebase_time: bool = True,
    **kwargs: Any,
) -> OrderManager:
    """Rebuild the orders and the portfolio from a journal and keep appending to it.

    Parameters
    ----------
    journal : path
        The journal file.  Missing or empty: a new manager journaling there.  A journal of
        hftcore 0.1 (JSON lines) is converted first (the original is kept as ``<path>.v1``).
    portfolio, risk
        Rebuilt too: every fill is booked, every open order counted by the risk engine.
    rebase_time : bool
        Move recorded times onto the recovering clock (see the module notes); False keeps
        them as recorded (a simulated clock).
    **kwargs
        The other ``OrderManager`` arguments (``clock``, ``timeout_ns``, ``fsync``, ...);
        ``session`` and ``prefix`` come from the journal.

    The session and its id numbering continue (no client id is ever reused).  Venue events
    that were refused live were never journaled and are not replayed; anomalies of the replay
    are not reported again.
    """
    path = Path(journal)
    kwargs.pop("journal", None)
    if not path.exists() or path.stat().st_size == 0:
        return cls(portfolio=portfolio, risk=risk, journal=path, **kwargs)
    legacy_bad: list[tuple[int, bytes, str]] = []
    if is_legacy(path):
        legacy_bad = upgrade_legacy(path)
    kwargs.pop("session", None)
    kwargs.pop("prefix", None)
    # the journal is read through a read-only mapping, one record at a time: a long session's
    # journal is never held in memory as Python objects
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        sc = _c.JournalScanner(data)
        records = iter(sc)
        session = next((JournalRecord(*r) for r in records if r[2] == _TYPE["session"]), None)
        if session is None or len(session.strings) < 2:
            raise ValueError(f"{path}: no session record - not an order journal")
        om = cls(session=session.strings[0], prefix=session.strings[1], portfolio=portfolio,
                 risk=risk, **kwargs)
        quarantined, noops, n = _replay(om, session, records, rebase_time)
        torn = bytes(data[sc.end:sc.data_end]) if sc.end < sc.data_end else b""
        damaged = [(o, bytes(data[o:o + k])) for o, k in sc.damaged]
        end = sc.end
        _keep_aside(path, data, torn, damaged, quarantined, legacy_bad)
        if quarantined or damaged:
            end = _rewrite(path, data, {rec.offset for rec, _ in quarantined})
        del records, sc  # the scanner holds the mapping's buffer
    now = int(om.clock())
    for rec, why in quarantined:
        om._report("journal_quarantined", _order_id(om, rec), None, now,
                   f"{rec.name} record at byte {rec.offset}: {why}")
    for k, _line, why in legacy_bad:
        om._report("journal_quarantined", "", None, now, f"0.1 journal line {k}: {why}")
    for off, span in damaged:
        om._report("journal_damaged", "", None, now,
                   f"{len(span)} bytes at {off} are not records")
    if torn:
        om.counts["journal_torn_tail"] += 1
    if noops:
        om.counts["journal_noop"] += noops
    dirty = end if (quarantined or damaged) else end + len(torn)
    mode = sync_mode(kwargs.get("fsync", False), kwargs.get("sync_interval_ns", 0))
    om._open_journal(path, mode, end, n, dirty)
    return om


def _replay(om: OrderManager, session: JournalRecord, records: Iterator[Any],
            rebase_time: bool) -> tuple[list[tuple[JournalRecord, str]], int, int]:
    """Every record after the session's through the manager's transitions; returns the
    quarantined records, how many were no-ops, and how many records there were."""
    clock = om.clock
    now_clock = int(clock())
    now_wall = time.time_ns()
    same_boot = (clock is time.monotonic_ns and len(session.strings) >= 4
                 and session.strings[3] == "monotonic" and session.strings[2] != ""
                 and session.strings[2] == _boot_id())
    rebase = rebase_time and not same_boot

    def shift_for(clock_ns: int, wall_ns: int) -> int:
        return (now_clock - now_wall) - (clock_ns - wall_ns) if rebase and wall_ns else 0

    shift = shift_for(*session.fields[1:3]) if len(session.fields) >= 3 else 0
    quarantined: list[tuple[JournalRecord, str]] = []
    noops = 0
    n = 1
    replay = om._replay
    om._set_replaying(True)
    try:
        for offset, length, rtype, fields, strs in records:
            n += 1
            if rtype == _SESSION_T:
                if len(fields) >= 3:
                    shift = shift_for(fields[1], fields[2])
                continue
            if rtype == _CLOCK_T:
                if len(fields) == 2:
                    shift = shift_for(fields[0], fields[1])
                continue
            try:
                if not replay(rtype, fields, strs, shift):
                    noops += 1
            except _REPLAY_ERRORS as e:
                quarantined.append((JournalRecord(offset, length, rtype, fields, strs),
                                    f"{type(e).__name__}: {e}"))
                if rtype == _TYPE["new"] and fields:
                    om._reserve_numbers(fields[0])  # an id is never issued twice
    finally:
        om._set_replaying(False)
    return quarantined, noops, n


def _boot_id() -> str:
    from hftcore.orders.manager import boot_id

    return boot_id()


def _order_id(om: OrderManager, rec: JournalRecord) -> str:
    schema = RECORD_SCHEMA.get(rec.type)
    if schema and schema[1][:1] == ("seq",) and rec.fields:
        return f"{om.prefix}{om.session}-{rec.fields[0]}"
    return ""


def _keep_aside(path: Path, data: Any, torn: bytes, damaged: list[tuple[int, bytes]],
                quarantined: list[tuple[JournalRecord, str]],
                legacy_bad: list[tuple[int, bytes, str]]) -> None:
    """Write what recovery could not use next to the journal."""
    if torn:
        with open(path.with_name(path.name + ".torn"), "ab") as f:
            f.write(torn)
    if not (quarantined or damaged or legacy_bad):
        return
    with open(path.with_name(path.name + ".quarantine"), "ab") as f:
        for rec, why in quarantined:
            f.write(orjson.dumps({
                "offset": rec.offset, "type": rec.type, "name": rec.name,
                "fields": list(rec.fields), "strings": list(rec.strings), "error": why,
                "bytes": bytes(data[rec.offset:rec.offset + rec.length]).hex(),
            }) + b"\n")
        for off, span in damaged:
            f.write(orjson.dumps({"offset": off, "damaged": span.hex(),
                                  "error": "not a record"}) + b"\n")
        for n, line, why in legacy_bad:
            f.write(orjson.dumps({"legacy_line": n, "line": line.decode("utf-8", "replace"),
                                  "error": why}) + b"\n")


def _rewrite(path: Path, data: Any, drop: set[int]) -> int:
    """The journal without quarantined records and damaged spans, written next to it and
    renamed over it (atomic); returns its length."""
    tmp = path.with_name(path.name + ".rewrite")
    size = 0
    with open(tmp, "wb") as f:
        f.write(bytes(data[:16]))
        size = 16
        sc = _c.JournalScanner(data)
        for offset, length, _t, _f, _s in sc:
            if offset not in drop:
                f.write(bytes(data[offset:offset + length]))
                size += length
        del sc
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return size
