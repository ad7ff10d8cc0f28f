from typing import Any, final

__all__ = ["LATENCY_KINDS", "MSG_NAMES", "REJECT_NAMES", "SimCore"]

MSG_NEW: int
MSG_CANCEL: int
MSG_AMEND: int
RSP_ACK: int
RSP_REJECT: int
RSP_FILL: int
RSP_CANCELED: int
RSP_EXPIRED: int
RSP_REPLACED: int
RSP_CANCEL_REJECT: int
RSP_REPLACE_REJECT: int
MSG_TIMER: int
SIM_OK: int
SIM_POST_ONLY: int
SIM_UNKNOWN_ORDER: int
SIM_BAD_AMEND: int
SIM_NO_LIQUIDITY: int
SO_IOC: int
SO_FOK: int
SO_POST_ONLY: int
SO_MARKET: int
MSG_NAMES: dict[int, str]
REJECT_NAMES: dict[int, str]
LATENCY_KINDS: dict[str, int]

@final
class SimCore:
    n_fills: int
    n_maker_fills: int
    n_taker_fills: int
    n_rejects: int
    n_expired: int
    trade_seq: int
    def __init__(self, n_instruments: int, entry: Any = ..., response: Any = ...,
                 cancel: Any = None) -> None: ...
    def submit(self, handle: int, inst: int, side: int, price: int, size: int, flags: int,
               now: int) -> int: ...
    def cancel(self, handle: int, slot: int, now: int, inst: int = 0) -> None: ...
    def amend(self, handle: int, slot: int, price: int, size: int, now: int,
              inst: int = 0) -> None: ...
    def add_timer(self, timer_id: int, ts: int) -> None: ...
    @property
    def next_ts(self) -> int | None: ...
    @property
    def queued(self) -> int: ...
    def resting_orders(self) -> list[tuple[int, int, int, int, int, int, int]]: ...
    def set_feed_delay(self, inst: int, delay: int) -> None: ...
