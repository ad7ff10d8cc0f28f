"""A strategy that only watches market trades, for the dashboard's trade tape in live modes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hftcore._ext.strategy import Strategy

from .snapshot import TradeTape

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["TradeWatcher"]


class TradeWatcher(Strategy):
    """Copies each market trade of ``engine`` into ``tape`` (it sends no order).

    Costs one Python call per market trade (``on_trade`` is its only hook), which is why
    the dashboard adds it only when asked (``watch_trades=True``); a replay driver feeds the
    tape from its event arrays instead, for nothing per event.
    """

    def __init__(self, tape: TradeTape, engine: Engine) -> None:
        super().__init__()
        self.name = "dashboard-trades"
        self.tape = tape
        self._index = engine.index

    def on_trade(self, instrument: Any, trade: Any) -> None:
        side = trade.side
        self.tape.add(self._index(instrument), int(trade.ts), 2 if side is None else int(side),
                      int(trade.price), int(trade.size))
