"""Strategies the sweep tests send to worker processes (importable by name)."""

from __future__ import annotations

from typing import Any

from hftcore.strategy import Strategy


class Joiner(Strategy):
    """Quotes ``offset`` ticks away from the touch, ``divisor``-th of the top size."""

    def __init__(self, offset: int = 0, divisor: int = 4) -> None:
        super().__init__()
        self.offset = offset
        self.divisor = divisor

    def on_bbo(self, instrument: Any, book: Any) -> None:
        bb, ba = book.best_bid, book.best_ask
        if bb is None or ba is None or ba <= bb:
            return
        size = max(1, min(book.best_bid_size, book.best_ask_size) // self.divisor)
        t = instrument.tick * self.offset
        if bb - t > 0:
            self.quote(instrument, bb - t, ba + t, size)
