"""Records across machines through NATS JetStream (``pip install hftcore[nats]``).

A :class:`NatsPublisher` sends batches of records (the ring's numpy records, as raw bytes in
their C layout, never JSON) to a JetStream stream; a :class:`NatsSubscriber` with a durable
consumer turns them back into numpy records, resuming where it stopped after a reconnect or a
broker restart.  Each batch carries the sequence number of its first record, so the
subscriber drops redeliveries (JetStream is at-least-once) and counts gaps as ``lost``; the
publisher also sets ``Nats-Msg-Id`` so a batch it re-sends after a broker hiccup is stored
once.  :func:`ring_to_nats` and :func:`nats_to_ring` pump between a local ring and the broker.

Wire format of one message (little-endian)::

    b"HFTB"  u16 version  u16 header bytes (32)  u64 layout id  u32 record size  u32 count
    u64 sequence number of the first record       count * record size bytes of records
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hftcore._ext.ring import Consumer, Producer, describe_layout

__all__ = [
    "WIRE_VERSION",
    "Batch",
    "BridgeError",
    "NatsPublisher",
    "NatsSubscriber",
    "decode_batch",
    "encode_batch",
    "nats_to_ring",
    "ring_to_nats",
]

log = logging.getLogger("hftcore.bridge")

WIRE_VERSION = 1
_HEADER = struct.Struct("<4sHHQIIQ")
_MAGIC = b"HFTB"


class BridgeError(ValueError):
    """A message that is not a record batch of the expected layout."""


def _layout(dtype: npt.DTypeLike) -> tuple[np.dtype[Any], int]:
    dt = np.dtype(dtype)
    return dt, describe_layout(dt)[1]


def encode_batch(records: npt.NDArray[Any], first_seq: int, layout_id: int | None = None) -> bytes:
    """One wire message for ``records`` (a numpy array of one record dtype)."""
    if not isinstance(records, np.ndarray):
        raise TypeError(f"records must be a numpy array, not {type(records).__name__}")
    if isinstance(first_seq, bool) or not isinstance(first_seq, int) or first_seq < 0:
        raise TypeError(f"first_seq must be an int >= 0, got {first_seq!r}")
    if layout_id is None:
        layout_id = describe_layout(records.dtype)[1]
    body = np.ascontiguousarray(records).tobytes()
    head = _HEADER.pack(_MAGIC, WIRE_VERSION, _HEADER.size, layout_id, records.dtype.itemsize,
                        len(records), first_seq)
    return head + body


def decode_batch(payload: bytes, dtype: npt.DTypeLike) -> tuple[int, npt.NDArray[Any]]:
    """``(first_seq, records)`` from a wire message; BridgeError names what does not match."""
    dt, layout = _layout(dtype)
    if len(payload) < _HEADER.size:
        raise BridgeError(f"message of {len(payload)} bytes is shorter than a batch header")
    magic, version, hsize, lid, rsize, count, first = _HEADER.unpack_from(payload)
    if magic != _MAGIC:
        raise BridgeError("not an hftcore record batch (bad magic)")
    if version != WIRE_VERSION:
        raise BridgeError(f"batch wire version {version}, this hftcore reads {WIRE_VERSION}")
    if lid != layout or rsize != dt.itemsize:
        raise BridgeError(f"batch of layout {lid:#018x} ({rsize}-byte records), expected "
                          f"{layout:#018x} ({dt.itemsize} bytes)")
    if len(payload) != hsize + count * rsize:
        raise BridgeError(f"batch says {count} records of {rsize} bytes, carries "
                          f"{len(payload) - hsize} bytes")
    records = np.frombuffer(payload, dtype=dt, count=count, offset=hsize)
    return first, records


def _connect_options(extra: dict[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,  # keep trying: a broker restart is routine
        "reconnect_time_wait": 0.2,
        "connect_timeout": 2,
    }
    opts.update(extra or {})
    return opts


async def _nats(servers: str | Sequence[str], options: dict[str, Any]) -> Any:
    try:
        import nats
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the NATS bridge needs: pip install hftcore[nats]") from exc
    urls = [servers] if isinstance(servers, str) else list(servers)

    async def _state(what: str) -> None:
        log.info("nats %s", what, extra={"servers": urls})

    async def disconnected() -> None:
        await _state("disconnected")

    async def reconnected() -> None:
        await _state("reconnected")

    async def error(exc: Exception) -> None:
        log.debug("nats error: %s", exc)

    return await nats.connect(servers=urls, disconnected_cb=disconnected,
                              reconnected_cb=reconnected, error_cb=error, **options)


def _retryable() -> tuple[type[BaseException], ...]:
    import nats.errors
    import nats.js.errors

    return (nats.errors.TimeoutError, nats.errors.NoRespondersError,
            nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError, nats.errors.OutboundBufferLimitError,
            nats.js.errors.NoStreamResponseError, nats.js.errors.ServiceUnavailableError,
            asyncio.TimeoutError, OSError)


class NatsPublisher:
    """Publishes record batches to a JetStream stream (created if missing, file storage).

    ``first_seq`` of each batch is taken from the caller (e.g. a ring consumer's
    ``batch_seq``) or counted here; with ``resume=True`` the count continues from the last
    batch already in the stream for ``subject``.
    """

    def __init__(self, servers: str | Sequence[str], dtype: npt.DTypeLike, *,
                 stream: str = "HFTCORE", subject: str = "hftcore.records",
                 source: str | None = None, resume: bool = True,
                 max_age: float | None = None,
                 connect_options: dict[str, Any] | None = None) -> None:
        self.dtype, self.layout_id = _layout(dtype)
        for what, value in (("stream", stream), ("subject", subject)):
            if not isinstance(value, str) or not value or " " in value:
                raise ValueError(f"{what} must be a non-empty name, got {value!r}")
        self.servers = servers
        self.stream = stream
        self.subject = subject
        self.source = source or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.resume = resume
        self.max_age = max_age
        self.next_seq = 0
        self.published_batches = 0
        self.retries = 0
        self._options = _connect_options(connect_options)
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        """Connect, make sure the stream exists, and find where to resume."""
        self._nc = await _nats(self.servers, self._options)
        self._js = self._nc.jetstream()
        await _ensure_stream(self._js, self.stream, self.subject, self.max_age)
        if self.resume:
            self.next_seq = await self._last_seq()

    async def _last_seq(self) -> int:
        import nats.js.errors

        try:
            last = await self._js.get_last_msg(self.stream, self.subject)
        except nats.js.errors.NotFoundError:
            return 0
        first, records = decode_batch(last.data, self.dtype)
        return int(first) + len(records)

    async def publish(self, records: npt.NDArray[Any], first_seq: int | None = None, *,
                      retry_for: float = 60.0) -> int:
        """Publish one batch and wait for the broker to store it; returns its first_seq.

        Broker outages are retried (same message id, stored once) for ``retry_for`` seconds.
        """
        if self._js is None:
            raise RuntimeError("call connect() first")
        if not isinstance(records, np.ndarray) or records.dtype != self.dtype:
            raise TypeError(f"records must be a numpy array of {self.dtype}")
        seq = self.next_seq if first_seq is None else first_seq
        payload = encode_batch(records, seq, self.layout_id)
        headers = {"Nats-Msg-Id": f"{self.source}:{seq}"}
        deadline = time.monotonic() + retry_for
        errors = _retryable()
        while True:
            try:
                await self._js.publish(self.subject, payload, timeout=2.0, headers=headers)
                break
            except errors as exc:
                if time.monotonic() >= deadline:
                    raise
                self.retries += 1
                log.debug("publish retry after %s", type(exc).__name__)
                await asyncio.sleep(0.05)
        self.next_seq = seq + len(records)
        self.published_batches += 1
        return seq

    async def close(self) -> None:
        """Flush and disconnect."""
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None
            self._js = None


async def _ensure_stream(js: Any, stream: str, subject: str, max_age: float | None) -> None:
    import nats.js.errors

    try:
        await js.stream_info(stream)
        return
    except nats.js.errors.NotFoundError:
        pass
    params: dict[str, Any] = {"name": stream, "subjects": [subject]}
    if max_age is not None:
        params["max_age"] = max_age
    try:
        await js.add_stream(**params)
    except nats.js.errors.BadRequestError:
        await js.stream_info(stream)  # made meanwhile by another process


@dataclass
class Batch:
    """Records received from the broker; ``first_seq`` is the first record's number."""

    first_seq: int
    records: npt.NDArray[Any]
    msg: Any = None


