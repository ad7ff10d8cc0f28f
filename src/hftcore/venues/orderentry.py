"""What the venue modules of HTX, KuCoin, Bitfinex, Deribit and Kraken Futures share: order entry
with every request accounted for, on top of :class:`~hftcore.venues.common.LiveVenue`.

:class:`OrderEntryVenue` checks the engine's requests (types, rate limits, the trading
connection's state) before a venue module turns them into its protocol, and turns the venue's
answers and private updates into :meth:`hftcore.engine.Engine.on_order_update` calls exactly
once each: an order gets an ack, a reject (with the venue's reason) or an error back; a cancel a
cancel or a cancel reject; an amend a replace or a replace reject; fills are booked once per
trade id.

Market data goes through the venue's :class:`~hftcore._ext.feed.Feed` as for the first five
venues.  A build without the venue's decoder can still trade: ``market_data=False`` opens the
order-entry connections only (and :meth:`connect` says why when market data is asked for).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from hftcore._ext.feed import Feed
from hftcore.decoders import decoder_for
from hftcore.model import Order, OrderStatus
from hftcore.venues.base import Venue
from hftcore.venues.common import LiveVenue, VenueError
from hftcore.venues.keys import Credentials, redact
from hftcore.venues.ratelimit import RateLimitExceeded
from hftcore.venues.rest import RestError
from hftcore.venues.ws import Connection

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["OrderEntryVenue", "check_int", "check_order", "check_str", "exact_json"]

log = logging.getLogger("hftcore.venues")


def exact_json(data: bytes | str) -> Any:
    """JSON with its numbers kept exact (``Decimal``): for venues that send prices as JSON
    numbers, which must never pass through ``float``."""
    return json.loads(data, parse_float=Decimal)


def check_order(where: str, order: object) -> Order:
    """``order`` as an :class:`~hftcore.model.Order`, or ``TypeError`` naming the parameter."""
    if not isinstance(order, Order):
        raise TypeError(f"{where}: order must be an hftcore Order, got {type(order).__name__}")
    return order


def check_int(where: str, name: str, v: object, minimum: int | None = None) -> int:
    """``v`` as an int (not bool), at least ``minimum``; else an error naming ``name``."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{where}: {name} must be an int, got {type(v).__name__}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {v}")
    return v


def check_str(where: str, name: str, v: object) -> str:
    """``v`` as a str; else ``TypeError`` naming ``name``."""
    if not isinstance(v, str):
        raise TypeError(f"{where}: {name} must be str, got {type(v).__name__}")
    return v


