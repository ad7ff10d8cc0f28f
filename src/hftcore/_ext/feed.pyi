from typing import Any, final

import numpy as np
import numpy.typing as npt

from hftcore._ext.decode import Decoder

__all__ = [
    "EVENT_DTYPE",
    "EVENT_LAST",
    "EV_CHECKSUM",
    "EV_DELTA",
    "EV_STATUS",
    "EV_TRADE",
    "STATE_NAMES",
    "SYNC_RULES",
    "Feed",
]

EVENT_DTYPE: np.dtype[np.void]
EV_DELTA: int
EV_TRADE: int
EV_STATUS: int
EV_CHECKSUM: int
EVENT_LAST: int
CHECKSUM_KRAKEN: int
CHECKSUM_OKX: int
CHECKSUM_BITFINEX: int
SYNC_RULES: dict[str, int]
STATE_NAMES: tuple[str, ...]

@final
class Feed:
    venue: str
    rule: int
    max_buffered: int
    messages: int
    decode_errors: int
    unknown_symbols: int
    dropped_buffered: int
    stale_dropped: int
    errors: list[str]
    strict: bool
    lines: int
    last_ts: int
    sent: list[bytes]
    conn_seq: int
    conn_gaps: int
    def __init__(self, decoder: Decoder, rule: str, n_instruments: int, *, strict: bool = False,
                 max_buffered: int = 100000) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview, recv_ts: int = 0) -> int: ...
    def feed_rest(self, url: str, data: bytes | bytearray | memoryview,
                  recv_ts: int = 0) -> int: ...
    def feed_text(self, data: bytes | bytearray | memoryview, jsonl: bool = False,
                  until_ts: int = ..., final: bool = False) -> tuple[int, int | None]: ...
    @property
    def n_events(self) -> int: ...
    def take(self) -> npt.NDArray[np.void]: ...
    def clear(self) -> None: ...
    def invalidate(self, index: int) -> None: ...
    def state(self, index: int) -> dict[str, Any]: ...
    @property
    def gaps(self) -> int: ...
    @property
    def decoder(self) -> Decoder: ...
