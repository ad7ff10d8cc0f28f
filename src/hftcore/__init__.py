"""hftcore: low-latency trading in Python with a compiled core.

Prices and sizes are ``int`` counts at an instrument's number of decimals (see ``hftcore.fixed``
and ``hftcore.Instrument``); the hot path is Cython over C structs.
"""

from __future__ import annotations

from hftcore import fixed
from hftcore._ext.book import CrossedBookError, L2Book, L3Book
from hftcore.decoders import (
    BinanceDecoder,
    BybitDecoder,
    CoinbaseDecoder,
    Decoder,
    KrakenDecoder,
    MessageKind,
    OkxDecoder,
    decoder_for,
)
from hftcore.errors import DecodeError
from hftcore.model import (
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from hftcore.orders import OrderError, OrderManager, VenueOrder
from hftcore.portfolio import FeeSchedule, Portfolio, Position
from hftcore.risk import (
    InstrumentLimits,
    Reason,
    RiskEngine,
    RiskLimits,
    RiskRejected,
    TradingState,
    VenueRateLimit,
)

__version__ = "0.1.0"

__all__ = [
    "BinanceDecoder",
    "BybitDecoder",
    "CoinbaseDecoder",
    "CrossedBookError",
    "DecodeError",
    "Decoder",
    "FeeSchedule",
    "Fill",
    "Instrument",
    "InstrumentLimits",
    "KrakenDecoder",
    "L2Book",
    "L3Book",
    "Liquidity",
    "MessageKind",
    "OkxDecoder",
    "Order",
    "OrderError",
    "OrderManager",
    "OrderStatus",
    "OrderType",
    "Portfolio",
    "Position",
    "Reason",
    "RiskEngine",
    "RiskLimits",
    "RiskRejected",
    "Side",
    "TimeInForce",
    "TradingState",
    "VenueOrder",
    "VenueRateLimit",
    "__version__",
    "decoder_for",
    "fixed",
]
