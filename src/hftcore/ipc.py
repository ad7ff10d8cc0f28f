"""Named ring buffers in shared memory, for one producer and many consumer processes.

Also the public home of the ring classes (``Ring``, ``Producer``, ``Consumer``,
``RingLayoutError`` from ``hftcore._ext.ring``) for heap rings between threads.

``create_ring("binance.book", ...)`` lays a :class:`~hftcore._ext.ring.Ring` out in a
``multiprocessing.shared_memory`` segment named ``hftcore.binance.book`` (``/dev/shm`` on
Linux); ``attach_ring("binance.book")`` opens it from another process, checking the record
layout and the ring format version.  Segments whose creator, producer and consumers have all
died are *stale*: ``create_ring`` replaces them and :func:`cleanup_stale` removes them.

``multiprocessing``'s resource tracker would unlink a segment when *any* process that opened it
exits (CPython issue 82300, fixed by ``track=False`` in 3.13).  This module never lets the
tracker own a segment: the creator unlinks it on :meth:`SharedRing.close` (or when its
``SharedRing`` is collected, or at interpreter exit); a crash leaves it to the stale cleanup.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import weakref
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any, Literal

import numpy.typing as npt

from hftcore._ext.ring import (
    Consumer,
    Producer,
    Ring,
    RingLayoutError,
    ring_bytes,
)

__all__ = [
    "PREFIX",
    "Consumer",
    "Producer",
    "Ring",
    "RingInfo",
    "RingLayoutError",
    "SharedRing",
    "attach_ring",
    "cleanup_stale",
    "create_ring",
    "list_rings",
    "process_start_time",
    "unlink_ring",
]

#: prefix of every segment name this module creates
PREFIX = "hftcore."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
_SHM_DIR = Path("/dev/shm")


def _segment(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not _NAME.match(name):
        raise ValueError(
            f"name must be 1-201 letters, digits, '_', '.', '-' (not starting with one of the "
            f"last three), got {name!r}"
        )
    return PREFIX + name


def _open_untracked(segment: str, create: bool, size: int = 0) -> SharedMemory:
    if sys.version_info >= (3, 13):
        return SharedMemory(segment, create=create, size=size, track=False)  # type: ignore[call-arg,unused-ignore]
    shm = SharedMemory(segment, create=create, size=size)
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def _buf(shm: SharedMemory) -> memoryview:
    buf = shm.buf
    if buf is None:
        raise ValueError(f"shared memory {shm.name!r} is closed")
    return buf


def _unlink(shm: SharedMemory) -> None:
    if sys.version_info < (3, 13):
        # unlink() tells the tracker to forget the name: let it know the name first
        resource_tracker.register(shm._name, "shared_memory")  # type: ignore[attr-defined]
    try:
        shm.unlink()
    except FileNotFoundError:
        if sys.version_info < (3, 13):
            resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]


def process_start_time(pid: int) -> int:
    """Start time of process ``pid`` in clock ticks since boot (Linux), 0 when unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return 0


def _alive(pid: int, start: int = 0) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not (start and process_start_time(pid) not in (0, start))


def _stale(ring: Ring) -> bool:
    if _alive(ring.owner_pid, ring.owner_start):
        return False
    stats = ring.stats()
    if _alive(stats["producer_pid"]):
        return False
    return not any(_alive(c["pid"]) for c in stats["consumers"])


def _release(ring: Ring, shm: SharedMemory, unlink: bool) -> None:
    # a claimed view still alive keeps the mapping (it goes with the process)
    with contextlib.suppress(BufferError):
        ring.release()
        shm.close()
    if unlink:
        _unlink(shm)


class SharedRing:
    """A :class:`~hftcore._ext.ring.Ring` in a named shared-memory segment.

    Made by :func:`create_ring` (``owner`` True: :meth:`close` also removes the name) or
    :func:`attach_ring`.  Usable as a context manager.
    """

    def __init__(self, name: str, shm: SharedMemory, ring: Ring, owner: bool) -> None:
        self.name = name
        self.ring = ring
        self.owner = owner
        self._shm = shm
        self._finalizer = weakref.finalize(self, _release, ring, shm, owner)

    @property
    def segment(self) -> str:
        """The shared-memory name (``hftcore.<name>``)."""
        return self._shm.name

    def producer(self, *, wait: Literal["spin", "yield", "sleep"] = "yield",
                 sleep: float = 50e-6) -> Producer:
        """The ring's producer (see :meth:`Ring.producer`)."""
        return self.ring.producer(wait=wait, sleep=sleep)

    def consumer(self, *, wait: Literal["spin", "yield", "sleep"] = "yield",
                 sleep: float = 50e-6,
                 start: Literal["latest", "oldest"] = "latest") -> Consumer:
        """A new consumer of the ring (see :meth:`Ring.consumer`)."""
        return self.ring.consumer(wait=wait, sleep=sleep, start=start)

    def stats(self) -> dict[str, Any]:
        """The ring's cursors and counters (see :meth:`Ring.stats`) plus its name."""
        return {"name": self.name, **self.ring.stats()}

    def close(self, *, unlink: bool | None = None) -> None:
        """Detach (closing this process's producer and consumers of the ring).

        ``unlink`` (default: True for the creator) also removes the name, so no new process
        can attach; processes already attached keep their mapping.
        """
        if not self._finalizer.alive:
            return
        self._finalizer.detach()
        _release(self.ring, self._shm, self.owner if unlink is None else unlink)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self._finalizer.alive

    def __enter__(self) -> SharedRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else repr(self.ring)
        return f"<SharedRing {self.name!r} {state}>"


