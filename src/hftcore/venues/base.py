"""The venue interface: what the engine needs from a simulated, replayed or live venue.

A venue turns the engine's order requests into its protocol and reports back through
:meth:`hftcore.engine.Engine.on_order_update` (by client order id), and feeds market data
through :meth:`hftcore.engine.Engine.on_frame` (frame bytes into a
:class:`hftcore._ext.feed.Feed` that decodes them and syncs the books the venue's documented
way).  Backtest and paper modes route orders to the simulated exchange instead
(:mod:`hftcore.venues.sim`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hftcore.engine import Engine
    from hftcore.model import Order

__all__ = ["Venue"]


class Venue(ABC):
    """Base of venue connections.

    Subclasses set :attr:`name` (the ``Instrument.venue`` they serve) and implement the order
    methods; :meth:`attach` is called by the engine once.
    """

    name: str = ""

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Called when the engine adopts this venue."""
        self.engine = engine

    async def connect(self) -> None:  # noqa: B027 - optional: a venue may need no connection
        """Open the connections (market data, order entry); return when ready to trade."""

    async def close(self) -> None:  # noqa: B027
        """Close every connection."""

    @abstractmethod
    def submit(self, order: Order, flags: int) -> None:
        """Send a new order (``flags``: the ``SO_*`` bits of ``hftcore._ext.sim``: IOC, FOK,
        post-only, market); never blocks."""

    @abstractmethod
    def cancel(self, order: Order) -> None:
        """Send a cancel request."""

    @abstractmethod
    def amend(self, order: Order, price: int, size: int) -> None:
        """Send a cancel-replace: the new price and total size."""

    def status(self) -> dict[str, Any]:
        """Connection state and counters, for metrics and the dashboard."""
        return {"venue": self.name, "connected": False}
