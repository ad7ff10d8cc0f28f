"""Order manager: client order ids, the order state machine, timeouts, reconciliation, journal.

Life cycle (``hftcore.OrderStatus``)::

    NEW ──submit──▶ PENDING_NEW ──ack──▶ ACCEPTED ──fill──▶ PARTIALLY_FILLED ──fill──▶ FILLED
     │                 │  └─reject──▶ REJECTED      │  ▲                      │
     └─cancel─▶ CANCELED◀─canceled── PENDING_CANCEL ◀┘  └─ PENDING_REPLACE ◀──┘ (replace)
    any open state ──expired──▶ EXPIRED;  no answer in time ──▶ UNKNOWN ──reconcile──▶ ...

Venues answer late, twice and out of order; the manager follows what venues actually do:

* a fill before the ack implies the ack (the order is live); the ack arriving later is a
  benign duplicate;
* a cancel ack after the order filled is ignored (the order stays FILLED); a fill after a
  cancel ack is real money: it is booked, the order stays CANCELED unless it is now complete;
* fills are de-duplicated by the venue's trade id and never make ``filled`` exceed ``size``
  (an over-fill is refused, reported, and left for reconciliation);
* illegal local requests raise :class:`OrderError`; illegal or impossible venue events are
  refused and reported in :attr:`OrderManager.anomalies` (nothing raises on the venue path).

An order with no answer in time becomes UNKNOWN and is settled by :meth:`OrderManager.reconcile`
against the venue's open orders and fills - never assumed.

Journal: with ``journal=path``, every event is appended (one JSON line, one ``write``) to the
file *before* it is acted on, so a process killed at any instant loses nothing the venue told it;
:meth:`OrderManager.recover` rebuilds the orders and the portfolio from the file.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hftcore.model import (
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from hftcore.portfolio import Portfolio
from hftcore.risk import Reason, RiskEngine

__all__ = [
    "Anomaly",
    "Journal",
    "OrderError",
    "OrderManager",
    "ReconcileReport",
    "VenueOrder",
]

S = OrderStatus
# Enum members bound to module names: on Python 3.11 ``OrderStatus.X`` costs ~100 ns a lookup.
_ACCEPTED = S.ACCEPTED
_CANCELED = S.CANCELED
_EXPIRED = S.EXPIRED
_FILLED = S.FILLED
_NEW = S.NEW
_PARTIALLY_FILLED = S.PARTIALLY_FILLED
_PENDING_CANCEL = S.PENDING_CANCEL
_PENDING_NEW = S.PENDING_NEW
_PENDING_REPLACE = S.PENDING_REPLACE
_REJECTED = S.REJECTED
_UNKNOWN = S.UNKNOWN
_OK = Reason.OK
_PENDING = (_PENDING_NEW, _PENDING_CANCEL, _PENDING_REPLACE)
# tuples, not sets: Enum.__hash__ is a Python function, tuple membership compares identity first
_LIVE = (_ACCEPTED, _PARTIALLY_FILLED)
_CANCELABLE = (_PENDING_NEW, _ACCEPTED, _PARTIALLY_FILLED, _PENDING_REPLACE, _UNKNOWN)
_TERM = tuple(s.is_terminal for s in OrderStatus)  # indexed by status code
_SIDES = tuple(Side)
_LIQ = tuple(Liquidity)
_TYPES = tuple(OrderType)
_TIFS = tuple(TimeInForce)
_new_tuple = tuple.__new__


class OrderError(ValueError):
    """A local request the order's state does not allow (submit twice, cancel a filled order)."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A venue event that was refused or was unexpected; ``kind`` names it."""

    ts: int
    client_order_id: str
    kind: str
    status: OrderStatus | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order as the venue lists it (for :meth:`OrderManager.reconcile`).

    ``price``/``size``/``filled`` are raw; ``filled`` is the venue's cumulative filled size.
    """

    client_order_id: str
    venue_order_id: str = ""
    price: int | None = None
    size: int | None = None
    filled: int | None = None


@dataclass(slots=True)
class ReconcileReport:
    """What :meth:`OrderManager.reconcile` decided."""

    resolved: dict[str, OrderStatus] = field(default_factory=dict)
    fills_applied: int = 0
    foreign_orders: list[VenueOrder] = field(default_factory=list)
    missing_fills: dict[str, int] = field(default_factory=dict)


class Journal:
    """Append-only file of JSON lines; each record is one ``os.write`` on an O_APPEND file.

    A record handed to :meth:`append` is in the kernel before the call returns, so it survives
    the process being killed (``fsync=True`` also survives a power loss, at a cost of
    milliseconds per record).
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.records = 0

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (and fsync if asked) before returning."""
        fd = self._fd
        if fd is None:
            raise ValueError("journal is closed")
        data = orjson.dumps(record) + b"\n"
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if self.fsync:
            os.fsync(fd)
        self.records += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def cut_torn_tail(path: str | os.PathLike[str]) -> bytes:
        """Truncate an incomplete last record; it is kept in ``<path>.torn``.  Returns it."""
        p = Path(path)
        data = p.read_bytes()
        end = len(data) - 1 if data.endswith(b"\n") else len(data)
        cut = data.rfind(b"\n", 0, end) + 1
        tail = data[cut:]
        if tail:
            with open(p.with_name(p.name + ".torn"), "ab") as f:
                f.write(tail if tail.endswith(b"\n") else tail + b"\n")
            os.truncate(p, cut)
        return tail

    @staticmethod
    def read(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], bool]:
        """All records of a journal and whether a torn last line (crash mid-write) was dropped.

        Raises ``ValueError`` for a damaged record that is not the last line.
        """
        data = Path(path).read_bytes()
        lines = data.split(b"\n")
        torn = False
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            torn = True  # no newline at the end: the last write did not complete
        records: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                if i == len(lines) - 1:
                    return records, True
                raise ValueError(f"{path}: journal record {i + 1} is damaged") from None
            if i == len(lines) - 1 and torn:
                return records, True
            records.append(rec)
        return records, torn


def _inst_record(inst: Instrument) -> dict[str, Any]:
    return {
        "e": "inst",
        "venue": inst.venue,
        "symbol": inst.symbol,
        "pd": inst.price_decimals,
        "sd": inst.size_decimals,
        "tick": inst.tick,
        "lot": inst.lot,
        "base": inst.base,
        "quote": inst.quote,
        "min_size": inst.min_size,
        "max_size": inst.max_size,
        "min_notional": inst.min_notional,
        "iid": inst.instrument_id,
    }


def _inst_from_record(r: Mapping[str, Any]) -> Instrument:
    return Instrument(
        r["venue"], r["symbol"], r["pd"], r["sd"], tick=r["tick"], lot=r["lot"], base=r["base"],
        quote=r["quote"], min_size=r["min_size"], max_size=r["max_size"],
        min_notional=r["min_notional"], instrument_id=r["iid"],
    )


class OrderManager:
    """Tracks every order from creation to a terminal state; feeds the portfolio and risk.

    Parameters
    ----------
    session : str, optional
        Session tag in client order ids (random 8 hex digits by default).  Ids are
        ``"{prefix}{session}-{n}"``: unique per session, hence per venue.
    journal : path, optional
        Append-only journal file (see :class:`Journal`).  ``None``: no journal.
    portfolio : Portfolio, optional
        Receives every booked fill (a new one by default).
    risk : RiskEngine, optional
        Checked on :meth:`submit` and :meth:`cancel`; told about open orders, fills and
        venue errors.
    timeout_ns : int
        Time a PENDING_* order waits for an answer before it becomes UNKNOWN.
    clock : callable
        Nanosecond clock for history and timeouts (``time.monotonic_ns``).
    fsync : bool
        fsync the journal after each record.
    on_anomaly : callable, optional
        Called with each :class:`Anomaly` as it is recorded.
    prefix : str
        Client order id prefix.
    anomaly_log_size : int
        The last this many anomalies are kept in :attr:`anomalies`; :attr:`counts` counts all.
    """

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
    ) -> None:
        self.session = session or secrets.token_hex(4)
        if not self.session.isalnum() or not prefix.isalnum() or len(prefix + self.session) > 24:
            raise ValueError("session and prefix must be short alphanumeric text")
        self.prefix = prefix
        self._id_prefix = f"{prefix}{self.session}-"
        self.portfolio = portfolio if portfolio is not None else Portfolio()
        self.risk = risk
        self.timeout_ns = timeout_ns
        self.clock = clock
        self.on_anomaly = on_anomaly
        self.anomalies: deque[Anomaly] = deque(maxlen=anomaly_log_size)
        self.counts: Counter[str] = Counter()
        self.fills: list[Fill] = []  # every booked fill, in booking order
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._instruments: dict[tuple[str, str], Instrument] = {}
        self._seq = 0
        self._journal: Journal | None = None
        self._replaying = False
        if journal is not None:
            self._journal = Journal(journal, fsync)
            self._write({"e": "session", "session": self.session, "prefix": prefix, "v": 1})

    # -- plumbing -----------------------------------------------------------------------------
    def _write(self, rec: dict[str, Any]) -> None:
        if self._journal is not None and not self._replaying:
            self._journal.append(rec)

    def _anomaly(self, o: Order | None, cid: str, kind: str, ts: int, detail: str = "") -> None:
        a = Anomaly(ts, cid, kind, o.status if o is not None else None, detail)
        self.anomalies.append(a)
        self.counts[kind] += 1
        if o is not None:
            o.history.append((ts, o.status, f"refused {kind}" if kind.startswith("illegal")
                              else kind))
        if self.on_anomaly is not None:
            self.on_anomaly(a)

    def _set(self, o: Order, status: OrderStatus, ts: int, event: str) -> None:
        o.status = status
        o.history.append((ts, status, event))
        if _TERM[status]:
            self._open.pop(o.client_order_id, None)
            if self.risk is not None:
                self.risk.on_order_closed(o.client_order_id)

    def close(self) -> None:
        """Close the journal."""
        if self._journal is not None:
            self._journal.close()

    # -- queries ------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None."""
        return self._orders.get(client_order_id)

    def __getitem__(self, client_order_id: str) -> Order:
        return self._orders[client_order_id]

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)

    def open_orders(self, venue: str | None = None) -> list[Order]:
        """Orders that may still trade (every status but NEW and the terminal ones)."""
        return [o for o in self._open.values() if venue is None or o.instrument.venue == venue]

    def prune(self, older_than_ns: int) -> int:
        """Forget terminal orders whose last event is older than ``older_than_ns``.

        Their events stay in the journal (a recovery rebuilds them) and their fills stay in the
        portfolio; a venue message about a forgotten order is reported as an anomaly
        (``*_unknown_order``), and a fill for one is journaled, so nothing is lost.  Keeps a
        long session's memory (and the garbage collector's work) flat.  Returns how many.
        """
        gone = {cid for cid, o in self._orders.items()
                if _TERM[o.status] and o.history[-1][0] < older_than_ns}
        if gone:
            for cid in gone:
                del self._orders[cid]
            self.fills = [f for f in self.fills if f.client_order_id not in gone]
        return len(gone)

    # -- local requests -----------------------------------------------------------------------
    def create(
        self,
        instrument: Instrument,
        side: Side,
        size: int,
        price: int,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        ts: int | None = None,
    ) -> Order:
        """A NEW order with a fresh client order id (journaled, not sent)."""
        if size <= 0:
            raise OrderError(f"order size must be positive, got {size}")
        self._seq += 1
        cid = self._id_prefix + str(self._seq)
        key = (instrument.venue, instrument.symbol)
        now = self.clock() if ts is None else ts
        if self._journal is not None:
            if key not in self._instruments:
                self._write(_inst_record(instrument))
            self._write({
                "e": "new", "id": cid, "venue": instrument.venue, "symbol": instrument.symbol,
                "side": int(side), "size": size, "price": price, "type": int(order_type),
                "tif": int(time_in_force), "ts": now,
            })
        if key not in self._instruments:
            self._instruments[key] = instrument
        o = Order(cid, instrument, _SIDES[side], size, price, _TYPES[order_type],
                  _TIFS[time_in_force])
        o.history.append((now, _NEW, "new"))
        self._orders[cid] = o
        return o

    def _do_new(self, cid: str, inst: Instrument, side: Side, size: int, price: int,
                order_type: OrderType, tif: TimeInForce, ts: int) -> Order:
        o = Order(cid, inst, _SIDES[side], size, price, _TYPES[order_type], _TIFS[tif])
        o.history.append((ts, _NEW, "new"))
        self._orders[cid] = o
        return o

    def submit(self, order: Order, ts: int | None = None) -> Reason:
        """Risk-check and mark as sent (PENDING_NEW); send it to the venue after this returns.

        Returns ``Reason.OK`` when the order may be sent; otherwise the order is REJECTED
        locally with the risk reason (and not sent).
        """
        if order.status != _NEW:
            raise OrderError(
                f"{order.client_order_id}: cannot submit an order in {order.status.name}"
            )
        now = self.clock() if ts is None else ts
        if self.risk is not None:
            reason = self.risk.check_code(
                order.instrument, order.side, order.price, order.size, order.order_type
            )
            if reason:
                self._write({"e": "risk_reject", "id": order.client_order_id,
                             "reason": int(reason), "ts": now})
                self._do_risk_reject(order, int(reason), now)
                return Reason(reason)
        if self._journal is not None:
            self._journal.append({"e": "submit", "id": order.client_order_id, "ts": now})
        order.sent_ns = now  # _do_submit inlined: the hot path
        order.status = _PENDING_NEW
        order.history.append((now, _PENDING_NEW, "submit"))
        self._open[order.client_order_id] = order
        if self.risk is not None:
            self.risk.on_order_open(order.client_order_id, order.instrument, order.side,
                                    order.price, order.size)
        return _OK

    def _do_risk_reject(self, o: Order, reason: int, ts: int) -> None:
        o.reason = f"risk: {Reason(reason).name}"
        self._set(o, _REJECTED, ts, "risk_reject")

    def _do_submit(self, o: Order, ts: int) -> None:
        o.sent_ns = ts
        o.status = _PENDING_NEW
        o.history.append((ts, _PENDING_NEW, "submit"))
        self._open[o.client_order_id] = o
        if self.risk is not None:
            self.risk.on_order_open(o.client_order_id, o.instrument, o.side, o.price, o.size)

    def cancel(self, client_order_id: str, ts: int | None = None) -> Reason:
        """Request a cancel: PENDING_CANCEL (a NEW order is canceled at once, never sent).

        Returns ``Reason.RATE_CANCELS`` (status unchanged) when the venue's cancel rate limit
        is used up.  Raises :class:`OrderError` for an order already done.
        """
        o = self._orders.get(client_order_id)
        if o is None:
            raise OrderError(f"unknown order {client_order_id}")
        if o.status != _NEW and o.status not in _CANCELABLE:
            if o.status == _PENDING_CANCEL:
                return _OK
            raise OrderError(f"{client_order_id}: cannot cancel an order in {o.status.name}")
        now = self.clock() if ts is None else ts
        if o.status != _NEW and self.risk is not None:
            reason = self.risk.check_cancel_venue(o.instrument.venue)
            if reason:
                return reason
        self._write({"e": "cancel", "id": client_order_id, "ts": now})
        self._do_cancel(o, now)
        return _OK

    def _do_cancel(self, o: Order, ts: int) -> None:
        if o.status == _NEW:
            self._set(o, _CANCELED, ts, "cancel (never sent)")
            return
        if o.status not in _PENDING[1:]:
            o.prior_status = o.status
        o.sent_ns = ts
        o.status = _PENDING_CANCEL
        o.history.append((ts, _PENDING_CANCEL, "cancel"))

    def cancel_all(self, client_order_ids: Iterable[str] | None = None) -> list[str]:
        """Request a cancel of every open order (or of the given ids); returns those requested.

        Fits ``RiskEngine(on_cancel_all=manager.cancel_all)`` for the kill switch.  Orders
        already done are skipped; a cancel refused by the venue's rate limit is left out.
        """
        ids = list(self._open) if client_order_ids is None else list(client_order_ids)
        done = []
        for cid in ids:
            o = self._orders.get(cid)
            if o is None or _TERM[o.status]:
                continue
            if self.cancel(cid) is _OK:
                done.append(cid)
        return done

    def replace(self, client_order_id: str, price: int, size: int,
                ts: int | None = None) -> None:
        """Request an amend of a live order: PENDING_REPLACE until the venue answers."""
        o = self._orders.get(client_order_id)
        if o is None:
            raise OrderError(f"unknown order {client_order_id}")
        if o.status not in _LIVE:
            raise OrderError(f"{client_order_id}: cannot replace an order in {o.status.name}")
        if size <= o.filled:
            raise OrderError(f"{client_order_id}: new size must exceed the filled size")
        now = self.clock() if ts is None else ts
        self._write({"e": "replace", "id": client_order_id, "price": price, "size": size,
                     "ts": now})
        self._do_replace(o, now)

    def _do_replace(self, o: Order, ts: int) -> None:
        o.prior_status = o.status
        o.sent_ns = ts
        o.status = _PENDING_REPLACE
        o.history.append((ts, _PENDING_REPLACE, "replace"))

    # -- venue events -------------------------------------------------------------------------
    def on_ack(self, client_order_id: str, venue_order_id: str = "", ts: int | None = None) -> None:
        """The venue accepted the order."""
        now = self.clock() if ts is None else ts
        if self._journal is not None:
            self._journal.append({"e": "ack", "id": client_order_id, "vid": venue_order_id,
                                  "ts": now})
        # the body is inline (no _do_ hop): replay calls on_ack itself, with no journal open
        cid, vid, ts = client_order_id, venue_order_id, now
        o = self._orders.get(cid)
        if o is None:
            self._anomaly(None, cid, "ack_unknown_order", ts)
            return
        if vid and not o.venue_order_id:
            o.venue_order_id = vid
        st = o.status
        if st != _NEW and st != _REJECTED:
            o.acked = True
        if st == _PENDING_NEW or (st == _UNKNOWN and o.prior_status == _PENDING_NEW):
            o.status = _ACCEPTED  # _set inlined: the hot path
            o.history.append((ts, _ACCEPTED, "ack"))
        elif st in (_PENDING_CANCEL, _PENDING_REPLACE) and o.prior_status == _PENDING_NEW:
            o.prior_status = _ACCEPTED  # cancel/replace was sent before the ack arrived
            o.history.append((ts, st, "ack"))
        elif st == _NEW:
            self._anomaly(o, cid, "illegal_ack_unsent", ts)
        elif st == _REJECTED:
            # the venue contradicts itself: the order may be live - make reconciliation decide
            self._anomaly(o, cid, "ack_after_reject", ts)
            o.prior_status = _REJECTED
            o.status = _UNKNOWN
            self._open[cid] = o
        else:
            self._anomaly(o, cid, "late_ack", ts)  # duplicate, or after a fill/cancel: benign

    def on_reject(self, client_order_id: str, reason: str = "", ts: int | None = None) -> None:
        """The venue refused the new order."""
        now = self.clock() if ts is None else ts
        self._write({"e": "reject", "id": client_order_id, "reason": reason, "ts": now})
        self._do_reject(client_order_id, reason, now)

    def _do_reject(self, cid: str, reason: str, ts: int) -> None:
        o = self._orders.get(cid)
        if o is None:
            self._anomaly(None, cid, "reject_unknown_order", ts)
            return
        if self.risk is not None and not self._replaying:
            self.risk.record_error()
        st = o.status
        never_live = o.filled == 0 and (
            st == _PENDING_NEW
            or (st in (_UNKNOWN, _PENDING_CANCEL) and o.prior_status == _PENDING_NEW)
        )
        if never_live:
            o.reason = reason
            self._set(o, _REJECTED, ts, "reject")
        elif st == _REJECTED:
            self._anomaly(o, cid, "duplicate_reject", ts)
        else:
            self._anomaly(o, cid, "illegal_reject", ts, reason)

    def on_fill(
        self,
        client_order_id: str,
        trade_id: str,
        qty: int,
        price: int,
        liquidity: Liquidity = Liquidity.TAKER,
        fee: int | None = None,
        ts: int | None = None,
    ) -> bool:
        """An execution; returns True when it was booked (False: duplicate or refused)."""
        now = self.clock() if ts is None else ts
        if self._journal is not None:
            self._journal.append({"e": "fill", "id": client_order_id, "tid": trade_id,
                                  "qty": qty, "px": price, "liq": int(liquidity), "fee": fee,
                                  "ts": now})
        # the body is inline (no _do_ hop): replay calls on_fill itself, with no journal open
        cid, tid, liq, ts = client_order_id, trade_id, liquidity, now
        o = self._orders.get(cid)
        if o is None:
            self._anomaly(None, cid, "fill_unknown_order", ts, f"trade {tid} {qty}@{price}")
            return False
        for f in o.fills:  # few fills per order: a scan beats a set per order
            if f.trade_id == tid:
                self.counts["duplicate_fill"] += 1
                return False
        st = o.status
        if st == _NEW or (st == _REJECTED and o.reason.startswith("risk:")):
            self._anomaly(o, cid, "illegal_fill_unsent", ts, tid)
            return False
        if qty <= 0 or o.filled + qty > o.size:
            self._anomaly(o, cid, "illegal_overfill" if qty > 0 else "illegal_fill_size", ts,
                          f"trade {tid}: {qty} with {o.filled}/{o.size} filled")
            return False
        side, inst, lq = o.side, o.instrument, _LIQ[liq]
        fill = _new_tuple(Fill, (cid, tid, side, qty, price, lq, fee, ts))  # = Fill(...), faster
        o.acked = True
        o.fills.append(fill)
        self.fills.append(fill)
        o.filled += qty
        self.portfolio.apply(inst, side, qty, price, fee, lq)
        if self.risk is not None:
            self.risk.on_order_fill(cid, inst, side, qty)
        if o.filled == o.size:
            if _TERM[st]:
                self._anomaly(o, cid, "late_fill", ts, f"completes an order in {st.name}")
            o.status = _FILLED  # _set inlined: the hot path
            o.history.append((ts, _FILLED, "fill"))
            self._open.pop(cid, None)
            if self.risk is not None:
                self.risk.on_order_closed(cid)
        elif st in (_PENDING_CANCEL, _PENDING_REPLACE):
            o.prior_status = _PARTIALLY_FILLED
            o.history.append((ts, st, "fill"))
        elif _TERM[st]:
            self._anomaly(o, cid, "late_fill", ts, f"booked on an order in {st.name}")
        else:  # PENDING_NEW (fill before ack), ACCEPTED, PARTIALLY_FILLED, UNKNOWN
            o.status = _PARTIALLY_FILLED  # _set inlined (not terminal)
            o.history.append((ts, _PARTIALLY_FILLED, "fill"))
        return True

    def on_canceled(self, client_order_id: str, ts: int | None = None) -> None:
        """The venue confirms the order is canceled (requested or not)."""
        now = self.clock() if ts is None else ts
        if self._journal is not None:
            self._journal.append({"e": "canceled", "id": client_order_id, "ts": now})
        self._do_closed(client_order_id, _CANCELED, now)

    def on_expired(self, client_order_id: str, ts: int | None = None) -> None:
        """The venue expired the order (IOC/FOK remainder, DAY end, GTX would take...)."""
        now = self.clock() if ts is None else ts
        self._write({"e": "expired", "id": client_order_id, "ts": now})
        self._do_closed(client_order_id, _EXPIRED, now)

    def _do_closed(self, cid: str, status: OrderStatus, ts: int) -> None:
        o = self._orders.get(cid)
        event = status.name.lower()
        if o is None:
            self._anomaly(None, cid, f"{event}_unknown_order", ts)
            return
        st = o.status
        if st == _NEW:
            self._anomaly(o, cid, f"illegal_{event}_unsent", ts)
        elif _TERM[st]:
            self._anomaly(o, cid, f"late_{event}", ts, f"order already {st.name}")
        else:
            self._set(o, status, ts, event)

    def on_cancel_reject(self, client_order_id: str, reason: str = "",
                         ts: int | None = None) -> None:
        """The venue refused the cancel (often: the order already filled)."""
        now = self.clock() if ts is None else ts
        self._write({"e": "cancel_reject", "id": client_order_id, "reason": reason, "ts": now})
        self._do_request_rejected(client_order_id, _PENDING_CANCEL, reason, now)

    def on_replace_reject(self, client_order_id: str, reason: str = "",
                          ts: int | None = None) -> None:
        """The venue refused the amend; the order keeps its old price and size."""
        now = self.clock() if ts is None else ts
        self._write({"e": "replace_reject", "id": client_order_id, "reason": reason, "ts": now})
        self._do_request_rejected(client_order_id, _PENDING_REPLACE, reason, now)

    def _do_request_rejected(self, cid: str, pending: OrderStatus, reason: str, ts: int) -> None:
        o = self._orders.get(cid)
        if o is None:
            self._anomaly(None, cid, "request_reject_unknown_order", ts)
            return
        if o.status == pending:
            back = o.prior_status  # ACCEPTED, PARTIALLY_FILLED, or PENDING_NEW (sent before ack)
            if back == _ACCEPTED and o.filled:
                back = _PARTIALLY_FILLED
            o.reason = reason
            self._set(o, back, ts, f"{pending.name.lower()} rejected")
        else:  # e.g. after a timeout (stays UNKNOWN until reconciled) or after a fill
            self._anomaly(o, cid, "late_request_reject", ts, reason)

    def on_replaced(self, client_order_id: str, price: int, size: int,
                    venue_order_id: str = "", ts: int | None = None) -> None:
        """The venue confirms the order now rests at ``price`` with total ``size``."""
        now = self.clock() if ts is None else ts
        self._write({"e": "replaced", "id": client_order_id, "price": price, "size": size,
                     "vid": venue_order_id, "ts": now})
        self._do_replaced(client_order_id, price, size, venue_order_id, now)

    def _do_replaced(self, cid: str, price: int, size: int, vid: str, ts: int) -> None:
        o = self._orders.get(cid)
        if o is None:
            self._anomaly(None, cid, "replaced_unknown_order", ts)
            return
        if not (o.status in _LIVE or o.status in (_PENDING_REPLACE, _UNKNOWN)):
            self._anomaly(o, cid, "illegal_replaced", ts, o.status.name)
            return
        if size < o.filled:
            self._anomaly(o, cid, "illegal_replaced_size", ts, f"{size} < filled {o.filled}")
            return
        o.price, o.size = price, size
        o.acked = True
        if vid:
            o.venue_order_id = vid
        if self.risk is not None:
            self.risk.on_order_replaced(cid, price, size - o.filled)
        if o.filled == size:
            self._set(o, _FILLED, ts, "replaced")
        else:
            self._set(o, _PARTIALLY_FILLED if o.filled else _ACCEPTED, ts, "replaced")

    # -- timeouts and reconciliation ----------------------------------------------------------
    def check_timeouts(self, now: int | None = None) -> list[Order]:
        """Orders waiting longer than ``timeout_ns`` for an answer become UNKNOWN."""
        now = self.clock() if now is None else now
        late = [o for o in self._open.values()
                if o.status in _PENDING and now - o.sent_ns >= self.timeout_ns]
        for o in late:
            self._write({"e": "timeout", "id": o.client_order_id, "ts": now})
            self._do_timeout(o, now)
        return late

    def _do_timeout(self, o: Order, ts: int) -> None:
        if o.status not in _PENDING:
            return
        o.prior_status = o.status
        self._set(o, _UNKNOWN, ts, "timeout")
        self.counts["timeout"] += 1
        if self.risk is not None and not self._replaying:
            self.risk.record_error()

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

        Parameters
        ----------
        open_orders
            The venue's open orders (all of them, ours or not).
        fills
            The venue's executions for the period (duplicates of known fills are ignored).
        closed
            Final statuses the venue reported for orders no longer open, by client id.
        sent_before_ns
            Only orders sent before this time are settled (the venue's snapshot time);
            orders sent later may not have reached the venue yet.

        Every non-terminal order of the venue ends either live (ACCEPTED/PARTIALLY_FILLED,
        when the venue lists it) or terminal: FILLED when completely filled, the venue's own
        status from ``closed``, otherwise CANCELED if the venue had seen it (ack or fills) or
        REJECTED ("not found at venue") if it never had.  Nothing is assumed filled.
        """
        now = self.clock() if ts is None else ts
        report = ReconcileReport()
        for f in fills:
            if self.on_fill(f.client_order_id, f.trade_id, f.qty, f.price, f.liquidity, f.fee,
                            f.ts or now):
                report.fills_applied += 1
        listed: dict[str, VenueOrder] = {}
        for vo in open_orders:
            if vo.client_order_id in self._orders:
                listed[vo.client_order_id] = vo
            else:
                report.foreign_orders.append(vo)
        closed = closed or {}
        for o in list(self._open.values()):
            if o.instrument.venue != venue:
                continue
            if sent_before_ns is not None and o.sent_ns > sent_before_ns:
                continue
            cid = o.client_order_id
            listed_vo = listed.get(cid)
            if listed_vo is not None:
                vo = listed_vo
                if vo.filled is not None and vo.filled > o.filled:
                    report.missing_fills[cid] = vo.filled - o.filled
                    self._anomaly(o, cid, "missing_fills", now,
                                  f"venue filled {vo.filled}, booked {o.filled}")
                status = _PARTIALLY_FILLED if o.filled else _ACCEPTED
                vid = vo.venue_order_id
            elif o.filled == o.size:
                status, vid = _FILLED, ""
            elif cid in closed and closed[cid] == _FILLED:
                # the venue says filled but we lack fills: report, keep it UNKNOWN, invent nothing
                report.missing_fills[cid] = o.size - o.filled
                self._anomaly(o, cid, "missing_fills", now,
                              f"venue says FILLED, booked {o.filled}/{o.size}")
                status, vid = _UNKNOWN, ""
            elif cid in closed and OrderStatus(closed[cid]).is_terminal:
                status, vid = OrderStatus(closed[cid]), ""
            elif o.acked:
                status, vid = _CANCELED, ""
            else:
                status, vid = _REJECTED, ""
            self._write({"e": "venue_status", "id": cid, "status": int(status), "vid": vid,
                         "ts": now})
            self._do_venue_status(o, status, vid, now)
            report.resolved[cid] = status
        return report

    def _do_venue_status(self, o: Order, status: OrderStatus, vid: str, ts: int) -> None:
        if vid and not o.venue_order_id:
            o.venue_order_id = vid
        if status == _REJECTED:
            o.reason = "not found at venue"
        if status == _UNKNOWN and o.status != _UNKNOWN:
            o.prior_status = o.status
        self._set(o, status, ts, "reconcile")

    # -- recovery -----------------------------------------------------------------------------
    @classmethod
    def recover(
        cls,
        journal: str | os.PathLike[str],
        portfolio: Portfolio | None = None,
        risk: RiskEngine | None = None,
        **kwargs: Any,
    ) -> OrderManager:
        """Rebuild the orders and the portfolio from a journal and keep appending to it.

        The session id is kept and new client ids continue after the highest one seen, so no
        id is ever reused.  A torn last record (the crash hit mid-write) is dropped and counted
        in ``counts["journal_torn_tail"]``.
        """
        path = Path(journal)
        records, torn = Journal.read(path) if path.exists() else ([], False)
        session = next((r["session"] for r in records if r.get("e") == "session"), None)
        prefix = next((r["prefix"] for r in records if r.get("e") == "session"), "hc")
        om = cls(session=session, portfolio=portfolio, risk=risk, prefix=prefix, **kwargs)
        om._replaying = True
        try:
            for rec in records:
                om._replay(rec)
        finally:
            om._replaying = False
        if torn:
            om.counts["journal_torn_tail"] += 1
            Journal.cut_torn_tail(path)
        om._journal = Journal(path, kwargs.get("fsync", False))
        om._write({"e": "session", "session": om.session, "prefix": prefix, "v": 1,
                   "recovered": len(records)})
        return om

    def _replay(self, r: Mapping[str, Any]) -> None:
        e = r["e"]
        if e == "session":
            return
        if e == "inst":
            inst = _inst_from_record(r)
            self._instruments.setdefault((inst.venue, inst.symbol), inst)
            return
        cid = r["id"]
        ts = r["ts"]
        if e == "new":
            inst = self._instruments[(r["venue"], r["symbol"])]
            self._do_new(cid, inst, Side(r["side"]), r["size"], r["price"], OrderType(r["type"]),
                         TimeInForce(r["tif"]), ts)
            n = cid.rsplit("-", 1)[-1]
            if n.isdigit():
                self._seq = max(self._seq, int(n))
            return
        o = self._orders.get(cid)
        if e == "fill":
            self.on_fill(cid, r["tid"], r["qty"], r["px"], r["liq"], r["fee"], ts)
        elif e == "ack":
            self.on_ack(cid, r["vid"], ts)
        elif e == "reject":
            self._do_reject(cid, r["reason"], ts)
        elif e == "canceled":
            self._do_closed(cid, _CANCELED, ts)
        elif e == "expired":
            self._do_closed(cid, _EXPIRED, ts)
        elif e == "cancel_reject":
            self._do_request_rejected(cid, _PENDING_CANCEL, r["reason"], ts)
        elif e == "replace_reject":
            self._do_request_rejected(cid, _PENDING_REPLACE, r["reason"], ts)
        elif e == "replaced":
            self._do_replaced(cid, r["price"], r["size"], r["vid"], ts)
        elif o is None:
            raise ValueError(f"journal: {e} for unknown order {cid}")
        elif e == "submit":
            self._do_submit(o, ts)
        elif e == "risk_reject":
            self._do_risk_reject(o, r["reason"], ts)
        elif e == "cancel":
            self._do_cancel(o, ts)
        elif e == "replace":
            self._do_replace(o, ts)
        elif e == "timeout":
            self._do_timeout(o, ts)
        elif e == "venue_status":
            self._do_venue_status(o, OrderStatus(r["status"]), r["vid"], ts)
        else:
            raise ValueError(f"journal: unknown record type {e!r}")
