"""The ``Strategy`` base class and the public ``Trade`` record handed to ``on_trade``.

Subclass :class:`Strategy` in Python or Cython and override the hooks you need; the engine calls
only the hooks a subclass overrides, so a strategy pays for the events it looks at.  Prices and
sizes are raw ``int`` counts at the instrument's decimals everywhere.
"""

cimport cython
from libc.stdint cimport int64_t

from hftcore._ext.orders cimport (
    Order, OrderRec, ST_PENDING_NEW, ST_ACCEPTED, ST_PARTIALLY_FILLED, ST_FILLED,
    ST_PENDING_CANCEL, ST_PENDING_REPLACE, ST_CANCELED, ST_REJECTED, ST_EXPIRED,
)

__all__ = ["Strategy", "Trade", "QuoteSlot", "HOOKS"]

# what one side of a quote needs (QuoteSlot._action)
cdef enum:
    QA_NONE = 0       # its order is the target (or there is none and no target)
    QA_SUBMIT = 1     # no working order: send one at the target
    QA_WAIT = 2       # an answer is due (or the order cannot be amended now): not settled
    QA_CANCEL = 3     # no target any more: cancel the order
    QA_AMEND = 4      # amend the live order to the target price, filled + size

#: the hook names, in the order the engine documents them
HOOKS = ("on_start", "on_bbo", "on_book", "on_trade", "on_order", "on_fill", "on_timer",
         "on_book_status", "on_event", "on_stop")


@cython.final
@cython.freelist(16)
cdef class Trade:
    """A public trade: ``price`` and ``size`` raw, ``side`` the aggressor (``Side`` or None),
    ``ts`` our receive time and ``exchange_ts`` the venue's time (ns), ``trade_id`` (-1 when the
    venue's id is not numeric)."""

    def __init__(self, instrument, int64_t price, int64_t size, side, int64_t ts,
                 int64_t exchange_ts=0, int64_t trade_id=-1):
        self.instrument = instrument
        self.price = price
        self.size = size
        self.side = side
        self.ts = ts
        self.exchange_ts = exchange_ts
        self.trade_id = trade_id

    def __repr__(self):
        inst = self.instrument
        side = "?" if self.side is None else self.side.name
        try:
            px = inst.format_price(self.price)
            sz = inst.format_qty(self.size)
            sym = inst.symbol
        except AttributeError:
            px, sz, sym = self.price, self.size, inst
        return f"Trade({sym} {side} {sz} @ {px} ts={self.ts})"


@cython.final
cdef class QuoteSlot:
    """What :meth:`Strategy.quote` keeps per instrument (the engine updates it): the target and
    the working orders; ``settled`` when they match, so an unchanged quote costs nothing."""

    def __init__(self):
        self.bid_order = None
        self.ask_order = None
        self.bid = None
        self.ask = None
        self.size = None
        self.settled = False
        self.active = False
        self.post_only = False

    def _action(self, int side):
        """The engine's question: what side ``side`` (0 bid, 1 ask) needs to match the target
        (``QA_*``: 0 nothing, 1 submit, 2 wait for an answer, 3 cancel, 4 amend).  A done
        order is dropped from the slot first."""
        cdef OrderRec* r
        cdef int st
        px = self.bid if side == 0 else self.ask
        rec = self.bid_order if side == 0 else self.ask_order
        if rec is not None:
            o = rec.order
            if type(o) is not Order:
                raise TypeError(f"a quote's order must be an Order, got {type(o).__name__}")
            r = (<Order>o)._r()
            st = r.status
            if st == ST_FILLED or st == ST_CANCELED or st == ST_REJECTED or st == ST_EXPIRED:
                rec = None
                if side == 0:
                    self.bid_order = None
                else:
                    self.ask_order = None
        if rec is None:
            return QA_NONE if px is None else QA_SUBMIT
        if st == ST_PENDING_NEW or st == ST_PENDING_CANCEL or st == ST_PENDING_REPLACE:
            return QA_WAIT
        if px is None:
            return QA_CANCEL
        if r.price == px:
            size = self.size
            if r.size == size:
                return QA_NONE
            if r.filled and r.size - r.filled <= size:
                return QA_NONE            # partly filled at the target: keep its place
        if st == ST_ACCEPTED or st == ST_PARTIALLY_FILLED:
            return QA_AMEND
        return QA_WAIT