def create_ring(
    name: str,
    capacity: int,
    dtype: npt.DTypeLike | None = None,
    *,
    record_size: int | None = None,
    consumers: int = 1,
    backpressure: Literal["block", "fail", "overwrite"] = "block",
    stall_timeout: float | None = 5.0,
    replace: bool = False,
) -> SharedRing:
    """Create the named ring ``name`` in shared memory (see :class:`Ring` for the parameters).

    A segment of that name left by dead processes (stale) is replaced.  One still in use
    raises FileExistsError, unless ``replace`` (then it is unlinked first: its users keep
    their mapping but no longer share it with new processes).
    """
    segment = _segment(name)
    if not isinstance(replace, bool):
        raise TypeError(f"replace must be a bool, not {type(replace).__name__}")
    rs = record_size
    if rs is None and dtype is not None:
        import numpy as np

        rs = np.dtype(dtype).itemsize
    if rs is None:
        raise TypeError("dtype: give a record dtype or a record_size")
    size = ring_bytes(capacity, rs, consumers)  # validates the sizes before touching anything
    for _ in range(3):
        try:
            shm = _open_untracked(segment, True, size)
            break
        except FileExistsError:
            if not (replace or _remove_if_stale(name)):
                raise FileExistsError(
                    f"ring {name!r} exists and is in use (cleanup_stale() removes dead ones; "
                    "replace=True takes the name)"
                ) from None
            if replace:
                unlink_ring(name)
    else:
        raise FileExistsError(f"ring {name!r}: could not take the name")
    try:
        ring = Ring(
            capacity,
            dtype,
            record_size=record_size,
            consumers=consumers,
            backpressure=backpressure,
            stall_timeout=stall_timeout,
            buffer=_buf(shm),
            owner_start=process_start_time(os.getpid()),
        )
    except BaseException:
        shm.close()
        _unlink(shm)
        raise
    return SharedRing(name, shm, ring, owner=True)


def attach_ring(
    name: str,
    dtype: npt.DTypeLike | None = None,
    *,
    record_size: int | None = None,
    timeout: float = 0.0,
) -> SharedRing:
    """Open the named ring made by :func:`create_ring` in another process.

    With ``dtype``/``record_size`` the ring must hold that layout (RingLayoutError names both
    when it does not); without, the ring's own dtype is used.  ``timeout`` seconds to wait for
    the creator (FileNotFoundError when the ring does not appear).
    """
    segment = _segment(name)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise TypeError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            shm = _open_untracked(segment, False)
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                raise FileNotFoundError(f"no ring named {name!r} ({segment})") from None
            time.sleep(0.01)
            continue
        try:
            ring = Ring.attach(_buf(shm), dtype, record_size=record_size)
        except RingLayoutError as exc:
            shm.close()
            # the creator may still be writing the header (the magic goes in last)
            if "bad magic" in str(exc) and time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise
        except BaseException:
            shm.close()
            raise
        return SharedRing(name, shm, ring, owner=False)


def unlink_ring(name: str) -> bool:
    """Remove the name of ring ``name`` (processes attached keep their mapping).  Returns
    False when there was no such ring."""
    segment = _segment(name)
    try:
        shm = _open_untracked(segment, False)
    except FileNotFoundError:
        return False
    shm.close()
    _unlink(shm)
    return True


@dataclass(frozen=True)
class RingInfo:
    """One named ring found in shared memory."""

    name: str
    size: int
    stale: bool
    stats: dict[str, Any] | None  # None when the segment holds no readable ring


def _inspect(name: str) -> RingInfo | None:
    try:
        shm = _open_untracked(_segment(name), False)
    except (FileNotFoundError, ValueError):
        return None
    try:
        try:
            ring = Ring.attach(_buf(shm))
        except (RingLayoutError, ValueError):
            return RingInfo(name, shm.size, False, None)
        try:
            return RingInfo(name, shm.size, _stale(ring), ring.stats())
        finally:
            ring.release()
    finally:
        shm.close()


def list_rings() -> list[RingInfo]:
    """The named rings in shared memory (Linux: those under /dev/shm)."""
    if not _SHM_DIR.is_dir():
        return []
    out = []
    for path in sorted(_SHM_DIR.glob(PREFIX + "*")):
        info = _inspect(path.name[len(PREFIX):])
        if info is not None:
            out.append(info)
    return out


def _remove_if_stale(name: str) -> bool:
    info = _inspect(name)
    if info is None:
        return True  # vanished meanwhile
    if info.stats is None:
        # no ring header: a creator still writing it, or garbage; only garbage that is old
        path = _SHM_DIR / (PREFIX + name)
        try:
            if time.time() - path.stat().st_mtime < 10:
                return False
        except OSError:
            return True
    elif not info.stale:
        return False
    unlink_ring(name)
    return True


def cleanup_stale(*, dry_run: bool = False) -> list[str]:
    """Unlink the rings whose creator, producer and consumers have all died; returns their
    names (with ``dry_run``, only lists them)."""
    removed = []
    for info in list_rings():
        if info.stale:
            if not dry_run:
                unlink_ring(info.name)
            removed.append(info.name)
    return removed
