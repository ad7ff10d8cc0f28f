"""The order manager: the compiled order table and state machine, with its Python surface.

Life cycle (``hftcore.OrderStatus``)::

    NEW ──submit──▶ PENDING_NEW ──ack──▶ ACCEPTED ──fill──▶ PARTIALLY_FILLED ──fill──▶ FILLED
     │                 │  └─reject──▶ REJECTED      │  ▲                      │
     └─cancel─▶ CANCELED◀─canceled── PENDING_CANCEL ◀┘  └─ PENDING_REPLACE ◀──┘ (replace)
    any open state ──expired──▶ EXPIRED;  no answer in time ──▶ UNKNOWN ──reconcile──▶ ...

The transitions are compiled (``hftcore._ext.orders``): one function per event, run by the
live call and by journal replay alike.  Venues answer late, twice and out of order; the manager
follows what venues actually do:

* a fill before the ack implies the ack (the order is live); the ack arriving later is a
  benign duplicate;
* a cancel ack after the order filled is ignored (the order stays FILLED); a fill after a
  cancel ack is real money: it is booked, the order stays CANCELED unless it is now complete;
* fills are de-duplicated by the venue's trade id (per order, in O(1)) and never make
  ``filled`` exceed ``size`` (an over-fill is refused, reported, and left for reconciliation);
* illegal local requests raise :class:`OrderError`; well-formed venue events the order's state
  does not allow are refused and reported in :attr:`OrderManager.anomalies`; malformed
  arguments (wrong types, out-of-range codes) raise ``TypeError``/``ValueError`` naming the
  argument.  Either way a refused call changes nothing and is not journaled.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hftcore._ext import orders as _c
from hftcore.model import Fill, OrderStatus
from hftcore.orders.journal import sync_mode
from hftcore.orders.types import Anomaly, ReconcileReport, VenueOrder
from hftcore.portfolio import Portfolio
from hftcore.risk import Reason

if TYPE_CHECKING:
    from hftcore.risk import RiskEngine

__all__ = ["OrderManager"]

_c.bind_reasons(Reason)
_SESSION = next(t for t, s in _c.RECORD_SCHEMA.items() if s[0] == "session")
JOURNAL_VERSION = 2


def boot_id() -> str:
    """This boot's id (Linux), to tell a process restart from a reboot; "" elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


