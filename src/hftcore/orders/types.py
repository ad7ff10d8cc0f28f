"""Value types of the order manager: anomalies, venue order listings, reconciliation reports."""

from __future__ import annotations

from dataclasses import dataclass, field

from hftcore._ext.orders import OrderError
from hftcore.model import OrderStatus

__all__ = ["Anomaly", "OrderError", "ReconcileReport", "VenueOrder"]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A venue event that was refused or was unexpected; ``kind`` names it.

    ``status`` is the order's status when it happened (None for an order we do not know).
    """

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
