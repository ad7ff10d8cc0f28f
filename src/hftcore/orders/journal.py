"""The order journal: compact binary records, appended through a shared file mapping.

The records and the writer are compiled (``hftcore._ext.orders``, file ``journal.pxi``): an
order event costs one ``memcpy`` into the file's page cache and no system call, and from that
moment it survives the process being killed.  What each sync mode keeps after a crash is in
``docs/trading.md`` ("Journal").  This module reads journals back (:meth:`Journal.read`,
:meth:`Journal.scan`), appends dict records (:meth:`Journal.append`, for tools and tests), and
converts journals written by hftcore 0.1 (JSON lines) to the binary format.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hftcore._ext import orders as _c

__all__ = ["Journal", "JournalRecord", "JournalScan"]

RECORD_SCHEMA: dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]] = _c.RECORD_SCHEMA
_TYPE_OF_NAME = {name: t for t, (name, _f, _s) in RECORD_SCHEMA.items()}
_SESSION = _TYPE_OF_NAME["session"]
_CLOCK = _TYPE_OF_NAME["clock"]
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One record as stored: its place in the file, type code, int fields and strings."""

    offset: int
    length: int
    type: int
    fields: tuple[int, ...]
    strings: tuple[str, ...]

    @property
    def name(self) -> str:
        """The record type's name (``"fill"``, ``"ack"`` ...), or ``"type<N>"`` if unknown."""
        schema = RECORD_SCHEMA.get(self.type)
        return schema[0] if schema else f"type{self.type}"


@dataclass(slots=True)
class JournalScan:
    """A journal file split into records (see :meth:`Journal.scan`)."""

    records: list[JournalRecord] = field(default_factory=list)
    end: int = 0
    torn: bytes = b""
    damaged: list[tuple[int, bytes]] = field(default_factory=list)
    data: bytes = b""


def record_dict(rec: JournalRecord, anchor: tuple[int, int] | None = None) -> dict[str, Any]:
    """A record as a dict: ``{"e": name, <field>: value, ...}``.

    A fill's fee comes back as one int (or None); a record with a time ``ts`` also gets
    ``"wall"``, its wall-clock time in ns since the epoch, from ``anchor`` (the last
    ``(clock_ns, wall_ns)`` pair of the journal before it).
    """
    schema = RECORD_SCHEMA.get(rec.type)
    if schema is None:
        return {"e": f"type{rec.type}", "fields": list(rec.fields), "strings": list(rec.strings)}
    name, fnames, snames = schema
    out: dict[str, Any] = {"e": name}
    if len(fnames) == len(rec.fields):
        out.update(zip(fnames, rec.fields, strict=True))
    else:
        out["fields"] = list(rec.fields)
    if len(snames) == len(rec.strings):
        out.update(zip(snames, rec.strings, strict=True))
    else:
        out["strings"] = list(rec.strings)
    if name == "fill" and "has_fee" in out:
        hi, lo = out.pop("fee_hi"), out.pop("fee_lo")
        out["fee"] = ((hi << 64) | (lo & _MASK64)) if out.pop("has_fee") else None
    if "ts" in out and anchor is not None:
        out["wall"] = anchor[1] + (out["ts"] - anchor[0])
    return out


