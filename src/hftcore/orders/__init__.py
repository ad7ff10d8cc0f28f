"""Order manager: client order ids, the order state machine, timeouts, reconciliation, journal.

* :mod:`hftcore.orders.manager` - :class:`OrderManager` (the state machine is compiled in
  ``hftcore._ext.orders``; live calls and journal replay run the same transition functions);
* :mod:`hftcore.orders.journal` - the binary order journal (:class:`Journal`);
* :mod:`hftcore.orders.reconcile` - settling orders against the venue's view;
* :mod:`hftcore.orders.recovery` - rebuilding a manager from its journal.
"""

from __future__ import annotations

from hftcore.orders.journal import Journal, JournalRecord, JournalScan
from hftcore.orders.manager import OrderManager
from hftcore.orders.types import Anomaly, OrderError, ReconcileReport, VenueOrder

__all__ = [
    "Anomaly",
    "Journal",
    "JournalRecord",
    "JournalScan",
    "OrderError",
    "OrderManager",
    "ReconcileReport",
    "VenueOrder",
]
