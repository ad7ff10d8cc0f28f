"""Event files: decoded market data as fixed-size records behind a small self-describing header.

Layout (little-endian)::

    offset 0   magic b"HFTCEVT\\0"
           8   u32 format version (1)
          12   u32 header length H (records start at H, a multiple of 64)
          16   u32 record size (48: EVENT_DTYPE)
          20   u32 flags (1: records are in receive-time order, checked when written)
          24   u64 record count
          32   i64 first receive time (ns)      40  i64 last receive time (ns)
          48   u32 length of the JSON block J   52  reserved
          56   J bytes of JSON: {"instruments": [{venue, symbol, price_decimals,
               size_decimals, tick, lot, base, quote}, ...], "created_by": ..., "sources": [...]}
          H    count x 48-byte records (EVENT_DTYPE; ``instrument`` indexes the JSON list)

A file is written once (:class:`EventWriter`): the count and time range are filled in when it is
closed, so a file cut short (a crash, a partial copy) is told apart from a complete one.
:func:`load` maps it into memory (numpy ``memmap``: a file larger than memory is fine);
:func:`iter_chunks` reads it in chunks into one reused buffer (constant memory, for backtests).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hftcore._ext.feed import EVENT_DTYPE
from hftcore.model import Instrument

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "EventFile",
    "EventFileError",
    "EventWriter",
    "is_event_file",
    "iter_chunks",
    "load",
]

MAGIC = b"HFTCEVT\0"
FORMAT_VERSION = 1
_FIXED = struct.Struct("<8sIIIIQqqI4x")   # 56 bytes
FLAG_SORTED = 1
RECORD_SIZE = EVENT_DTYPE.itemsize
_INT64_MIN = -(1 << 63)


class EventFileError(ValueError):
    """An event file that cannot be read as one: names the file and the byte offset."""

    def __init__(self, path: str | os.PathLike[str], offset: int, message: str) -> None:
        self.path = str(path)
        self.offset = offset
        super().__init__(f"{path}: at byte {offset}: {message}")


def _inst_json(inst: Instrument) -> dict[str, Any]:
    return {"venue": inst.venue, "symbol": inst.symbol, "price_decimals": inst.price_decimals,
            "size_decimals": inst.size_decimals, "tick": inst.tick, "lot": inst.lot,
            "base": inst.base, "quote": inst.quote}


def _inst_from(d: dict[str, Any]) -> Instrument:
    return Instrument(d["venue"], d["symbol"], int(d["price_decimals"]), int(d["size_decimals"]),
                      tick=int(d.get("tick", 1)), lot=int(d.get("lot", 1)),
                      base=str(d.get("base", "")), quote=str(d.get("quote", "")))


class EventWriter:
    """Write an event file: ``append`` arrays of events in receive-time order, then ``close``.

    Parameters
    ----------
    path : path
        The file to create (an existing file is replaced when the writer closes; until then the
        data goes to ``path + ".partial"``).
    instruments : sequence of Instrument
        The instruments the events' ``instrument`` field indexes.
    sources : sequence of str
        What the events were made from (kept in the header).
    """

    def __init__(self, path: str | os.PathLike[str], instruments: Sequence[Instrument],
                 sources: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.instruments = list(instruments)
        if not self.instruments:
            raise ValueError("instruments: an event file needs at least one instrument")
        meta = orjson.dumps({"instruments": [_inst_json(i) for i in self.instruments],
                             "created_by": "hftcore", "sources": list(sources)})
        self._json = meta
        hlen = _FIXED.size + len(meta)
        self.header_len = (hlen + 63) // 64 * 64
        self._tmp = self.path.with_name(self.path.name + ".partial")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(b"\0" * self.header_len)
        self.count = 0
        self.first_ts = 0
        self.last_ts = _INT64_MIN
        self._closed = False

    def append(self, events: np.ndarray[Any, Any]) -> None:
        """Add events (``EVENT_DTYPE``), not earlier than those already written."""
        if self._closed:
            raise ValueError("the event writer is closed")
        arr = np.asarray(events)
        if arr.dtype != EVENT_DTYPE:
            raise TypeError(f"events: expected EVENT_DTYPE records, got {arr.dtype}")
        if len(arr) == 0:
            return
        ts = arr["local_ts"]
        bad = np.flatnonzero(np.diff(ts) < 0)
        if len(bad) or int(ts[0]) < self.last_ts:
            k = int(bad[0]) + 1 if len(bad) else 0
            raise ValueError(f"events: record {self.count + k} is earlier than the one before "
                             "it (event files are in receive-time order)")
        inst = arr["instrument"]
        if int(inst.max()) >= len(self.instruments):
            raise ValueError(f"events: instrument {int(inst.max())} is not in the file's "
                             f"{len(self.instruments)} instruments")
        if self.count == 0:
            self.first_ts = int(ts[0])
        self.last_ts = int(ts[-1])
        self._fh.write(np.ascontiguousarray(arr).tobytes())
        self.count += len(arr)

    def close(self) -> None:
        """Write the header and move the file into place."""
        if self._closed:
            return
        self._closed = True
        fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, self.header_len, RECORD_SIZE, FLAG_SORTED,
                            self.count, self.first_ts,
                            self.last_ts if self.count else 0, len(self._json))
        self._fh.seek(0)
        self._fh.write(fixed + self._json)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Give up: remove the partial file."""
        if not self._closed:
            self._closed = True
            self._fh.close()
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class EventFile:
    """The header of an event file: instruments, count, time range, where records start."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path}: is a directory, not an event file")
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            head = fh.read(_FIXED.size)
            if len(head) < _FIXED.size:
                raise EventFileError(path, len(head), "file too short for an event file header")
            (magic, version, hlen, rsize, flags, count, first, last,
             jlen) = _FIXED.unpack(head)
            if magic != MAGIC:
                raise EventFileError(path, 0, "not an hftcore event file (bad magic)")
            if version != FORMAT_VERSION:
                raise EventFileError(path, 8, f"format version {version}; this hftcore reads "
                                              f"version {FORMAT_VERSION}")
            if rsize != RECORD_SIZE:
                raise EventFileError(path, 16, f"record size {rsize}, expected {RECORD_SIZE}")
            if hlen % 64 or hlen < _FIXED.size + jlen:
                raise EventFileError(path, 12, f"bad header length {hlen}")
            blob = fh.read(jlen)
            if len(blob) < jlen:
                raise EventFileError(path, _FIXED.size + len(blob), "header cut short")
        try:
            meta = orjson.loads(blob)
            self.instruments = [_inst_from(d) for d in meta["instruments"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EventFileError(path, _FIXED.size, f"bad instrument table: {exc}") from None
        self.sources: list[str] = list(meta.get("sources", []))
        want = hlen + count * RECORD_SIZE
        if size < want:
            have = (size - hlen) // RECORD_SIZE if size > hlen else 0
            raise EventFileError(path, size, f"truncated: the header promises {count} records "
                                             f"({want} bytes), the file holds {have}")
        if size > want:
            raise EventFileError(path, want, f"{size - want} bytes after the last record")
        if count and first > last:
            raise EventFileError(path, 32, "first time after last time")
        self.header_len = hlen
        self.count = count
        self.first_ts = first
        self.last_ts = last
        self.flags = flags

    def __repr__(self) -> str:
        return (f"EventFile({str(self.path)!r}, {self.count} events, "
                f"{len(self.instruments)} instruments)")


class Events(np.ndarray[Any, Any]):
    """Event records (``EVENT_DTYPE``) that know their instruments: a numpy array (memory-mapped
    when loaded from a file) with :meth:`to_pandas`, :meth:`to_parquet` and :meth:`between`."""

    instruments: list[Instrument]

    def __array_finalize__(self, obj: Any) -> None:
        self.instruments = getattr(obj, "instruments", [])

    def between(self, start_ns: int | None = None, end_ns: int | None = None) -> Events:
        """The events received in ``[start_ns, end_ns)`` (binary search: reads a few pages)."""
        ts = self["local_ts"]
        lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, side="left"))
        hi = len(self) if end_ns is None else int(np.searchsorted(ts, end_ns, side="left"))
        out = self[lo:hi].view(Events)
        return out

    def to_pandas(self, decimals: bool = False) -> Any:
        """A DataFrame: times as ``datetime64[ns]``, kind / side names, venue and symbol.

        ``decimals=True`` adds ``price_text`` / ``size_text`` columns of exact decimal text.
        """
        import pandas as pd

        from hftcore import fixed

        arr = np.asarray(self)
        kinds = np.array(["", "delta", "trade", "status", "checksum"])
        sides = np.array(["bid", "ask", ""])
        names = np.array([i.symbol for i in self.instruments] or [""])
        venues = np.array([i.venue for i in self.instruments] or [""])
        k = np.minimum(arr["kind"], 4)
        df = pd.DataFrame({
            "local_ts": arr["local_ts"].astype("datetime64[ns]"),
            "exchange_ts": arr["exchange_ts"].astype("datetime64[ns]"),
            "venue": venues[arr["instrument"]] if len(arr) else [],
            "symbol": names[arr["instrument"]] if len(arr) else [],
            "kind": kinds[k] if len(arr) else [],
            "side": sides[np.minimum(arr["side"], 2)] if len(arr) else [],
            "price": arr["price"],
            "size": arr["size"],
            "ref": arr["ref"],
            "flags": arr["flags"],
        })
        if decimals and len(arr):
            pd_ = [i.price_decimals for i in self.instruments]
            sd_ = [i.size_decimals for i in self.instruments]
            df["price_text"] = [fixed.format(int(p), pd_[i]) for p, i in
                                zip(arr["price"], arr["instrument"], strict=True)]
            df["size_text"] = [fixed.format(int(q), sd_[i]) for q, i in
                               zip(arr["size"], arr["instrument"], strict=True)]
        return df

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the records to Parquet (pyarrow, the ``parquet`` extra) with the record schema
        and the instruments in the file's metadata; readable without hftcore."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError("Parquet needs pyarrow: pip install 'hftcore[parquet]'") from None
        arr = np.asarray(self)
        cols = {name: arr[name] for name in EVENT_DTYPE.names or ()}
        table = pa.table(cols)
        meta = {b"hftcore.instruments": orjson.dumps([_inst_json(i) for i in self.instruments]),
                b"hftcore.record": b"EVENT_DTYPE v1"}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        pq.write_table(table, str(path))


def is_event_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with the event-file magic."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == MAGIC
    except OSError:
        return False


def load(path: str | os.PathLike[str]) -> Events:
    """An event file as a memory-mapped numpy array of ``EVENT_DTYPE`` records (``Events``).

    Nothing is read until used; ``.between(t0, t1)`` slices by time without reading the rest.
    Raises :class:`EventFileError` for a file that is not a complete event file.
    """
    ef = EventFile(path)
    if ef.count == 0:
        arr = np.zeros(0, dtype=EVENT_DTYPE).view(Events)
    else:
        mm = np.memmap(ef.path, dtype=EVENT_DTYPE, mode="r", offset=ef.header_len,
                       shape=(ef.count,))
        arr = mm.view(Events)
    arr.instruments = ef.instruments
    return arr


def iter_chunks(path: str | os.PathLike[str], chunk: int = 1 << 18,
                start_ns: int | None = None, end_ns: int | None = None,
                check_order: bool = True) -> Iterator[np.ndarray[Any, Any]]:
    """The records of an event file in chunks of ``chunk`` read into one reused buffer
    (constant memory whatever the file's size).  A yielded array is valid until the next one.

    Raises :class:`EventFileError` naming the offset of a record out of time order.
    """
    ef = EventFile(path)
    lo, hi = 0, ef.count
    if (start_ns is not None or end_ns is not None) and ef.count:
        mm = np.memmap(ef.path, dtype=EVENT_DTYPE, mode="r", offset=ef.header_len,
                       shape=(ef.count,))
        ts = mm["local_ts"]
        if start_ns is not None:
            lo = int(np.searchsorted(ts, start_ns, side="left"))
        if end_ns is not None:
            hi = int(np.searchsorted(ts, end_ns, side="left"))
        del ts, mm
    buf = np.empty(chunk, dtype=EVENT_DTYPE)
    raw = buf.view(np.uint8)
    prev = _INT64_MIN
    with open(ef.path, "rb", buffering=0) as fh:
        fh.seek(ef.header_len + lo * RECORD_SIZE)
        pos = lo
        while pos < hi:
            n = min(chunk, hi - pos)
            got = fh.readinto(raw[: n * RECORD_SIZE].data)
            if got != n * RECORD_SIZE:
                raise EventFileError(path, ef.header_len + pos * RECORD_SIZE + (got or 0),
                                     "file changed while reading (truncated)")
            view = buf[:n]
            if check_order:
                ts = view["local_ts"]
                if int(ts[0]) < prev:
                    raise EventFileError(path, ef.header_len + pos * RECORD_SIZE,
                                         f"record {pos} is out of time order")
                bad = np.flatnonzero(ts[1:] < ts[:-1])
                if len(bad):
                    k = pos + int(bad[0]) + 1
                    raise EventFileError(path, ef.header_len + k * RECORD_SIZE,
                                         f"record {k} is out of time order")
                prev = int(ts[-1])
            yield view
            pos += n
