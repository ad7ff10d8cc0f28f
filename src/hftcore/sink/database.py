"""The database sink: orders, fills, positions, risk events and PnL of a running engine into
PostgreSQL (TimescaleDB when present), off the hot path, losing nothing when the database goes.

::

    engine thread                         writer thread (its own asyncio loop, asyncpg)
    ─────────────                         ──────────────────────────────────────────────
    between two batches, every            batches from the queue, merged up to batch_rows or
    poll_interval: Collector.poll()  ──▶  flush_interval ─▶ COPY + INSERT ... ON CONFLICT
    bounded queue (put_nowait)            database down or slow ─▶ spill segment on disk
    queue full ─▶ spill segment           database back ─▶ replay the spill, oldest first

Trading never waits for the database: the engine thread only reads state and puts one batch on
a bounded queue per poll; when the queue is full (the writer is stuck on a slow database) the
batch goes straight to the spill file.  Rows are written with idempotent keys, so a batch whose
commit was in flight when the connection broke - spilled and replayed - is not written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hftcore._args import (
    check_bool,
    check_path,
    check_positive_int,
    check_positive_seconds,
    check_text,
)
from hftcore.sink.collector import Collector
from hftcore.sink.schema import check_schema_name
from hftcore.sink.spill import Batch, SpillDir, SpillFull
from hftcore.sink.writer import PgWriter, is_transient, mask_dsn, merge

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["DatabaseSink"]

log = logging.getLogger("hftcore.sink")

_WAKE = object()


def _rows(batch: Batch) -> int:
    return sum(len(rows) for _, rows in batch)


def _secret_text(dsn: object) -> str:
    reveal = getattr(dsn, "reveal", None)
    if callable(reveal):
        value = reveal()
        if not isinstance(value, str):
            raise TypeError("dsn: the secret must hold text")
        return value
    if not isinstance(dsn, str):
        raise TypeError(f"dsn must be a str or a hftcore.config.Secret, got {type(dsn).__name__}")
    return dsn


class DatabaseSink:
    """Writes an engine's orders, fills, positions, risk events and strategy PnL to PostgreSQL.

    Parameters
    ----------
    dsn : str or hftcore.config.Secret
        Where the database is (``postgresql://user@host:port/db``); give passwords through a
        :class:`~hftcore.config.Secret` (environment or file): the DSN is never logged.
    spill_dir : path
        Directory of the spill segments (bounded by ``spill_max_bytes``).  Segments left by an
        earlier run are replayed too.
    schema : str
        PostgreSQL schema of the tables (created or migrated on first connection unless
        ``create_schema=False``).
    run : str, optional
        The run id every row carries (default: the order manager's session, the wall-clock time
        and a random suffix: unique per sink).
    poll_interval : float
        Seconds between two looks at the engine (between batches; the engine never waits).
    sample_interval_ns : int
        Positions, strategy PnL and book samples at most this often, in engine time.
    book_samples, trades : bool
        Also write top-of-book samples / the public trades of processed event batches.
    queue_batches : int
        Bound of the queue to the writer thread (one batch per poll).
    batch_rows : int
        The writer sends up to this many rows in one transaction ...
    flush_interval : float
        ... or what it has after this many seconds.
    spill_max_bytes : int
        Bound of the spill directory; a batch that does not fit is dropped and counted
        (``stats()["rows_dropped"]``) - the only loss, and a logged one.
    connect_timeout, command_timeout : float
        Seconds before a connection attempt / a statement counts as failed.
    retry_max : float
        The longest wait between two reconnection attempts (backoff doubles from 0.1 s).
    spill_fsync : bool
        fsync each spilled batch.
    config_sha256 : str
        The configuration's hash, kept with the run.
    """

    def __init__(
        self,
        dsn: Any,
        spill_dir: str | Path,
        *,
        schema: str = "hftcore",
        run: str | None = None,
        poll_interval: float = 0.05,
        sample_interval_ns: int = 1_000_000_000,
        book_samples: bool = False,
        trades: bool = False,
        queue_batches: int = 1024,
        batch_rows: int = 20_000,
        flush_interval: float = 0.2,
        spill_max_bytes: int = 1 << 30,
        create_schema: bool = True,
        connect_timeout: float = 2.0,
        command_timeout: float = 10.0,
        retry_max: float = 5.0,
        spill_fsync: bool = False,
        config_sha256: str = "",
    ) -> None:
        text = _secret_text(dsn)
        # every argument is checked before anything is made (no thread, no spill directory)
        check_path(spill_dir, "spill_dir")
        for name, v in (("poll_interval", poll_interval), ("flush_interval", flush_interval),
                        ("connect_timeout", connect_timeout),
                        ("command_timeout", command_timeout), ("retry_max", retry_max)):
            check_positive_seconds(v, name)
        for name, n in (("queue_batches", queue_batches), ("batch_rows", batch_rows),
                        ("spill_max_bytes", spill_max_bytes)):
            check_positive_int(n, name)
        for name, b in (("book_samples", book_samples), ("trades", trades),
                        ("create_schema", create_schema), ("spill_fsync", spill_fsync)):
            check_bool(b, name)
        if isinstance(sample_interval_ns, bool) or not isinstance(sample_interval_ns, int):
            raise TypeError(f"sample_interval_ns must be an int, got "
                            f"{type(sample_interval_ns).__name__} {sample_interval_ns!r}")
        if sample_interval_ns < 0:
            raise ValueError(f"sample_interval_ns must be >= 0, got {sample_interval_ns!r}")
        if run is not None:
            check_text(run, "run", empty=False)
        check_text(config_sha256, "config_sha256")
        check_schema_name(schema)
        self._writer = PgWriter(text, schema, create_schema=create_schema,
                                connect_timeout=connect_timeout, command_timeout=command_timeout)
        self.schema = self._writer.schema
        self.spill = SpillDir(spill_dir, spill_max_bytes, fsync=spill_fsync)
        self._rejected = SpillDir(Path(spill_dir) / "rejected", spill_max_bytes)
        self.run = run
        self.poll_interval = float(poll_interval)
        self.sample_interval_ns = sample_interval_ns
        self.book_samples = book_samples
        self.trades = trades
        self.batch_rows = batch_rows
        self.flush_interval = float(flush_interval)
        self.retry_max = float(retry_max)
        self.config_sha256 = config_sha256
        self._queue: queue.Queue[Any] = queue.Queue(queue_batches)
        self._collector: Collector | None = None
        self._engine: Engine | None = None
        self._next_poll = 0
        self._poll_ns = int(self.poll_interval * 1e9)
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._put = 0          # batches handed to the writer (engine side)
        self._done = 0         # batches the writer wrote or spilled
        self._up = False
        self._next_retry = 0.0
        self._backoff = 0.1
        self._counts = {"rows_queued": 0, "rows_written": 0, "rows_duplicate": 0,
                        "rows_spilled": 0, "rows_replayed": 0, "rows_dropped": 0,
                        "rows_rejected": 0, "batches_written": 0, "segments_replayed": 0,
                        "db_errors": 0, "queue_full": 0}
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="hftcore-db-sink", daemon=True)
        self._thread.start()

    @classmethod
    def from_config(cls, config: Any, base: str | Path = ".", **overrides: Any) -> DatabaseSink:
        """A sink from a configuration's ``[sinks.postgres]`` (a
        :class:`hftcore.config.PostgresSinkConfig`, or a :class:`hftcore.config.Config`);
        ``spill_dir`` relative to ``base``; keyword arguments override the file's."""
        from hftcore.config import Config, PostgresSinkConfig

        if not isinstance(config, Config | PostgresSinkConfig):
            raise TypeError(f"config must be a hftcore.config.Config or PostgresSinkConfig, "
                            f"got {type(config).__name__}")
        check_path(base, "base")
        pg = config.sinks.get("postgres") if isinstance(config, Config) else config
        if pg is None or getattr(pg, "dsn", None) is None:
            raise ValueError("the configuration has no [sinks.postgres] dsn")
        sha = getattr(config, "sha256", "")
        kw: dict[str, Any] = dict(
            schema=pg.schema, poll_interval=pg.poll_interval_ms / 1000,
            sample_interval_ns=pg.sample_interval_ms * 1_000_000,
            book_samples=pg.book_samples, trades=pg.trades, queue_batches=pg.queue_batches,
            batch_rows=pg.batch_rows, flush_interval=pg.flush_interval_ms / 1000,
            spill_max_bytes=pg.spill_max_bytes, create_schema=pg.create_schema,
            config_sha256=sha)
        kw.update(overrides)
        spill = Path(pg.spill_dir)
        return cls(pg.dsn, spill if spill.is_absolute() else Path(base) / spill, **kw)

    def __repr__(self) -> str:
        return (f"DatabaseSink(run={self.run!r}, schema={self.schema!r}, db_up={self._up}, "
                f"spill={str(self.spill.path)!r})")

    # -- engine side --------------------------------------------------------------------------
    def attach(self, engine: Engine) -> DatabaseSink:
        """Watch ``engine`` (an engine observer, called between two batches); returns self."""
        from hftcore.engine import Engine

        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a hftcore.Engine, got {type(engine).__name__}")
        if self._engine is not None:
            raise RuntimeError("this sink already watches an engine")
        if self.run is None:
            self.run = f"{engine.om.session}-{time.time_ns()}-{secrets.token_hex(3)}"
        self._collector = Collector(engine, self.run, sample_interval_ns=self.sample_interval_ns,
                                    book_samples=self.book_samples, trades=self.trades,
                                    config_sha256=self.config_sha256)
        self._engine = engine
        engine.add_observer(self)
        return self

    def __call__(self, engine: Engine, events: Any) -> None:
        """The engine observer: keeps trades, and polls the engine every ``poll_interval``."""
        c = self._collector
        if c is None:
            return
        if self.trades and events is not None:
            c.note_events(events)
        now = time.monotonic_ns()
        if now < self._next_poll and not c.more:
            return
        self._next_poll = now + self._poll_ns
        self.put(c.poll())

    def poll(self, final: bool = False) -> int:
        """Look at the engine now (on its thread) and queue what is new; returns the rows."""
        check_bool(final, "final")
        if self._collector is None:
            return 0
        batch = self._collector.poll(final)
        self.put(batch)
        return _rows(batch)

    def put(self, batch: Batch) -> None:
        """Queue rows for the writer (``[(table, [row, ...]), ...]``, rows as the collector
        makes them); never blocks: with the queue full they go to the spill directly."""
        if not isinstance(batch, list) or not all(
                isinstance(b, tuple) and len(b) == 2 and isinstance(b[0], str)
                and isinstance(b[1], list) for b in batch):
            raise TypeError("batch must be a list of (table, [row, ...]) tuples, got "
                            f"{type(batch).__name__}")
        if not batch:
            return
        n = _rows(batch)
        self._counts["rows_queued"] += n
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._counts["queue_full"] += 1
            self._spill(batch)
            return
        with self._cond:
            self._put += 1

    def flush(self, timeout: float = 30.0) -> bool:
        """Poll the engine, then wait until the writer has written or spilled every batch
        queued so far.  False on timeout."""
        check_positive_seconds(timeout, "timeout")
        self.poll()
        with self._cond:
            target = self._put
        self._wake()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def wait_replayed(self, timeout: float = 30.0) -> bool:
        """Wait until the spill is empty (every spilled row written).  False on timeout."""
        check_positive_seconds(timeout, "timeout")
        deadline = time.monotonic() + timeout
        while self.spill.bytes > 0:
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            self._wake()
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 30.0) -> dict[str, Any]:
        """Take a last sample, stop watching the engine, write or spill everything, stop the
        writer thread; returns :meth:`stats`.  Rows still unwritten stay in the spill (a later
        sink, or ``python -m hftcore db replay``, writes them)."""
        check_positive_seconds(timeout, "timeout")
        if self._engine is not None and self._collector is not None:
            with contextlib.suppress(ValueError):
                self._engine.remove_observer(self)
            self.put(self._collector.poll(final=True))
            self._collector.detach()
            self._collector = None
        self._stop.set()
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("database sink: the writer did not stop in %.1f s; queued rows go to the "
                      "spill", timeout)
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _WAKE:
                    self._spill(item)
        self.spill.close()
        return self.stats()

    def __enter__(self) -> DatabaseSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """Counters: rows queued, written, duplicate (already in the database), spilled,
        replayed, dropped (spill full), rejected (refused by the database); the spill's size,
        whether the database is up and the last error."""
        out: dict[str, Any] = dict(self._counts)
        out.update(db_up=self._up, spill_bytes=self.spill.bytes,
                   spill_damaged_bytes=self.spill.damaged_bytes, last_error=self.last_error,
                   queued_batches=self._queue.qsize(), run=self.run)
        return out

    # -- both sides ---------------------------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_WAKE)

    def _spill(self, batch: Batch) -> None:
        n = _rows(batch)
        try:
            self.spill.append(batch)
        except SpillFull as exc:
            self._counts["rows_dropped"] += n
            log.error("database sink: %s; %d rows dropped", exc, n)
            return
        except OSError as exc:
            self._counts["rows_dropped"] += n
            log.error("database sink: cannot write the spill (%s); %d rows dropped", exc, n)
            return
        self._counts["rows_spilled"] += n

    # -- writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._loop(loop)
        except Exception:                    # a bug: say so; the engine goes on regardless
            log.exception("database sink: the writer thread failed")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._writer.close())
            loop.close()

    def _loop(self, loop: asyncio.AbstractEventLoop) -> None:
        pending: list[Batch] = []
        rows = 0
        first = 0.0
        q = self._queue
        while True:
            stopping = self._stop.is_set()
            wait = self.flush_interval if not pending else max(
                0.0, first + self.flush_interval - time.monotonic())
            try:
                item = q.get(timeout=wait) if not stopping else q.get_nowait()
            except queue.Empty:
                item = None
            flush_now = item is _WAKE or stopping
            if item is not None and item is not _WAKE:
                if not pending:
                    first = time.monotonic()
                pending.append(item)
                rows += _rows(item)
                # take what else is queued without waiting
                while rows < self.batch_rows:
                    try:
                        more = q.get_nowait()
                    except queue.Empty:
                        break
                    if more is _WAKE:
                        flush_now = True
                        continue
                    pending.append(more)
                    rows += _rows(more)
            if pending and (flush_now or rows >= self.batch_rows
                            or time.monotonic() - first >= self.flush_interval):
                self._deliver(loop, pending)
                with self._cond:
                    self._done += len(pending)
                    self._cond.notify_all()
                pending, rows = [], 0
            if self.spill.bytes and (self._up or time.monotonic() >= self._next_retry):
                self._replay(loop, all_segments=stopping)
            if stopping and item is None and not pending:
                return

    def _failed(self, exc: BaseException) -> None:
        self._counts["db_errors"] += 1
        self.last_error = mask_dsn(f"{type(exc).__name__}: {exc}", self._writer._dsn)
        if self._up:
            log.warning("database sink: the database is unreachable (%s); rows go to the "
                        "spill until it is back", self.last_error)
        self._up = False
        self._next_retry = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.retry_max)

    def _ok(self) -> None:
        if not self._up:
            log.info("database sink: connected")
        self._up = True
        self._backoff = 0.1

    def _deliver(self, loop: asyncio.AbstractEventLoop, batches: list[Batch]) -> None:
        if not self._up and time.monotonic() < self._next_retry:
            for b in batches:
                self._spill(b)
            return
        try:
            given, new = loop.run_until_complete(self._writer.write(merge(batches)))
        except Exception as exc:
            if is_transient(exc):
                self._failed(exc)
                for b in batches:
                    self._spill(b)
            else:
                self._reject(batches, exc)
            return
        self._ok()
        self._counts["rows_written"] += new
        self._counts["rows_duplicate"] += given - new
        self._counts["batches_written"] += 1

    def _reject(self, batches: list[Batch], exc: BaseException) -> None:
        """The database refused the rows themselves (not a connection problem): keep them apart
        for a person to look at, so they do not block the rows behind them."""
        n = sum(_rows(b) for b in batches)
        self._counts["rows_rejected"] += n
        self.last_error = mask_dsn(f"{type(exc).__name__}: {exc}", self._writer._dsn)
        log.error("database sink: the database refused %d rows (%s); kept in %s", n,
                  self.last_error, self._rejected.path)
        for b in batches:
            try:
                self._rejected.append(b)
            except (SpillFull, OSError):
                self._counts["rows_dropped"] += _rows(b)

    def _replay(self, loop: asyncio.AbstractEventLoop, all_segments: bool) -> None:
        for seg in self.spill.pending():
            batch = self.spill.read(seg)
            try:
                given, new = loop.run_until_complete(self._writer.write(merge([batch])))
            except Exception as exc:
                if is_transient(exc):
                    self._failed(exc)
                    return
                self._reject([batch], exc)
                self.spill.remove(seg)
                continue
            self._ok()
            self.spill.remove(seg)
            self._counts["rows_replayed"] += given
            self._counts["rows_written"] += new
            self._counts["rows_duplicate"] += given - new
            self._counts["segments_replayed"] += 1
            if not all_segments:
                return
