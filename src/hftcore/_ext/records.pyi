from enum import IntEnum, IntFlag

import numpy as np

SIDE_BID: int
SIDE_ASK: int
SIDE_NONE: int
DELTA_SNAPSHOT: int
DELTA_CLEAR: int
DELTA_LAST: int
DELTA_CLEAR_SIDE: int
DELTA_REPUBLISH: int
TRADE_ID_TEXT: int
TRADE_SNAPSHOT: int
BBO_NO_SIZE: int
BBO_NO_BID: int
BBO_NO_ASK: int
ORDER_IS_FILL: int
ORDER_IS_MAKER: int
ORDER_HAS_FEE: int
ORDER_TRADE_ID_TEXT: int
ORDER_STATUS_UNKNOWN: int
ORDER_TYPE_UNKNOWN: int
SYMBOL_MAX_BYTES: int
NO_INSTRUMENT_ID: int

class DeltaFlag(IntFlag):
    SNAPSHOT = 1
    CLEAR = 2
    LAST = 4
    CLEAR_SIDE = 8
    REPUBLISH = 16

class TradeFlag(IntFlag):
    ID_TEXT = 1
    SNAPSHOT = 2

class BboFlag(IntFlag):
    NO_SIZE = 1
    NO_BID = 2
    NO_ASK = 4

class OrderFlag(IntFlag):
    IS_FILL = 1
    IS_MAKER = 2
    HAS_FEE = 4
    TRADE_ID_TEXT = 8

class SpanFlag(IntFlag):
    HAS_SEQ = 1
    HAS_CHECKSUM = 2
    SNAPSHOT = 8

class MessageKind(IntEnum):
    NONE = 0
    BOOK_SNAPSHOT = 1
    BOOK_UPDATE = 2
    TRADE = 3
    BBO = 4
    ORDER = 5
    UNKNOWN_SYMBOL = 6
    HEARTBEAT = 7
    SUBSCRIBED = 8
    VENUE_ERROR = 9
    STATUS = 10
    OTHER = 11
    @property
    def is_data(self) -> bool: ...

class DecodeErrorCode(IntEnum):
    TRUNCATED = 1
    SYNTAX = 2
    UTF8 = 3
    ESCAPE = 4
    DEPTH = 5
    TYPE = 6
    MISSING = 7
    EXTRA = 8
    NUMBER = 9
    PRECISION = 10
    SHAPE = 11
    CAPACITY = 12
    TOO_LONG = 13
    NEEDS_SYMBOL = 14
    TIME = 15
    COMPRESSED = 16

KIND_NAMES: tuple[str, ...]
ERROR_NAMES: tuple[str, ...]

class DecodeError(ValueError):
    message: str
    venue: str
    kind: str
    offset: int
    code: int
    def __init__(
        self, message: str, venue: str = "", kind: str = "", offset: int = -1, code: int = 0
    ) -> None: ...

BOOK_DELTA_DTYPE: np.dtype[np.void]
TRADE_DTYPE: np.dtype[np.void]
BBO_DTYPE: np.dtype[np.void]
ORDER_UPDATE_DTYPE: np.dtype[np.void]
BOOK_SPAN_DTYPE: np.dtype[np.void]
