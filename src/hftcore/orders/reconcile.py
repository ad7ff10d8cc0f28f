"""Reconciliation: settle our open orders against what the venue reports, never assuming."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from hftcore.model import Fill, OrderStatus
from hftcore.orders.types import ReconcileReport, VenueOrder

if TYPE_CHECKING:
    from hftcore.orders.manager import OrderManager

__all__ = ["reconcile"]

S = OrderStatus


def reconcile(
    om: OrderManager,
    venue: str,
    open_orders: Iterable[VenueOrder],
    fills: Iterable[Fill] = (),
    closed: Mapping[str, OrderStatus] | None = None,
    sent_before_ns: int | None = None,
    ts: int | None = None,
) -> ReconcileReport:
    """Settle the orders of ``om`` on ``venue`` against what the venue reports.

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
    REJECTED ("not found at venue") if it never had.  Nothing is assumed filled: a venue that
    reports more filled than we booked gets the gap reported in ``missing_fills``.  Each
    decision is journaled and applied through the same transition as a live event.
    """
    if not isinstance(venue, str):
        raise TypeError(f"venue must be a str, got {type(venue).__name__}")
    now = om.clock() if ts is None else ts
    if not isinstance(now, int) or isinstance(now, bool):
        raise TypeError(f"ts must be an int, got {type(now).__name__}")
    closed = dict(closed or {})
    final = {cid: S(st) for cid, st in closed.items()}   # ValueError for a bad status code
    listed: dict[str, VenueOrder] = {}
    report = ReconcileReport()
    for vo in open_orders:
        if not isinstance(vo, VenueOrder):
            raise TypeError(f"open_orders must hold VenueOrder, got {type(vo).__name__}")
        if vo.client_order_id in om:
            listed[vo.client_order_id] = vo
        else:
            report.foreign_orders.append(vo)
    for f in fills:
        if om.on_fill(f.client_order_id, f.trade_id, f.qty, f.price, f.liquidity, f.fee,
                      f.ts or now):
            report.fills_applied += 1
    for o in om.open_orders(venue):
        if sent_before_ns is not None and o.sent_ns > sent_before_ns:
            continue
        cid = o.client_order_id
        seen = listed.get(cid)
        if seen is not None:
            if seen.filled is not None and seen.filled > o.filled:
                report.missing_fills[cid] = seen.filled - o.filled
                om._report("missing_fills", cid, o.status, now,
                           f"venue filled {seen.filled}, booked {o.filled}")
            status, vid = (S.PARTIALLY_FILLED if o.filled else S.ACCEPTED), seen.venue_order_id
        elif o.filled == o.size:
            status, vid = S.FILLED, ""
        elif final.get(cid) is S.FILLED:
            # the venue says filled but we lack fills: report, keep it UNKNOWN, invent nothing
            report.missing_fills[cid] = o.size - o.filled
            om._report("missing_fills", cid, o.status, now,
                       f"venue says FILLED, booked {o.filled}/{o.size}")
            status, vid = S.UNKNOWN, ""
        elif cid in final and final[cid].is_terminal:
            status, vid = final[cid], ""
        elif o.acked:
            status, vid = S.CANCELED, ""
        else:
            status, vid = S.REJECTED, ""
        om._apply_venue_status(o, status, vid or "", now)
        report.resolved[cid] = status
    return report