class OrderEntryVenue(LiveVenue):
    """A live venue with order entry (see the module docstring).

    Parameters
    ----------
    credentials : Credentials, optional
        The venue's keys; order entry is off without them.
    market_data : bool
        Open the market-data connection (needs the venue's decoder in this build).
    private_url : str, optional
        The private (order updates / trading) websocket endpoint.
    request_timeout : float
        Seconds to wait for a login or subscription answer.
    connect_timeout : float
        Seconds :meth:`connect` waits for the connections to be ready.
    **kwargs
        :class:`~hftcore.venues.common.LiveVenue`'s (``ws_url``, ``rest_url``, ``backoff`` ...).
    """

    needs_passphrase: ClassVar[bool] = False
    default_private_url: ClassVar[str] = ""
    order_cost: ClassVar[dict[str, int]] = {"ORDERS": 1}

    def __init__(self, *, credentials: Credentials | None = None, market_data: bool = True,
                 private_url: str | None = None, request_timeout: float = 10.0,
                 connect_timeout: float = 10.0, **kwargs: Any) -> None:
        if not isinstance(market_data, bool):
            raise TypeError(f"{self.name}: market_data must be a bool")
        if private_url is not None:
            check_str(self.name, "private_url", private_url)
        for k, t in (("request_timeout", request_timeout), ("connect_timeout", connect_timeout)):
            if isinstance(t, bool) or not isinstance(t, int | float) or not t > 0:
                raise TypeError(f"{self.name}: {k} must be a number of seconds > 0")
        for k in ("ws_url", "rest_url"):
            if kwargs.get(k) is not None:
                check_str(self.name, k, kwargs[k])
        if credentials is not None:
            if not isinstance(credentials, Credentials):
                raise TypeError(f"{self.name}: credentials must be "
                                "hftcore.venues.keys.Credentials")
            if credentials.api_secret is None:
                raise ValueError(f"{self.name}: order entry needs an api_secret")
            if self.needs_passphrase and credentials.passphrase is None:
                raise ValueError(f"{self.name}: order entry needs a passphrase")
        super().__init__(credentials=credentials, **kwargs)
        self.market_data = market_data
        self.private_url = (private_url or self.default_private_url).rstrip("/")
        self.request_timeout = float(request_timeout)
        self.connect_timeout = float(connect_timeout)
        self.no_decoder = ""
        self.private: Connection | None = None
        self.trading = False
        self.block_reason = "not connected"
        self.last_api_error = ""
        self.rate_refused = 0
        self.private_messages = 0
        self.unsettled = 0
        self.reconciliations = 0
        self._order_cost = self.limiter.prepare(self.order_cost)
        self._cancel_queue: dict[str, Order] = {}
        self._fills_seen: set[tuple[str, str]] = set()
        self._waiters: dict[str, asyncio.Future[Any]] = {}
        self.by_venue_id: dict[str, str] = {}        # venue order id -> client order id

    # -- set-up ----------------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        """Adopt the engine's instruments of this venue; build the decoder and the feed when
        this build has them (order entry works without)."""
        Venue.attach(self, engine)
        pairs = [(i, inst) for i, inst in enumerate(engine.instruments) if inst.venue == self.name]
        if not pairs:
            raise ValueError(f"{self.name}: the engine has no {self.name} instrument")
        for i, inst in pairs:
            self.by_symbol[inst.symbol] = (i, inst)
        self.indices = [i for i, _ in pairs]
        try:
            dec = decoder_for(self.name)
            for i, inst in pairs:
                dec.add_symbol(inst.symbol, i, inst.price_decimals, inst.size_decimals)
            self.feed = Feed(dec, self.sync_rule, len(engine.instruments))
        except (ValueError, KeyError) as exc:
            self.feed = None
            self.no_decoder = str(exc)

    async def prepare_md(self) -> None:
        """Before the market-data connection opens (KuCoin: the token)."""

    async def connect(self, timeout: float | None = None) -> None:
        """Market data (unless ``market_data=False``), then with credentials the private
        connection: logged in, order updates subscribed (``timeout``: default
        ``connect_timeout``)."""
        if timeout is None:
            timeout = self.connect_timeout
        if self.engine is None:
            raise RuntimeError(f"{self.name}: add the venue to an engine first")
        self._closed = False
        if self.market_data:
            if self.feed is None:
                raise VenueError(f"{self.name}: this build has no {self.name} decoder "
                                 f"({self.no_decoder}); use market_data=False for order entry "
                                 "only")
            await self.prepare_md()
            await super().connect(timeout)
        if not self.order_entry:
            return
        await self.prepare_private()
        if self.private is None:
            self.private = self.make_private()
        self.private.start()
        if not await self.private.wait_ready(timeout):
            raise VenueError(f"{self.name}: order entry not ready ({self.block_reason})")

    async def prepare_private(self) -> None:
        """Before the private connection opens (KuCoin: the token and URL)."""

    def make_private(self) -> Connection:
        """The private connection (subclasses: the URL's keep-alive)."""
        return Connection(self.private_url, self._on_private_raw, name=f"{self.name} private",
                          on_open=self._private_open, on_close=self._private_close,
                          backoff=self._backoff(), ssl_context=self.ssl_context,
                          ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
                          **self.private_ping())

    def private_ping(self) -> dict[str, Any]:
        """Keep-alive options of the private connection (venue text pings)."""
        return {}

    async def close(self) -> None:
        """Close every connection."""
        self.trading = False
        self.block_reason = "closed"
        self._closed = True
        if self.private is not None:
            await self.private.stop()
        await super().close()

    def creds(self) -> tuple[str, str, str]:
        """(key, secret, passphrase) revealed for signing."""
        c = self.credentials
        assert c is not None and c.api_secret is not None
        return (c.api_key.reveal(), c.api_secret.reveal(),
                c.passphrase.reveal() if c.passphrase is not None else "")

    # -- the private connection -----------------------------------------------------------------
    async def login(self, conn: Connection) -> None:
        """Authenticate and subscribe the order updates (subclasses); raise on refusal."""

    async def expect(self, key: str, conn: Connection, msg: bytes) -> Any:
        """Send ``msg`` and wait for the answer :meth:`answer` files under ``key``."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        if not conn.send(msg):
            self._waiters.pop(key, None)
            raise VenueError(f"{self.name}: not sent (connection down)")
        try:
            return await asyncio.wait_for(fut, self.request_timeout)
        finally:
            self._waiters.pop(key, None)

    def answer(self, key: str, value: Any) -> bool:
        """Hand ``value`` to the :meth:`expect` waiting under ``key``."""
        fut = self._waiters.get(key)
        if fut is None or fut.done():
            return False
        fut.set_result(value)
        return True

    async def _private_open(self, conn: Connection) -> None:
        self.trading = False
        self.block_reason = "logging in" + (
            f" (last error: {self.last_api_error})" if self.last_api_error else "")
        try:
            await self.login(conn)
            if self.open_orders():
                self.block_reason = "reconciling open orders"
                await self.reconcile()
        except (VenueError, TimeoutError, RestError, RateLimitExceeded, KeyError,
                ValueError) as exc:
            self._entry_failed(exc)
            raise
        self._entry_ready()

    def _private_close(self, conn: Connection) -> None:
        self._entry_lost(self._waiters)
        self.on_private_closed()

    def on_private_closed(self) -> None:
        """The private connection dropped (subclasses: requests waiting on it)."""

    def _on_private_raw(self, data: bytes, ts: int) -> None:
        self.private_messages += 1
        try:
            self.on_private(data, ts)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            log.error("%s: bad private message: %s", self.name,
                      redact(f"{type(exc).__name__}: {exc}"))

    def on_private(self, data: bytes, ts: int) -> None:
        """One private message (subclasses)."""

    # -- requests --------------------------------------------------------------------------------
    def send_new(self, order: Order, flags: int) -> None:
        """Send a new order (subclasses); raise ``VenueError``/``ValueError`` to reject it."""
        raise VenueError(f"{self.name}: no order entry")

    def send_cancel(self, order: Order) -> None:
        """Send a cancel (subclasses); raise to answer a cancel reject."""
        raise VenueError(f"{self.name}: no order entry")

    def send_amend(self, order: Order, price: int, size: int) -> None:
        """Send an amend (subclasses); raise to answer a replace reject."""
        raise VenueError(f"{self.name}: orders cannot be amended here")

    def submit(self, order: Order, flags: int) -> None:
        """Send ``order``; never blocks (a refusal comes back as a reject)."""
        check_order(f"{self.name}.submit", order)
        check_int(f"{self.name}.submit", "flags", flags, 0)
        if not self.order_entry:
            return super().submit(order, flags)
        cid = order.client_order_id
        if self._refuse_new(cid, self._order_cost):
            return
        try:
            self.send_new(order, flags)
        except (VenueError, ValueError) as exc:
            self.report_later(cid, "reject", reason=redact(f"{self.name}: not sent: {exc}"))

    def cancel(self, order: Order) -> None:
        """Send a cancel (queued while order entry reconnects)."""
        check_order(f"{self.name}.cancel", order)
        if not self.order_entry:
            return super().cancel(order)
        cid = order.client_order_id
        if not self.trading:
            self._cancel_queue[cid] = order
            return
        try:
            self.send_cancel(order)
        except (VenueError, ValueError) as exc:
            self.report_later(cid, "cancel_reject", reason=redact(f"{self.name}: {exc}"))

    def amend(self, order: Order, price: int, size: int) -> None:
        """Send a cancel-replace (new price and total size)."""
        where = f"{self.name}.amend"
        check_order(where, order)
        check_int(where, "price", price)
        check_int(where, "size", size, 1)
        if not self.order_entry:
            return super().amend(order, price, size)
        cid = order.client_order_id
        why = None if self.trading else f"order entry not ready: {self.block_reason}"
        if why is None:
            why = self.limiter.try_take(self._order_cost)
        if why is not None:
            self.report_later(cid, "replace_reject", reason=f"{self.name}: not sent: {why}")
            return
        try:
            self.send_amend(order, price, size)
        except (VenueError, ValueError) as exc:
            self.report_later(cid, "replace_reject", reason=redact(f"{self.name}: {exc}"))

    # -- answers and updates ---------------------------------------------------------------------
    def order(self, cid: str) -> Order | None:
        """The engine's order of client id ``cid``."""
        assert self.engine is not None
        return self.engine.om.get(cid)

    def on_new_ok(self, cid: str, venue_order_id: str = "", ts: int | None = None) -> None:
        """The venue took the order."""
        if venue_order_id:
            self.by_venue_id[venue_order_id] = cid
        o = self.order(cid)
        if o is not None and o.is_open and not o.acked:
            self.report(cid, "ack", ts=ts, venue_order_id=venue_order_id)

    # -- orders whose answer was lost ------------------------------------------------------------
    def uncertain(self, exc: BaseException) -> bool:
        """``exc`` leaves a request's fate unknown (no answer, a gateway error, a timeout),
        unlike a refusal."""
        if isinstance(exc, RestError):
            return exc.status == 0 or exc.status >= 502
        return isinstance(exc, TimeoutError)

    async def query_order(self, order: Order) -> tuple[str, str] | None:
        """The venue's view of ``order``: ``(state, venue order id)`` with state ``open``,
        ``filled`` or ``canceled``; None when the venue has no such order (subclasses)."""
        raise VenueError("no order query")

    async def query_fills(self, order: Order, venue_order_id: str
                          ) -> list[tuple[str, int, int, bool]]:
        """The trades of ``order`` at the venue: ``(trade id, qty, price, maker)``
        (subclasses; the same trade ids as the private stream's)."""
        return []

    async def _fetch_fills(self, order: Order, venue_order_id: str) -> None:
        cid = order.client_order_id
        try:
            fills = await self.query_fills(order, venue_order_id)
        except (VenueError, RestError, RateLimitExceeded, TimeoutError, KeyError,
                ValueError) as exc:
            log.warning("%s: fills of %s: %s", self.name, cid, self.error_text(exc))
            return
        for trade_id, qty, price, maker in fills:
            self.on_fill(cid, trade_id, qty, price, maker, venue_order_id)

    def new_failed(self, cid: str, exc: BaseException) -> None:
        """A new order's request failed: refused, or (answer lost) settled by a query."""
        if self.uncertain(exc):
            self.unsettled += 1
            self.spawn(self.settle_new(cid, self.error_text(exc)), f"{self.name} settle")
        else:
            self.on_new_refused(cid, self.error_text(exc))

    async def settle_new(self, cid: str, why: str, attempts: int = 4) -> None:
        """Ask the venue about an order whose answer was lost; report what it says (an ack,
        then a cancel if it is gone; a reject if it never took it)."""
        o = self.order(cid)
        if o is None:
            return
        delay = 0.1
        for _ in range(attempts):
            try:
                got = await self.query_order(o)
            except (VenueError, RestError, RateLimitExceeded, TimeoutError) as exc:
                log.warning("%s: query of %s failed: %s", self.name, cid, self.error_text(exc))
                await asyncio.sleep(delay)
                delay *= 2
                continue
            if got is None:
                self.on_new_refused(cid, f"{why}; the venue has no such order")
                return
            state, oid = got
            self.on_new_ok(cid, oid)
            await self._fetch_fills(o, oid)
            if state == "canceled":
                self.on_canceled(cid)
            return
        self.on_new_refused(cid, f"{why}; state unknown after {attempts} queries: check the "
                                 "venue")

    async def reconcile(self, orders: Sequence[Order] | None = None) -> dict[str, str]:
        """Settle ``orders`` (default: every open order of this venue) by asking the venue
        about each (:meth:`query_order`): acks, cancels and rejects it missed are reported; an
        UNKNOWN order still open is taken back at its last known terms; its trades are asked for
        (:meth:`query_fills`) and booked once per trade id."""
        targets = [o for o in (self.open_orders() if orders is None else orders) if o.is_open]
        out: dict[str, str] = {}
        if targets:
            self.reconciliations += 1
        for o in targets:
            cid = o.client_order_id
            try:
                got = await self.query_order(o)
            except (VenueError, RestError, RateLimitExceeded, TimeoutError) as exc:
                log.warning("%s: reconcile %s: %s", self.name, cid, self.error_text(exc))
                out[cid] = "unknown"
                continue
            if got is None:
                if o.acked:
                    self.on_canceled(cid)
                    out[cid] = "canceled"
                else:
                    self.on_new_refused(cid, "not found at the venue")
                    out[cid] = "reject"
                continue
            state, oid = got
            self.on_new_ok(cid, oid)
            await self._fetch_fills(o, oid)
            if state == "canceled":
                self.on_canceled(cid)
            elif state == "open":
                if o.status == OrderStatus.UNKNOWN:
                    self.report(cid, "replaced", price=o.price, qty=o.size)
                elif o.status == OrderStatus.PENDING_CANCEL:
                    self._cancel_queue[cid] = o
            out[cid] = state
        return out

    def on_new_refused(self, cid: str, reason: str, ts: int | None = None) -> None:
        """The venue refused the order."""
        o = self.order(cid)
        if o is not None and o.is_open and not o.acked:
            self.report(cid, "reject", ts=ts, reason=redact(f"{self.name}: {reason}"))

    def on_canceled(self, cid: str, ts: int | None = None) -> None:
        """The order is canceled (asked for, or by the venue)."""
        o = self.order(cid)
        if o is not None and o.is_open:
            self.report(cid, "canceled", ts=ts)

    def on_cancel_refused(self, cid: str, reason: str, ts: int | None = None) -> None:
        """The venue refused a cancel."""
        o = self.order(cid)
        if o is not None and o.status == OrderStatus.PENDING_CANCEL:
            self.report(cid, "cancel_reject", ts=ts, reason=redact(f"{self.name}: {reason}"))

    def on_replaced(self, cid: str, price: int, size: int, ts: int | None = None) -> None:
        """The venue applied an amend (new price, total size)."""
        o = self.order(cid)
        if o is not None and o.status == OrderStatus.PENDING_REPLACE:
            self.report(cid, "replaced", ts=ts, price=price, qty=size)

    def on_replace_refused(self, cid: str, reason: str, ts: int | None = None) -> None:
        """The venue refused an amend."""
        o = self.order(cid)
        if o is not None and o.status == OrderStatus.PENDING_REPLACE:
            self.report(cid, "replace_reject", ts=ts, reason=redact(f"{self.name}: {reason}"))

    def on_fill(self, cid: str, trade_id: str, qty: int, price: int, maker: bool,
                venue_order_id: str = "", ts: int | None = None) -> None:
        """A trade of the order, booked once per trade id."""
        key = (cid, trade_id)
        if qty <= 0 or key in self._fills_seen:
            return
        self._fills_seen.add(key)
        o = self.order(cid)
        if o is not None and o.is_open and not o.acked:
            self.report(cid, "ack", ts=ts, venue_order_id=venue_order_id)
        self.report(cid, "fill", ts=ts, qty=qty, price=price, liquidity=0 if maker else 1,
                    trade_id=trade_id, venue_order_id=venue_order_id)

    def error_text(self, exc: BaseException) -> str:
        """A request's failure as text (no secret)."""
        return redact(str(exc) or type(exc).__name__)

    def now_ms(self) -> int:
        """Unix milliseconds."""
        return time.time_ns() // 1_000_000

    def status(self) -> dict[str, Any]:
        """Connections, books, order entry state and counters."""
        out = super().status()
        out.update(trading=self.trading, block_reason=self.block_reason,
                   rate_refused=self.rate_refused, md_enabled=self.market_data,
                   unsettled=self.unsettled, reconciliations=self.reconciliations,
                   private_messages=self.private_messages)
        if self.private is not None:
            out["private"] = self.private.status()
        if self.no_decoder:
            out["no_decoder"] = self.no_decoder
        return out