class OrderManager(_c.OrderCore):
    """Tracks every order from creation to a terminal state; feeds the portfolio and risk.

    Parameters
    ----------
    session : str, optional
        Session tag in client order ids (random 8 hex digits by default).  Ids are
        ``"{prefix}{session}-{n}"``: unique per session, hence per venue.
    journal : path, optional
        Order journal file (see :class:`~hftcore.orders.Journal`); must be new or empty - use
        :meth:`recover` to continue an existing one.  ``None``: no journal.
    portfolio : Portfolio, optional
        Receives every booked fill (a new one by default).
    risk : RiskEngine, optional
        Checked on :meth:`submit` and :meth:`cancel`; told about open orders, fills and
        venue errors.
    timeout_ns : int
        Time a PENDING_* order waits for an answer before it becomes UNKNOWN.
    clock : callable
        Nanosecond clock for history and timeouts (``time.monotonic_ns``).  Every ``ts``
        argument is on this clock.
    fsync : bool
        Put each journal record on the device before acting on it (survives a power loss;
        costs a device flush per event).
    on_anomaly : callable, optional
        Called with each :class:`Anomaly` as it is recorded.
    prefix : str
        Client order id prefix.
    anomaly_log_size : int
        The last this many anomalies are kept in :attr:`anomalies`; :attr:`counts` counts all.
    sync_interval_ns : int
        Without ``fsync``: a background thread puts the journal on the device this often
        (0: leave it to the kernel).  See docs/trading.md for what each mode can lose.

    Notes
    -----
    The Python API: ``create``, ``submit``, ``cancel``, ``cancel_all``, ``replace``; venue
    events ``on_ack``, ``on_reject``, ``on_fill``, ``on_canceled``, ``on_expired``,
    ``on_cancel_reject``, ``on_replace_reject``, ``on_replaced``; ``check_timeouts``,
    ``reconcile``, ``recover``, ``prune``; queries ``get``, ``om[cid]``, ``in``, ``len``,
    iteration, ``open_orders``, ``fills``, ``counts``, ``anomalies``.  An engine written in
    Cython can call the C API of :class:`hftcore._ext.orders.OrderCore` instead.
    """

    anomalies: deque[Anomaly]
    counts: Counter[str]
    on_anomaly: Callable[[Anomaly], None] | None

    def __init__(
        self,
        session: str | None = None,
        journal: str | os.PathLike[str] | None = None,
        portfolio: Portfolio | None = None,
        risk: RiskEngine | None = None,
        timeout_ns: int = 5_000_000_000,
        clock: Callable[[], int] = time.monotonic_ns,
        fsync: bool = False,
        on_anomaly: Callable[[Anomaly], None] | None = None,
        prefix: str = "hc",
        anomaly_log_size: int = 10_000,
        sync_interval_ns: int = 0,
    ) -> None:
        if session is None:
            session = secrets.token_hex(4)
        if not isinstance(session, str) or not isinstance(prefix, str):
            raise TypeError("session and prefix must be str")
        if not (session.isascii() and session.isalnum() and prefix.isascii()
                and prefix.isalnum()) or len(prefix + session) > 24:
            raise ValueError("session and prefix must be short alphanumeric text (24 at most)")
        if not isinstance(timeout_ns, int) or isinstance(timeout_ns, bool):
            raise TypeError(f"timeout_ns must be an int, got {type(timeout_ns).__name__}")
        if timeout_ns < 0:
            raise ValueError(f"timeout_ns must not be negative, got {timeout_ns}")
        if not callable(clock):
            raise TypeError("clock must be a callable returning int nanoseconds")
        if on_anomaly is not None and not callable(on_anomaly):
            raise TypeError("on_anomaly must be callable")
        if not isinstance(anomaly_log_size, int) or isinstance(anomaly_log_size, bool) \
                or anomaly_log_size <= 0:
            raise ValueError(f"anomaly_log_size must be a positive int, got {anomaly_log_size!r}")
        if portfolio is not None and not isinstance(portfolio, Portfolio):
            raise TypeError(f"portfolio must be a Portfolio, got {type(portfolio).__name__}")
        mode = sync_mode(fsync, sync_interval_ns)
        self.on_anomaly = on_anomaly
        self.anomalies = deque(maxlen=anomaly_log_size)
        self.counts = Counter()
        self._fsync = fsync
        self._sync_interval_ns = sync_interval_ns
        self._journal_path: Path | None = None
        self._configure(session, prefix, portfolio if portfolio is not None else Portfolio(),
                        risk, timeout_ns, clock)
        if journal is not None:
            path = Path(journal)
            if path.exists() and path.stat().st_size:
                raise ValueError(f"journal {path} already holds records: continue it with "
                                 "OrderManager.recover(path)")
            self._open_journal(path, mode, None, 0)

    # -- journal -----------------------------------------------------------------------------
    def _open_journal(self, path: Path, mode: int, end: int | None, recovered: int,
                      clear_to: int | None = None) -> None:
        writer = _c.JournalWriter(path, mode, self._sync_interval_ns, end, clear_to)
        self._attach_journal(writer)
        self._journal_path = path
        clock = self.clock
        now = clock() if clock is not time.monotonic_ns else time.monotonic_ns()
        writer.append(_SESSION, (JOURNAL_VERSION, now, time.time_ns(), os.getpid(), recovered),
                      (self.session, self.prefix, boot_id(),
                       "monotonic" if clock is time.monotonic_ns else "custom"))
        self._write_clock()

    @property
    def journal(self) -> Path | None:
        """The journal file, or None."""
        return self._journal_path

    def sync_journal(self) -> None:
        """Put every journal record written so far on the device now (fdatasync)."""
        w = self._journal_writer
        if w is not None:
            w.sync()

    def close(self) -> None:
        """Close the journal (later journaled calls raise ``ValueError``)."""
        w = self._journal_writer
        if w is not None:
            w.close()

    # -- anomalies -----------------------------------------------------------------------------
    def _report(self, kind: str, client_order_id: object, status: object, ts: int,
                detail: str) -> None:
        st = status if status is None or isinstance(status, OrderStatus) else \
            OrderStatus(int(status))  # type: ignore[call-overload]
        a = Anomaly(ts, str(client_order_id), kind, st, detail)
        self.anomalies.append(a)
        self.counts[kind] += 1
        if self.on_anomaly is not None:
            self.on_anomaly(a)

    def _count(self, kind: str) -> None:
        self.counts[kind] += 1

    # -- reconciliation and recovery -----------------------------------------------------------
    def reconcile(
        self,
        venue: str,
        open_orders: Iterable[VenueOrder],
        fills: Iterable[Fill] = (),
        closed: Mapping[str, OrderStatus] | None = None,
        sent_before_ns: int | None = None,
        ts: int | None = None,
    ) -> ReconcileReport:
        """Settle our orders on ``venue`` against what the venue reports.

        See :func:`hftcore.orders.reconcile.reconcile`.
        """
        from hftcore.orders.reconcile import reconcile

        return reconcile(self, venue, open_orders, fills, closed, sent_before_ns, ts)

    @classmethod
    def recover(
        cls,
        journal: str | os.PathLike[str],
        portfolio: Portfolio | None = None,
        risk: RiskEngine | None = None,
        *,
        rebase_time: bool = True,
        **kwargs: Any,
    ) -> OrderManager:
        """Rebuild the orders and the portfolio from a journal and keep appending to it.

        See :func:`hftcore.orders.recovery.recover`.
        """
        from hftcore.orders.recovery import recover

        return recover(cls, journal, portfolio, risk, rebase_time=rebase_time, **kwargs)

    def __repr__(self) -> str:
        return (f"OrderManager(session={self.session!r}, orders={len(self)}, "
                f"open={len(self.open_orders())}, fills={len(self.fills)}, "
                f"journal={str(self._journal_path) if self._journal_path else None!r})")
