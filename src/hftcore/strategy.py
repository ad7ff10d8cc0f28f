"""The ``Strategy`` base class (compiled: hooks are ``cpdef``, so a subclass may be Python or
Cython) and the ``Trade`` record given to ``on_trade``.  See docs/strategy.md."""

from __future__ import annotations

from hftcore._ext.strategy import HOOKS, Strategy, Trade

__all__ = ["HOOKS", "Strategy", "Trade"]
