from typing import final

import numpy as np
import numpy.typing as npt

__all__ = ["NO_LIMIT", "REASON_COUNT", "RiskCore"]

REASON_COUNT: int
NO_LIMIT: int

@final
class RiskCore:
    def __new__(cls, notional_decimals: int = 8) -> RiskCore: ...
    @property
    def notional_decimals(self) -> int: ...
    def set_instrument(
        self,
        index: int,
        *,
        price_decimals: int,
        size_decimals: int,
        venue: int = 0,
        tick: int = 1,
        lot: int = 1,
        min_size: int = 0,
        max_size: int | None = None,
        min_notional: int = 0,
        max_notional: int | None = None,
        max_position: int | None = None,
        band_ticks: int | None = None,
        band_bps: int | None = None,
        max_open_orders: int | None = None,
        self_trade_prevention: bool = True,
    ) -> None: ...
    def set_venue(
        self,
        venue: int,
        *,
        order_rate: int = 0,
        order_burst: int = 0,
        order_weight: int = 1,
        cancel_rate: int = 0,
        cancel_burst: int = 0,
        cancel_weight: int = 1,
        now_ns: int = 0,
    ) -> None: ...
    def set_global(
        self,
        *,
        max_gross: int | None = None,
        max_net: int | None = None,
        max_open_orders: int | None = None,
        max_daily_loss: int | None = None,
        max_errors: int | None = None,
        error_window_ns: int = 1_000_000_000,
        error_cooldown_ns: int = 60_000_000_000,
    ) -> None: ...
    def check(
        self, inst: int, side: int, price: int, qty: int, order_type: int = 0, now_ns: int = 0
    ) -> int: ...
    def check_cancel(self, venue: int, now_ns: int = 0) -> int: ...
    def check_batch(
        self,
        inst: npt.NDArray[np.int32],
        side: npt.NDArray[np.uint8],
        price: npt.NDArray[np.int64],
        qty: npt.NDArray[np.int64],
        order_type: npt.NDArray[np.uint8],
        reasons: npt.NDArray[np.uint8],
        now_ns: int = 0,
    ) -> int: ...
    def notional(self, inst: int, price: int, qty: int) -> int: ...
    def order_open(self, inst: int, side: int, price: int, qty: int) -> None: ...
    def order_reduce(
        self, inst: int, side: int, price: int, old_qty: int, new_qty: int, closed: bool = False
    ) -> None: ...
    def order_fill(
        self, inst: int, side: int, price: int, remaining: int, qty: int, counted: bool = True
    ) -> None: ...
    def order_replace(
        self, inst: int, side: int, old_price: int, old_qty: int, new_price: int, new_qty: int
    ) -> None: ...
    def set_best_own(self, inst: int, best_bid: int | None, best_ask: int | None) -> None: ...
    def set_position(self, inst: int, position: int) -> None: ...
    def add_position(self, inst: int, delta: int) -> None: ...
    def set_reference(self, inst: int, price: int) -> None: ...
    def set_pnl(self, realized: int, unrealized: int) -> None: ...
    def record_error(self, now_ns: int = 0) -> None: ...
    def reset_breaker(self) -> None: ...
    @property
    def state(self) -> int: ...
    @state.setter
    def state(self, value: int) -> None: ...
    @property
    def killed(self) -> bool: ...
    @killed.setter
    def killed(self, value: bool) -> None: ...
    def counts(self) -> list[int]: ...
    def reset_counts(self) -> None: ...
    def instrument_state(self, inst: int) -> dict[str, int | None]: ...
    def book_state(self) -> dict[str, int | bool]: ...