cdef class Strategy:
    """Base class of trading strategies: override the hooks you need.

    Hooks (each optional): ``on_start()``, ``on_bbo(instrument, book)`` (top of book changed,
    after a whole venue message), ``on_book(instrument, book)`` (any change to the book, after a
    whole message), ``on_trade(instrument, trade)``, ``on_order(order)`` (any status change of
    one of this strategy's orders), ``on_fill(fill)``, ``on_timer(name, ts)``,
    ``on_book_status(instrument, valid)`` (the book went out of sync or came back),
    ``on_event(instrument, kind, side, price, size, ts)`` (every level and trade, as applied),
    ``on_stop()``.

    Actions: :meth:`buy`, :meth:`sell`, :meth:`submit`, :meth:`cancel`, :meth:`cancel_all`,
    :meth:`amend`, :meth:`quote`, :meth:`set_timer`.  Reads: :meth:`book`, :meth:`position`,
    :meth:`pnl`, :meth:`open_orders`, :attr:`now`.  Every action goes through the engine's risk
    checks and order manager; a rejection reaches :meth:`on_order` with its reason.

    A hook that raises stops this strategy: the engine reports the traceback, cancels its
    orders and goes on with the others.
    """

    def __init__(self, *args, **kwargs):
        self._engine = None
        self._sid = None
        if self.name is None:
            self.name = type(self).__name__

    # -- hooks -------------------------------------------------------------------------------
    cpdef on_start(self):
        """Called once before the first event."""

    cpdef on_bbo(self, instrument, book):
        """The best bid or ask (price or size) of ``instrument`` changed."""

    cpdef on_book(self, instrument, book):
        """Any level of ``instrument``'s book changed."""

    cpdef on_trade(self, instrument, trade):
        """A public trade on ``instrument`` (:class:`Trade`)."""

    cpdef on_order(self, order):
        """One of this strategy's orders changed status (``order.status``, ``order.reason``)."""

    cpdef on_fill(self, fill):
        """One of this strategy's orders traded (``hftcore.Fill``)."""

    cpdef on_timer(self, name, ts):
        """A timer set with :meth:`set_timer` fired at ``ts`` (ns)."""

    cpdef on_book_status(self, instrument, valid):
        """``instrument``'s book became invalid (a gap, a bad checksum: resyncing) or valid."""

    cpdef on_event(self, instrument, int kind, int side, int64_t price, int64_t size,
                   int64_t ts):
        """Every market-data event of ``instrument`` as it is applied: ``kind`` 1 a book level
        (``side`` 0 bid / 1 ask, ``size`` 0 deletes), 2 a trade (``side`` the aggressor, 2 when
        not told).  Called before the venue message is complete (the book may be between two of
        the venue's states); for Cython subclasses this is a C call."""

    cpdef on_stop(self):
        """Called once after the last event (not for a strategy a raising hook stopped: its
        orders are canceled for it).  Cancels sent here are answered before the run ends."""

    # -- actions -----------------------------------------------------------------------------
    def _eng(self):
        e = self._engine
        if e is None:
            raise RuntimeError(f"{self.name}: not running in an engine (add it to one first)")
        return e

    def buy(self, instrument, size, price=None, *, tif=0, post_only=False):
        """Buy ``size`` (raw int) at limit ``price`` (raw int), or at market when None.

        ``tif``: ``TimeInForce`` (``GTC`` = 0 by default; IOC, FOK, GTX); ``post_only`` rejects
        an order that would take liquidity.  Returns the ``Order``.
        """
        return self._eng().submit(self, instrument, 0, size, price, tif=tif, post_only=post_only)

    def sell(self, instrument, size, price=None, *, tif=0, post_only=False):
        """Sell ``size`` at limit ``price``, or at market when None (see :meth:`buy`)."""
        return self._eng().submit(self, instrument, 1, size, price, tif=tif, post_only=post_only)

    def submit(self, instrument, side, size, price=None, *, order_type=None, tif=0,
               post_only=False, protection=None):
        """Submit any order: ``side`` (``Side``), ``size``, limit ``price``; ``order_type``
        (``OrderType``: LIMIT when a price is given, MARKET otherwise; LIMIT_MAKER is post-only),
        ``tif`` (GTC, IOC, FOK, GTX), ``protection``: the worst price a MARKET order may trade
        at.  Returns the ``Order`` (REJECTED with a reason when refused)."""
        return self._eng().submit(self, instrument, side, size, price, order_type=order_type,
                                  tif=tif, post_only=post_only, protection=protection)

    def cancel(self, order):
        """Ask the venue to cancel ``order``; its fate reaches :meth:`on_order`."""
        return self._eng().cancel(self, order)

    def cancel_all(self, instrument=None):
        """Cancel this strategy's open orders (of ``instrument`` only, when given)."""
        return self._eng().cancel_all(self, instrument)

    def amend(self, order, price=None, size=None):
        """Change ``order``'s price and/or total size (cancel-replace at the venue)."""
        return self._eng().amend(self, order, price, size)

    def quote(self, instrument, bid, ask, size, *, post_only=False):
        """Keep one bid at ``bid`` and one ask at ``ask`` of ``size`` working, with the fewest
        messages (amend in place, nothing when unchanged; None removes that side);
        ``post_only`` quotes are rejected rather than take liquidity."""
        cdef QuoteSlot slot
        if self._quotes is not None:
            slot = self._quotes.get(id(instrument))
            if (slot is not None and slot.settled and type(size) is int and size == slot.size
                    and slot.post_only == bool(post_only)
                    and (bid is None if slot.bid is None else (type(bid) is int and bid == slot.bid))
                    and (ask is None if slot.ask is None else (type(ask) is int and ask == slot.ask))):
                return None
        return self._eng().quote(self, instrument, bid, ask, size, post_only)

    def set_timer(self, name, interval_ns, *, start_ns=None):
        """Call :meth:`on_timer` every ``interval_ns`` (first at ``start_ns`` or now +
        interval); ``interval_ns=0`` removes the timer."""
        return self._eng().set_timer(self, name, interval_ns, start_ns)

    # -- reads ---------------------------------------------------------------------------------
    def book(self, instrument):
        """The engine's ``L2Book`` of ``instrument`` (live: read it, don't keep a copy)."""
        return self._eng().book(instrument)

    def position(self, instrument):
        """Net position of ``instrument`` (raw size, signed)."""
        return self._eng().position(self, instrument)

    def pnl(self, instrument=None):
        """Total PnL after fees: of ``instrument`` at its value decimals
        (``price_decimals + size_decimals``), or of every instrument at 8 decimals."""
        return self._eng().pnl(self, instrument)

    def open_orders(self, instrument=None):
        """This strategy's open orders (of ``instrument`` only, when given)."""
        return self._eng().open_orders(self, instrument)

    @property
    def now(self):
        """The engine's clock: nanoseconds (recording time in backtests)."""
        return self._eng().now

    @property
    def engine(self):
        """The engine running this strategy (None before it is added)."""
        return self._engine

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"