class Journal:
    """An order journal file opened for appending (the manager opens its own).

    Parameters
    ----------
    path : path
        Created if absent; an existing journal is appended to after its last good record.
    fsync : bool
        Put every record on the device before returning (power-loss safe; ~ms per record).
    sync_interval_ns : int
        With ``fsync=False``: a background thread syncs the file this often (0: never - the
        kernel writes it back within ~30 s).  Either way a record survives a killed process as
        soon as it is appended.
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = False,
                 sync_interval_ns: int = 0) -> None:
        self.path = Path(path)
        end = None
        if self.path.exists() and self.path.stat().st_size:
            scan = Journal.scan(self.path)
            if scan.torn or scan.damaged:
                raise ValueError(f"{self.path}: the journal has a torn or damaged part; "
                                 "recover it first (OrderManager.recover)")
            end = scan.end
        self._w = _c.JournalWriter(self.path, sync_mode(fsync, sync_interval_ns),
                                   sync_interval_ns, end, end)

    @property
    def writer(self) -> _c.JournalWriter:
        """The compiled writer."""
        return self._w

    @property
    def records(self) -> int:
        """Records appended through this object."""
        return int(self._w.records)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record given as a dict (``{"e": "ack", "seq": 3, "ts": ..., "vid": ...}``,
        the form :meth:`read` returns)."""
        rtype, fields, strs = encode(record)
        self._w.append(rtype, fields, strs)

    def sync(self) -> None:
        """Put every record written so far on the device now."""
        self._w.sync()

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._w.close()

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def scan(path: str | os.PathLike[str]) -> JournalScan:
        """Split a journal into records, the torn tail (bytes after the last complete record)
        and damaged spans (bytes between records that are not records).  ``ValueError`` when
        the file is not a binary journal."""
        data = Path(path).read_bytes()
        records, end, torn, damaged = _c.scan_journal(data)
        return JournalScan([JournalRecord(*r) for r in records], end, torn, damaged, data)

    @staticmethod
    def read(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], bool]:
        """All records of a journal as dicts, and whether a torn tail (a crash mid-write) was
        left out.  Journals of hftcore 0.1 (JSON lines) are read as they are."""
        p = Path(path)
        if is_legacy(p):
            return _read_legacy(p)
        scan = Journal.scan(p)
        return list(iter_dicts(scan.records)), bool(scan.torn)

    @staticmethod
    def cut_torn_tail(path: str | os.PathLike[str]) -> bytes:
        """Cut the bytes after the last complete record off the file and keep them in
        ``<path>.torn``.  Returns them."""
        p = Path(path)
        scan = Journal.scan(p)
        if scan.torn:
            with open(p.with_name(p.name + ".torn"), "ab") as f:
                f.write(scan.torn)
        if len(scan.data) > scan.end:
            os.truncate(p, scan.end)
        return scan.torn


def iter_dicts(records: Iterable[JournalRecord]) -> Iterator[dict[str, Any]]:
    """Records as dicts (see :func:`record_dict`), with wall-clock times and, for order
    records, the client order id (``"id"``)."""
    anchor: tuple[int, int] | None = None
    ids = ""
    for rec in records:
        if rec.type == _SESSION and len(rec.fields) >= 3:
            anchor = (rec.fields[1], rec.fields[2])
            if len(rec.strings) >= 2:
                ids = f"{rec.strings[1]}{rec.strings[0]}-"
        elif rec.type == _CLOCK and len(rec.fields) == 2:
            anchor = (rec.fields[0], rec.fields[1])
        d = record_dict(rec, anchor)
        if "seq" in d and ids:
            d["id"] = f"{ids}{d['seq']}"
        yield d


def sync_mode(fsync: bool, sync_interval_ns: int) -> int:
    """The writer's mode number for the manager's options (checked)."""
    if not isinstance(fsync, bool):
        raise TypeError(f"fsync must be a bool, got {type(fsync).__name__}")
    if not isinstance(sync_interval_ns, int) or isinstance(sync_interval_ns, bool):
        raise TypeError(f"sync_interval_ns must be an int, got {type(sync_interval_ns).__name__}")
    if sync_interval_ns < 0:
        raise ValueError(f"sync_interval_ns must not be negative, got {sync_interval_ns}")
    return 2 if fsync else (1 if sync_interval_ns else 0)


def encode(record: dict[str, Any]) -> tuple[int, tuple[int, ...], tuple[str, ...]]:
    """``(type, fields, strings)`` of a record dict (the inverse of :func:`record_dict`)."""
    name = record.get("e")
    rtype = _TYPE_OF_NAME.get(name) if isinstance(name, str) else None
    if rtype is None:
        raise ValueError(f"unknown journal record {name!r}")
    _n, fnames, snames = RECORD_SCHEMA[rtype]
    rec = dict(record)
    if name == "fill":
        fee = rec.get("fee")
        if fee is not None and (not isinstance(fee, int) or isinstance(fee, bool)):
            raise TypeError(f"fee must be an int or None, got {type(fee).__name__}")
        rec["has_fee"] = int(fee is not None)
        rec["fee_hi"] = (fee >> 64) if fee is not None else 0
        lo = (fee & _MASK64) if fee is not None else 0
        rec["fee_lo"] = lo - (1 << 64) if lo >= 1 << 63 else lo
    fields = []
    for f in fnames:
        v = rec.get(f)
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"journal field {name}.{f} must be an int, got {v!r}")
        fields.append(v)
    strs = []
    for s in snames:
        v = rec.get(s, "")
        if v is None:
            v = ""
        if not isinstance(v, str):
            raise TypeError(f"journal field {name}.{s} must be a str, got {v!r}")
        strs.append(v)
    return rtype, tuple(fields), tuple(strs)


