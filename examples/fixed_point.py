"""Exact prices and sizes: parse wire text, compute a notional, format it back.

Run: ``python examples/fixed_point.py``
"""

from __future__ import annotations

from decimal import Decimal

import hftcore
from hftcore import fixed


def main() -> None:
    btc = hftcore.Instrument(
        "binance", "BTCUSDT", price_decimals=2, size_decimals=5,
        tick="0.01", lot="0.00001", base="BTC", quote="USDT", min_notional="5",
    )
    price = btc.price("50000.10")  # 5000010: an int count of 0.01
    size = btc.qty(Decimal("0.25"))  # 25000: an int count of 0.00001
    notional = btc.notional(price, size)  # price x size at the price's decimals, 128-bit exact
    print(f"price {price} -> {btc.format_price(price)} USDT")
    print(f"size  {size} -> {btc.format_qty(size, trim=True)} BTC")
    print(f"notional {notional} -> {btc.format_price(notional)} USDT")

    # wire text from any venue, including scientific notation, straight to int
    print("3.426e-5 at 8 decimals ->", fixed.parse("3.426e-5", 8))
    # too many digits is an error unless you say how to round
    try:
        fixed.parse("0.123", 2)
    except ValueError as exc:
        print("error:", exc)
    print("0.125 half_even at 2 ->", fixed.parse("0.125", 2, rounding="half_even"))
    # rescale, checked arithmetic, the checksum text form venues use
    print("rescale 5000010 from 2 to 1 decimals (down) ->", fixed.rescale(5000010, 2, 1, "down"))
    print("Kraken checksum text of 0.05000 ->", fixed.format_digits(5000, 5))
    try:
        fixed.add(2**63 - 1, 1)
    except OverflowError as exc:
        print("error:", exc)


if __name__ == "__main__":
    main()