class NatsSubscriber:
    """Reads record batches from a JetStream stream through a durable pull consumer.

    Every batch is checked (layout, size); batches already seen (redeliveries after a
    reconnect) are counted in ``duplicates`` and skipped, a gap in the sequence numbers is
    counted in ``lost``.  Acknowledge what you processed with :meth:`ack` (the iterator
    :meth:`batches` does it when you come back for the next batch), so a subscriber that
    restarts resumes after the last processed batch.
    """

    def __init__(self, servers: str | Sequence[str], dtype: npt.DTypeLike, *,
                 durable: str, stream: str = "HFTCORE", subject: str = "hftcore.records",
                 connect_options: dict[str, Any] | None = None) -> None:
        self.dtype, self.layout_id = _layout(dtype)
        if not isinstance(durable, str) or not durable.replace("-", "_").isidentifier():
            raise ValueError(f"durable must be a name of letters, digits, '_' or '-', "
                             f"got {durable!r}")
        self.servers = servers
        self.durable = durable
        self.stream = stream
        self.subject = subject
        self.next_seq: int | None = None
        self.lost = 0
        self.duplicates = 0
        self.bad_messages = 0
        self._options = _connect_options(connect_options)
        self._nc: Any = None
        self._sub: Any = None

    async def connect(self) -> None:
        """Connect and bind the durable consumer (made on first use)."""
        self._nc = await _nats(self.servers, self._options)
        js = self._nc.jetstream()
        await _ensure_stream(js, self.stream, self.subject, None)
        self._sub = await js.pull_subscribe(self.subject, durable=self.durable,
                                            stream=self.stream)

    async def fetch(self, max_batches: int = 64, timeout: float = 1.0) -> list[Batch]:
        """Up to ``max_batches`` new batches (empty after ``timeout`` seconds, or while the
        broker is unreachable).  Acknowledge them with :meth:`ack` once processed."""
        if self._sub is None:
            raise RuntimeError("call connect() first")
        try:
            msgs = await self._sub.fetch(max_batches, timeout=timeout)
        except _retryable():
            return []
        out: list[Batch] = []
        for msg in msgs:
            try:
                first, records = decode_batch(msg.data, self.dtype)
            except BridgeError as exc:
                self.bad_messages += 1
                log.warning("dropped a message: %s", exc)
                await self._ack(msg)
                continue
            end = first + len(records)
            if self.next_seq is not None:
                if end <= self.next_seq:
                    self.duplicates += 1
                    await self._ack(msg)
                    continue
                if first < self.next_seq:  # overlaps what was seen: keep the new tail
                    records = records[self.next_seq - first:]
                    first = self.next_seq
                elif first > self.next_seq:
                    self.lost += first - self.next_seq
            self.next_seq = end
            out.append(Batch(first, records, msg))
        return out

    async def _ack(self, msg: Any) -> None:
        try:
            await msg.ack()
        except _retryable():
            pass  # redelivered after the reconnect, then dropped as a duplicate

    async def ack(self, batches: Sequence[Batch]) -> None:
        """Tell the broker these batches were processed."""
        for b in batches:
            if b.msg is not None:
                await self._ack(b.msg)

    async def batches(self, timeout: float = 1.0) -> AsyncIterator[Batch]:
        """Yield batches as they come, acknowledging each when the next is asked for."""
        while self._sub is not None:
            got = await self.fetch(timeout=timeout)
            for b in got:
                yield b
                await self.ack([b])

    async def close(self) -> None:
        """Disconnect (the durable consumer keeps its place on the broker)."""
        if self._nc is not None:
            await self._nc.close()
            self._nc = None
            self._sub = None


