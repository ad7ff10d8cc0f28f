"""The sink's local spill: rows the database could not take, kept on disk until it can.

A spill directory holds segment files ``spill-<number>.bin``, written in order.  A segment is a
sequence of records::

    u32 payload length, u32 CRC-32 of the payload, payload (JSON: [[table, [row, ...]], ...])

JSON keeps every integer exact (money may pass 64 bits).  A record cut short by a crash, or one
whose CRC does not match, ends the segment's readable part: what follows is counted as damaged
and skipped, never replayed half.  Segments are replayed oldest first and deleted only after the
database committed every row of theirs; a replay cut short is replayed again, and the tables'
idempotent keys make the second time write nothing new.

The directory is bounded (``max_bytes``): a batch that would pass the bound is refused (the
caller counts it as dropped) - the only way the sink loses rows, and it says so.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hftcore._args import check_bool, check_path, check_positive_int

__all__ = ["Batch", "SpillDir", "SpillFull"]

#: rows by table: ``[(table name, [row tuple, ...]), ...]``
Batch = list[tuple[str, list[tuple[Any, ...]]]]

_HEAD = struct.Struct("<II")
_PREFIX = "spill-"
_SUFFIX = ".bin"


class SpillFull(Exception):
    """The spill directory has no room for a batch (``max_bytes`` reached)."""


def encode(batch: Batch) -> bytes:
    """One record's bytes: header and JSON payload."""
    payload = json.dumps([[t, [list(r) for r in rows]] for t, rows in batch],
                         separators=(",", ":")).encode()
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def decode_segment(data: bytes) -> tuple[Batch, int]:
    """The batches of a segment's bytes, and the number of bytes after the last good record."""
    out: Batch = []
    pos, n = 0, len(data)
    while pos + _HEAD.size <= n:
        length, crc = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + length
        if end > n:
            break
        payload = data[pos + _HEAD.size:end]
        if zlib.crc32(payload) != crc:
            break
        try:
            items = json.loads(payload)
        except ValueError:
            break
        for table, rows in items:
            out.append((str(table), [tuple(r) for r in rows]))
        pos = end
    return out, n - pos


class SpillDir:
    """A bounded directory of spill segments, safe to use from two threads.

    Parameters
    ----------
    path : path
        The directory (made if missing).  Segments left by an earlier process are kept and
        replayed first.
    max_bytes : int
        Bound on the bytes of all segments together.
    segment_bytes : int
        A segment is closed (ready to replay) once it holds this many bytes.
    fsync : bool
        Put each record on the device before returning (survives a power loss, not only a
        crash of the process).
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 1 << 30,
                 segment_bytes: int = 8 << 20, fsync: bool = False) -> None:
        check_path(path, "path")
        for name, v in (("max_bytes", max_bytes), ("segment_bytes", segment_bytes)):
            check_positive_int(v, name)
        check_bool(fsync, "fsync")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fh: Any = None
        self._current: Path | None = None
        self._current_bytes = 0
        segs = self._segments()
        self._next = (int(segs[-1].name[len(_PREFIX):-len(_SUFFIX)]) + 1) if segs else 1
        self._bytes = sum(p.stat().st_size for p in segs)
        self.records_written = 0
        self.damaged_bytes = 0

    def _segments(self) -> list[Path]:
        return sorted(p for p in self.path.glob(f"{_PREFIX}*{_SUFFIX}")
                      if p.name[len(_PREFIX):-len(_SUFFIX)].isdigit())

    @property
    def bytes(self) -> int:
        """Bytes held by every segment."""
        return self._bytes

    def append(self, batch: Batch) -> int:
        """Add one batch; returns its bytes.  Raises :class:`SpillFull` when there is no room
        (nothing is written then)."""
        rec = encode(batch)
        with self._lock:
            if self._bytes + len(rec) > self.max_bytes:
                raise SpillFull(f"spill directory {self.path} is full ({self._bytes} of "
                                f"{self.max_bytes} bytes)")
            if self._fh is None:
                self._current = self.path / f"{_PREFIX}{self._next:016d}{_SUFFIX}"
                self._next += 1
                self._fh = open(self._current, "ab")  # noqa: SIM115 - closed by _close_current
                self._current_bytes = 0
            self._fh.write(rec)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
            self._bytes += len(rec)
            self._current_bytes += len(rec)
            self.records_written += 1
            if self._current_bytes >= self.segment_bytes:
                self._close_current()
        return len(rec)

    def _close_current(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._current = None

    def pending(self) -> list[Path]:
        """Segments to replay, oldest first (the one being written is closed first)."""
        with self._lock:
            self._close_current()
            return self._segments()

    def read(self, segment: Path) -> Batch:
        """The batches of one segment (a damaged tail is counted in ``damaged_bytes``)."""
        batch, damaged = decode_segment(segment.read_bytes())
        self.damaged_bytes += damaged
        return batch

    def remove(self, segment: Path) -> None:
        """Delete a segment whose rows the database committed."""
        with self._lock:
            if segment == self._current:
                self._close_current()
            size = segment.stat().st_size if segment.exists() else 0
            segment.unlink(missing_ok=True)
            self._bytes = max(0, self._bytes - size)

    def __iter__(self) -> Iterator[Path]:
        return iter(self.pending())

    def close(self) -> None:
        """Close the segment being written (its records are kept)."""
        with self._lock:
            self._close_current()
