"""hftcore: low-latency trading in Python with a compiled core.

Prices and sizes are ``int`` counts at an instrument's number of decimals (see ``hftcore.fixed``
and ``hftcore.Instrument``); the hot path is Cython over C structs.
"""

from __future__ import annotations

from hftcore import fixed
from hftcore._ext.book import L2Book, L3Book
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
from hftcore.model import Instrument, OrderStatus, OrderType, Side, TimeInForce

__version__ = "0.1.0"

__all__ = [
    "BinanceDecoder",
    "BybitDecoder",
    "CoinbaseDecoder",
    "DecodeError",
    "Decoder",
    "Instrument",
    "KrakenDecoder",
    "L2Book",
    "L3Book",
    "MessageKind",
    "OkxDecoder",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
    "__version__",
    "decoder_for",
    "fixed",
]