async def ring_to_nats(consumer: Consumer, publisher: NatsPublisher, *, max_batch: int = 1024,
                       idle_sleep: float = 0.0005, stop: asyncio.Event | None = None) -> int:
    """Forward a ring's records to NATS until the ring's stream ends (or ``stop`` is set).

    Each batch keeps the ring's sequence numbers, so records the ring consumer lost show as
    gaps to the subscriber.  Returns the records forwarded.
    """
    sent = 0
    while stop is None or not stop.is_set():
        records = consumer.read(max_batch)
        if len(records):
            await publisher.publish(records, consumer.batch_seq)
            sent += len(records)
        elif consumer.end_of_stream:
            break
        else:
            await asyncio.sleep(idle_sleep)
    return sent


async def nats_to_ring(subscriber: NatsSubscriber, producer: Producer, *,
                       stop: asyncio.Event | None = None, timeout: float = 0.2) -> int:
    """Publish every batch the subscriber receives into a local ring until ``stop`` is set.

    Returns the records written.  A batch is acknowledged once it is in the ring.
    """
    written = 0
    while stop is None or not stop.is_set():
        got = await subscriber.fetch(timeout=timeout)
        for b in got:
            done = 0
            while done < len(b.records):
                done += producer.publish_batch(b.records[done:], timeout=0)
                if done < len(b.records):
                    await asyncio.sleep(0.0005)  # ring full: let the event loop run
            written += done
        await subscriber.ack(got)
    return written
