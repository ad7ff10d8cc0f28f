"""hftcore: low-latency trading in Python with a compiled core.

Prices and sizes are ``int`` counts at an instrument's number of decimals (see ``hftcore.fixed``
and ``hftcore.Instrument``); the hot path is Cython over C structs.
"""

from __future__ import annotations

from hftcore import data, fixed
from hftcore._ext.book import CrossedBookError, L2Book, L3Book
from hftcore._ext.strategy import Strategy, Trade
from hftcore.backtest import BacktestResult, backtest
from hftcore.decoders import (
    BBO_DTYPE,
    BOOK_DELTA_DTYPE,
    BOOK_SPAN_DTYPE,
    ORDER_UPDATE_DTYPE,
    TRADE_DTYPE,
    BboFlag,
    BinanceDecoder,
    BinanceFuturesDecoder,
    BybitDecoder,
    CoinbaseDecoder,
    DecodeErrorCode,
    Decoder,
    DeltaFlag,
    KrakenDecoder,
    MessageKind,
    OkxDecoder,
    OrderFlag,
    SpanFlag,
    TradeFlag,
    decoder_for,
)
from hftcore.engine import Engine
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
from hftcore.sweep import sweep

__version__ = "0.1.0"

__all__ = [
    "BBO_DTYPE",
    "BOOK_DELTA_DTYPE",
    "BOOK_SPAN_DTYPE",
    "ORDER_UPDATE_DTYPE",
    "TRADE_DTYPE",
    "BacktestResult",
    "BboFlag",
    "BinanceDecoder",
    "BinanceFuturesDecoder",
    "BybitDecoder",
    "CoinbaseDecoder",
    "CrossedBookError",
    "DecodeError",
    "DecodeErrorCode",
    "Decoder",
    "DeltaFlag",
    "Engine",
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
    "OrderFlag",
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
    "SpanFlag",
    "Strategy",
    "TimeInForce",
    "Trade",
    "TradeFlag",
    "TradingState",
    "VenueOrder",
    "VenueRateLimit",
    "__version__",
    "backtest",
    "data",
    "decoder_for",
    "fixed",
    "sweep",
]