# -- journals of hftcore 0.1: JSON lines ----------------------------------------------------------
def is_legacy(path: Path) -> bool:
    """Whether ``path`` is a JSON-lines journal of hftcore 0.1."""
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"{"
    except OSError:
        return False


def _read_legacy(path: Path) -> tuple[list[dict[str, Any]], bool]:
    lines = path.read_bytes().split(b"\n")
    torn = False
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        torn = True
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            if i == len(lines) - 1:
                return out, True
            raise ValueError(f"{path}: journal record {i + 1} is damaged") from None
        if i == len(lines) - 1 and torn:
            return out, True
        out.append(rec)
    return out, torn


def upgrade_legacy(path: Path) -> list[tuple[int, bytes, str]]:
    """Convert a JSON-lines journal of hftcore 0.1 to the binary format in place.

    The original is kept as ``<path>.v1``.  Returns the lines that could not be converted
    (line number, bytes, why): the caller quarantines them.  0.1 journals carry no wall-clock
    time, so their times cannot be rebased.
    """
    raw = path.read_bytes().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    bad: list[tuple[int, bytes, str]] = []
    seq_of: dict[str, int] = {}
    inst_of: dict[tuple[str, str], int] = {}
    prefix = ""
    tmp = path.with_name(path.name + ".upgrading")
    tmp.unlink(missing_ok=True)
    w = _c.JournalWriter(tmp, 0, 0, None)
    try:
        for n, line in enumerate(raw, 1):
            try:
                r = orjson.loads(line)
                if not isinstance(r, dict):
                    raise ValueError("not a record")
                e = r.get("e")
                if e == "session":
                    if not prefix:
                        prefix = f"{r['prefix']}{r['session']}-"
                        w.append(_SESSION, (2, 0, 0, 0, 0), (str(r["session"]), str(r["prefix"]),
                                                            "", "legacy"))
                    continue
                if e == "inst":
                    key = (r["venue"], r["symbol"])
                    if key in inst_of:
                        continue
                    rec = {"e": "inst", "index": len(inst_of), "pd": r["pd"], "sd": r["sd"],
                           "tick": r["tick"], "lot": r["lot"], "min_size": r["min_size"],
                           "max_size": -1 if r["max_size"] is None else r["max_size"],
                           "min_notional": r["min_notional"], "iid": r["iid"],
                           "venue": r["venue"], "symbol": r["symbol"], "base": r["base"],
                           "quote": r["quote"]}
                    w.append(*encode(rec))
                    inst_of[key] = len(inst_of)
                    continue
                cid = r["id"]
                if not isinstance(cid, str) or not cid.startswith(prefix) or not prefix:
                    raise ValueError(f"order id {cid!r} is not of this session")
                if e == "new":
                    seq = int(cid[len(prefix):])
                    seq_of[cid] = seq
                    rec = {"e": "new", "seq": seq, "inst": inst_of[(r["venue"], r["symbol"])],
                           "side": r["side"], "size": r["size"], "price": r["price"],
                           "type": r["type"], "tif": r["tif"], "ts": r["ts"]}
                    w.append(*encode(rec))
                    continue
                rec = dict(r)
                rec["seq"] = seq_of[cid]
                if e == "fill" and not isinstance(rec.get("px"), int):
                    raise TypeError("fill price is not an int")
                if e == "fill" and rec.get("liq") not in (0, 1):
                    raise ValueError("fill liquidity out of range")
                w.append(*encode(rec))
            except (ValueError, TypeError, KeyError, OverflowError, orjson.JSONDecodeError) as ex:
                bad.append((n, line, f"{type(ex).__name__}: {ex}"))
    finally:
        w.close()
    os.replace(path, path.with_name(path.name + ".v1"))
    os.replace(tmp, path)
    return bad
